"""The one Definitions of the platform: `dagster dev -m orchestration.definitions`."""

from __future__ import annotations

from dagster import Definitions, in_process_executor, multiprocess_executor

from c360.settings import settings
from orchestration.assets import ALL_ASSETS, C360Settings
from orchestration.checks import mart_freshness_checks
from orchestration.project import dbt_resource
from orchestration.schedules import daily_refresh, daily_refresh_schedule


def executor_for(engine: str):
    """How a run executes its steps. DuckDB: a process per step (the default);
    the daily job's steps form one chain, so they run one after another. Spark:
    every step in the run's one process, one after another: one Spark session
    (one JVM, one hold on the warehouse's Derby metastore) for the whole run,
    which a process per step would start again for each step while the last
    one's JVM may still hold the metastore."""
    return in_process_executor if engine == "spark" else multiprocess_executor


defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=mart_freshness_checks,
    jobs=[daily_refresh],
    schedules=[daily_refresh_schedule],
    # Ad hoc materializations from the UI too, not only the daily job.
    executor=executor_for(settings().engine),
    resources={
        "dbt": dbt_resource(),
        "c360": C360Settings(),
    },
)
