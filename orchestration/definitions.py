"""The one Definitions of the platform: `dagster dev -m orchestration.definitions`."""

from __future__ import annotations

from dagster import Definitions

from orchestration.assets import ALL_ASSETS, C360Settings
from orchestration.checks import mart_freshness_checks
from orchestration.project import dbt_resource
from orchestration.schedules import daily_refresh, daily_refresh_schedule

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=mart_freshness_checks,
    jobs=[daily_refresh],
    schedules=[daily_refresh_schedule],
    resources={
        "dbt": dbt_resource(),
        "c360": C360Settings(),
    },
)
