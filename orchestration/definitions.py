"""The one Definitions of the platform: `dagster dev -m orchestration.definitions`."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster import Definitions
from dagster_dbt import DbtCliResource

from orchestration.assets import ALL_ASSETS, C360Settings
from orchestration.checks import mart_freshness_checks
from orchestration.project import dbt_project
from orchestration.schedules import daily_refresh, daily_refresh_schedule

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=mart_freshness_checks,
    jobs=[daily_refresh],
    schedules=[daily_refresh_schedule],
    resources={
        # The dbt of this environment, whether or not its bin/ is on PATH.
        "dbt": DbtCliResource(
            project_dir=dbt_project(), dbt_executable=str(Path(sys.executable).parent / "dbt")
        ),
        "c360": C360Settings(),
    },
)
