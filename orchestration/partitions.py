"""Daily partitions keyed by landing date (the `dt=` of the landing zone)."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from c360.settings import settings

# The first landing date a deployment has (C360_START_DATE; the generator's
# default start).

daily_partitions = DailyPartitionsDefinition(
    start_date=settings().start_date.isoformat(),
    # A landing date is processed once its day is over.
    end_offset=0,
)
