"""The Dagster definitions on Spark (C360_ENGINE=spark): a daily partition
materialized on a tiny generated landing zone publishes the marts, and
dbt's tests run as asset checks, with dbt in the step's process.

The partition is materialized in a child process of its own, as a run
worker would: a process's Spark session serves one warehouse, and another
module of the same pytest worker (tests/spark) may hold one.

It needs pyspark and Java 17; without them it fails, saying what to
install, rather than skip (as tests/spark does)."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate

INSTALL = (
    "the Spark tests need pyspark and Java 17: "
    "`pip install -e '.[spark]'` and `apt-get install openjdk-17-jre-headless`"
)
PARTITION = "2025-01-01"


def _require_spark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as missing:
        pytest.fail(f"{INSTALL} ({missing})", pytrace=False)
    if not shutil.which("java"):
        pytest.fail(f"{INSTALL} (no `java` on PATH)", pytrace=False)


def materialize_day(landing: str, warehouse: str, partition: str) -> dict:
    """In the child: the daily job's assets for one partition, in process, as
    the Spark deployment runs them (in_process_executor); what it did."""
    from dagster import DagsterInstance, materialize

    from c360 import pipeline
    from orchestration.assets import PARTITIONED, C360Settings
    from orchestration.definitions import defs

    instance = DagsterInstance.ephemeral()
    clock = time.perf_counter()
    result = materialize(
        PARTITIONED,
        partition_key=partition,
        resources={
            "dbt": defs.resources["dbt"],
            "c360": C360Settings(landing=landing, warehouse=warehouse),
        },
        instance=instance,
        raise_on_error=False,
    )
    seconds = round(time.perf_counter() - clock, 1)
    steps = {
        stats.step_key: round(stats.end_time - stats.start_time, 1)
        for stats in instance.get_run_step_stats(result.run_id)
        if stats.start_time and stats.end_time
    }
    failures = {
        e.step_key: str(e.step_failure_data.error.message if e.step_failure_data.error else "")
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    }
    checks = [
        (
            e.asset_check_evaluation_data.asset_key.to_user_string(),
            e.asset_check_evaluation_data.check_name,
            e.asset_check_evaluation_data.passed,
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    materialized = sorted(
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    )
    marts = pipeline.row_counts("marts", warehouse) if result.success else {}
    return {
        "success": result.success,
        "seconds": seconds,
        "steps": steps,
        "failures": failures,
        "checks": checks,
        "materialized": materialized,
        "marts": marts,
    }


def test_a_daily_partition_on_spark_publishes_the_marts_with_dbt_tests_as_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require_spark()
    generate(GeneratorConfig(customers=60, days=0, seed=4, chunk_size=60), tmp_path, progress=False)
    monkeypatch.setenv("C360_ENGINE", "spark")
    # The Spark target's manifest and partial parse apart from DuckDB's.
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    warehouse = tmp_path / "warehouse.spark"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
        day = child.submit(
            materialize_day, str(tmp_path / "landing"), str(warehouse), PARTITION
        ).result()
    print(f"Spark, partition {PARTITION}: {day['seconds']} s; steps: {day['steps']}")
    assert day["failures"] == {}, day["failures"]
    assert day["success"]
    # Every asset of the job materialized, dbt's among them.
    for key in (
        "raw/ecommerce_customers",
        "vault/vault_identity_pii",
        "marts/dim_customer",
        "matching/splink_match_pairs",
        "reports/daily_run",
    ):
        assert key in day["materialized"], key
    # dbt's tests ran as asset checks, upstream and on the marts, and passed.
    checked = {asset for asset, _, _ in day["checks"]}
    assert {"staging/stg_ecommerce__customers", "marts/dim_customer"} <= checked
    assert [c for c in day["checks"] if not c[2]] == []
    assert day["marts"]["dim_customer"] > 0
    assert day["marts"]["customer_source_xref"] > 0
