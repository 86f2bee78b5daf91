"""The daily refresh job and its schedule."""

from __future__ import annotations

import os

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from orchestration.assets import PARTITIONED
from orchestration.partitions import daily_partitions

SCHEDULE_HOUR_ENV = "C360_SCHEDULE_HOUR"
DEFAULT_SCHEDULE_HOUR = 5

daily_refresh = define_asset_job(
    "daily_refresh",
    selection=AssetSelection.assets(*PARTITIONED),
    partitions_def=daily_partitions,
    description="Load a landing date, build, score, cluster, assign ids and publish the marts.",
)


def schedule_hour() -> int:
    hour = int(os.environ.get(SCHEDULE_HOUR_ENV, DEFAULT_SCHEDULE_HOUR))
    if not 0 <= hour <= 23:
        raise ValueError(f"{SCHEDULE_HOUR_ENV} must be an hour of the day (0-23), not {hour}")
    return hour


# Early each morning, the previous landing date (the last complete partition).
daily_refresh_schedule = build_schedule_from_partitioned_job(
    daily_refresh, hour_of_day=schedule_hour(), minute_of_hour=0
)
