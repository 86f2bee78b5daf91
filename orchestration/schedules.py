"""The daily refresh job and its schedule."""

from __future__ import annotations

from dagster import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from c360.settings import settings
from orchestration.assets import PARTITIONED
from orchestration.partitions import daily_partitions

# Two runs of the job must not share the warehouse (a backfill launches a
# run per date, and each date builds on the one before): the instance's run
# queue admits one run with this tag at a time when dagster.yaml says so
# (docs/orchestration.md, "Runs one at a time").
ONE_RUN_AT_A_TIME = {"c360/warehouse": "daily_refresh"}

daily_refresh = define_asset_job(
    "daily_refresh",
    selection=AssetSelection.assets(*PARTITIONED),
    partitions_def=daily_partitions,
    description="Load a landing date, build, score, cluster, assign ids and publish the marts.",
    tags=ONE_RUN_AT_A_TIME,
)


# Early each morning, the previous landing date (the last complete partition).
daily_refresh_schedule = build_schedule_from_partitioned_job(
    daily_refresh, hour_of_day=settings().schedule_hour, minute_of_hour=0
)
