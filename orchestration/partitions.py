"""Daily partitions keyed by landing date (the `dt=` of the landing zone)."""

from __future__ import annotations

import os

from dagster import DailyPartitionsDefinition

# The first landing date a deployment has; the generator's default start.
START_DATE_ENV = "C360_START_DATE"
DEFAULT_START_DATE = "2025-01-01"

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get(START_DATE_ENV, DEFAULT_START_DATE),
    # A landing date is processed once its day is over.
    end_offset=0,
)
