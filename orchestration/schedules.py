"""The daily refresh job and its schedule."""

from __future__ import annotations

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from c360.settings import settings
from orchestration.assets import PARTITIONED
from orchestration.partitions import daily_partitions

daily_refresh = define_asset_job(
    "daily_refresh",
    selection=AssetSelection.assets(*PARTITIONED),
    partitions_def=daily_partitions,
    description="Load a landing date, build, score, cluster, assign ids and publish the marts.",
)


# Early each morning, the previous landing date (the last complete partition).
daily_refresh_schedule = build_schedule_from_partitioned_job(
    daily_refresh, hour_of_day=settings().schedule_hour, minute_of_hour=0
)
