"""One way to run dbt: `c360 run` and the Dagster assets build the same
selectors of selectors.yml with the same command and vars, and nothing is
passed through the process's environment."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import yaml

from c360 import dbt

ROOT = Path(__file__).resolve().parents[2]


def test_the_phases_are_the_selectors_of_selectors_yml() -> None:
    selectors = yaml.safe_load((ROOT / "selectors.yml").read_text())["selectors"]
    assert [s["name"] for s in selectors] == [dbt.SEEDS, *dbt.PHASES]


def test_a_phase_is_one_command_with_its_selector_and_vars() -> None:
    environment = dict(os.environ)
    invocation = dbt.phase_invocation(
        "after_scoring", "/w/h.duckdb", run_date=dt.date(2025, 1, 3), full_refresh=True
    )
    args = invocation.args()
    assert args[: len(dbt.DAILY_BUILD)] == dbt.DAILY_BUILD
    assert "--full-refresh" in args
    assert args[args.index("--selector") + 1] == "after_scoring"
    assert json.loads(args[args.index("--vars") + 1]) == {
        "run_date": "2025-01-03",
        "warehouse_path": "/w/h.duckdb",
    }
    # Dagster names the selector itself (and may narrow it to a subset).
    assert invocation.args(with_selector=False) == args[: args.index("--selector")]
    assert dict(os.environ) == environment


def test_the_dagster_assets_build_the_same_selectors() -> None:
    from orchestration import assets

    for phase in dbt.PHASES:
        definition = getattr(assets, phase)
        assert definition.op.tags["dagster_dbt/selector"] == phase
