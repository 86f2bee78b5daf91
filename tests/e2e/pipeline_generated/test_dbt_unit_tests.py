"""The dbt project's unit tests, against the built warehouse."""

from __future__ import annotations


def test_dbt_unit_tests_pass(warehouse) -> None:
    """Daily runs leave the unit tests (checks of the code, not of the day's
    data) out; here they run against the built warehouse."""
    from c360.dbt import run_dbt

    path, _ = warehouse
    results = run_dbt(["test", "--select", "test_type:unit", "--quiet"], warehouse=path)
    assert len(results) > 20
