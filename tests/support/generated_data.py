"""DuckDB relations over a generated data set (c360.tools.generator): its landing
zone and its truth files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def landing_view(out: Path, table: str) -> str:
    """A DuckDB relation over every partition of a landing table, with dt."""
    return (
        f"read_parquet('{out}/landing/{table}/*/*.parquet', hive_partitioning=true, "
        "union_by_name=true)"
    )


def truth(out: Path, name: str) -> str:
    return f"read_parquet('{out}/truth/{name}.parquet')"


# The data set of tests/e2e/daily_lifecycle (its conftest.py generates and runs
# it): day 0, then this many days of changes, from this date.
DAILY_DAYS = 10
DAILY_START = dt.date(2025, 1, 1)
