"""The warehouse's own state and the loader: landing zone -> raw tables.

Everything that knows the engine is behind c360.engine (DuckDB, or Spark with
C360_ENGINE=spark); this module holds what any engine's warehouse holds: the
raw tables, the load and run logs, and which run dates are pending.

Raw tables are append-only: one row per delivered landing row, every contract
column kept as the text that arrived (casting, and quarantining what does not
cast, is staging's job), plus load metadata:

    _dt           the landing partition date
    _source_file  the file the row came from
    _loaded_at    when this load ran
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from c360 import engine
from c360.contract import TABLES, LandingTable
from c360.engine.dbapi import insert_many
from c360.settings import settings

RAW_SCHEMA = "raw"
LOAD_LOG = f"{RAW_SCHEMA}._landing_load_log"
# One row per run date the whole pipeline (load, build, score, build) finished.
RUN_LOG = f"{RAW_SCHEMA}._pipeline_run_log"
# A full refresh the next run date must do (a key rotation re-tokenizes every
# record; incremental models would only re-tokenize those that change).
FULL_REFRESH_REQUESTS = f"{RAW_SCHEMA}._pipeline_full_refresh_requests"
# The digest of each seed file the warehouse was last loaded with.
SEED_DIGESTS = f"{RAW_SCHEMA}._pipeline_seed_digests"
# Wall-clock seconds of each stage of each run date (the app's run dashboard).
STAGE_TIMINGS = f"{RAW_SCHEMA}._pipeline_stage_timings"

# What people decide and see in the Customer 360 app (c360/app): stewards'
# must-link and cannot-link decisions, which dbt reads beside the versioned
# seed (int_steward_overrides), and the audit trail of every decision and
# every view of decoded PII.
STEWARDSHIP_SCHEMA = "stewardship"
STEWARD_DECISIONS = f"{STEWARDSHIP_SCHEMA}.steward_decisions"
AUDIT_LOG = f"{STEWARDSHIP_SCHEMA}.audit_log"

_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def warehouse_path(path: str | os.PathLike | None = None) -> Path:
    """The warehouse (DuckDB's file, Spark's directory): the argument, else the
    settings' (C360_WAREHOUSE, else the engine's default)."""
    return Path(path or settings().warehouse)


def connect(path: str | os.PathLike | None = None) -> engine.Connection:
    """A connection to the warehouse (the argument, else $C360_WAREHOUSE, else
    the default)."""
    target = warehouse_path(path)
    return engine.connect(
        target,
        memory_limit=settings().duckdb_memory_limit,
        temp_directory=settings().duckdb_temp_directory,
    )


def connect_for_reading(path: str | os.PathLike | None = None) -> engine.Connection:
    """A connection that only reads (evaluation, reports): read-only unless this
    process already holds the warehouse open for writing."""
    return engine.connect_for_reading(
        warehouse_path(path), memory_limit=settings().duckdb_memory_limit
    )


def connect_for_analysis(path: str | os.PathLike | None = None):
    """A DuckDB connection that reads the warehouse, whichever engine keeps
    it. Analyses over the marts and the truth files (c360 evaluate) are
    DuckDB SQL: a Spark warehouse's tables are Parquet files, which DuckDB
    reads where they lie, as views of the same schema and name."""
    target = warehouse_path(path)
    if settings().engine == "duckdb":
        return connect_for_reading(target)
    return engine.backend("duckdb").connect_to_parquet_tables(
        engine.table_files(target), memory_limit=settings().duckdb_memory_limit
    )


@dataclass(frozen=True)
class LandingPartition:
    table: str
    dt: dt.date
    files: tuple[Path, ...]


@dataclass(frozen=True)
class LoadedPartition:
    table: str
    dt: dt.date
    rows: int
    files: int
    ignored_columns: tuple[str, ...]


def discover_partitions(landing: str | os.PathLike) -> list[LandingPartition]:
    """Every `<table>/dt=YYYY-MM-DD/` partition with at least one data file.

    Unknown table folders raise: a misspelt source would otherwise be silently
    never loaded.
    """
    root = Path(landing)
    if not root.is_dir():
        raise FileNotFoundError(f"landing directory not found: {root}")
    partitions = []
    for table_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if table_dir.name.startswith((".", "_")):
            continue
        if table_dir.name not in TABLES:
            raise ValueError(
                f"landing folder {table_dir} is not a contract table; "
                f"expected one of {sorted(TABLES)}"
            )
        for part_dir in sorted(p for p in table_dir.iterdir() if p.is_dir()):
            match = _PARTITION.match(part_dir.name)
            if not match:
                raise ValueError(f"landing partition {part_dir} is not named dt=YYYY-MM-DD")
            files = tuple(
                sorted(f for f in part_dir.iterdir() if f.suffix.lower() in (".parquet", ".csv"))
            )
            if files:
                partitions.append(
                    LandingPartition(table_dir.name, dt.date.fromisoformat(match.group(1)), files)
                )
    return sorted(partitions, key=lambda p: (p.dt, p.table))


def ensure_raw_tables(con: engine.Connection) -> None:
    """Create every contract table in raw, so an absent source is an empty table."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for table in TABLES.values():
        cols = ", ".join(f'"{name}" varchar' for name in table.column_names)
        con.execute(
            f"create table if not exists {RAW_SCHEMA}.{table.name} ({cols}, "
            "_dt date not null, _source_file varchar not null, _loaded_at timestamp not null)"
        )
    con.execute(
        f"create table if not exists {LOAD_LOG} (table_name varchar not null, dt date not null, "
        "files integer not null, rows bigint not null, ignored_columns varchar[], "
        "loaded_at timestamp not null, primary key (table_name, dt))"
    )
    con.execute(
        f"create table if not exists {RUN_LOG} (run_date date primary key, "
        "completed_at timestamp not null)"
    )
    con.execute(
        f"create table if not exists {FULL_REFRESH_REQUESTS} "
        "(requested_at timestamp not null, reason varchar not null)"
    )
    con.execute(
        f"create table if not exists {SEED_DIGESTS} "
        "(seed varchar primary key, digest varchar not null)"
    )
    con.execute(
        f"create table if not exists {STAGE_TIMINGS} (run_date date not null, "
        "stage_position integer not null, stage varchar not null, seconds double not null, "
        "recorded_at timestamp not null)"
    )
    ensure_stewardship_tables(con)


def ensure_stewardship_tables(con: engine.Connection) -> None:
    """The app's decisions and audit trail: they exist on every warehouse, so
    dbt's source is there before any decision is."""
    con.execute(f"create schema if not exists {STEWARDSHIP_SCHEMA}")
    con.execute(
        f"create table if not exists {STEWARD_DECISIONS} (decision_id varchar not null, "
        "override_type varchar not null, source_table_a varchar not null, "
        "source_record_id_a varchar not null, source_table_b varchar not null, "
        "source_record_id_b varchar not null, reason varchar not null, "
        "decided_by varchar not null, decided_at timestamp not null, review_item_id varchar)"
    )
    con.execute(
        f"create table if not exists {AUDIT_LOG} (event_id varchar not null, "
        "occurred_at timestamp not null, username varchar not null, user_role varchar not null, "
        "action varchar not null, subject varchar, detail varchar)"
    )


def load_partition(
    con: engine.Connection, partition: LandingPartition, loaded_at: dt.datetime
) -> LoadedPartition:
    table: LandingTable = TABLES[partition.table]
    expected = table.column_names
    ignored: set[str] = set()
    rows = 0
    with engine.transaction(con):
        for path in partition.files:
            present = engine.file_columns(con, path)
            missing_required = {table.key, "_op"} - set(present)
            if missing_required:
                raise ValueError(f"{path}: missing required column(s) {sorted(missing_required)}")
            ignored.update(set(present) - set(expected))
            select = ", ".join(
                f'cast("{name}" as varchar) as "{name}"' if name in present else f'null as "{name}"'
                for name in expected
            )
            count = con.execute(
                f"insert into {RAW_SCHEMA}.{table.name} "
                f"select {select}, ?::date, ?, ?::timestamp from {engine.reader_sql(path)}",
                [partition.dt, str(path), loaded_at],
            ).fetchall()[0][0]
            rows += count
        con.execute(
            f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?)",
            [partition.table, partition.dt, len(partition.files), rows, sorted(ignored), loaded_at],
        )
    return LoadedPartition(
        partition.table, partition.dt, rows, len(partition.files), tuple(sorted(ignored))
    )


def loaded_partitions(con: engine.Connection) -> set[tuple[str, dt.date]]:
    return {(t, d) for t, d in con.execute(f"select table_name, dt from {LOAD_LOG}").fetchall()}


def pending_run_dates(con: engine.Connection, landing: str | os.PathLike) -> list[dt.date]:
    """The run dates still to process, oldest first.

    A date is pending when a partition of it is not loaded yet, or is loaded
    but its run never finished (a crash between load and build). A partition
    that arrives late, for a date before the last finished run, is processed
    by re-running that last date: history is never rewritten backwards.
    """
    ensure_raw_tables(con)
    done = loaded_partitions(con)
    completed = {r[0] for r in con.execute(f"select run_date from {RUN_LOG}").fetchall()}
    last = max(completed) if completed else None
    dates = {p.dt for p in discover_partitions(landing) if (p.table, p.dt) not in done}
    dates |= {d for _, d in done if d not in completed and (last is None or d > last)}
    return sorted({max(d, last) if last else d for d in dates})


def record_run(con: engine.Connection, run_date: dt.date, *, full_refresh: bool = False) -> None:
    """The run date finished; a full refresh, if it was one, was what was asked."""
    con.execute(
        f"insert or replace into {RUN_LOG} values (?, ?)",
        [run_date, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )
    if full_refresh:
        con.execute(f"delete from {FULL_REFRESH_REQUESTS}")


def record_stage_timings(
    con: engine.Connection, run_date: dt.date, seconds: dict[str, float]
) -> None:
    """A run date's stage timings, in the order the stages ran, replacing
    those of an earlier run of it."""
    con.execute(f"delete from {STAGE_TIMINGS} where run_date = ?", [run_date])
    recorded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    insert_many(
        con,
        f"insert into {STAGE_TIMINGS} values (?, ?, ?, ?, ?)",
        [
            (run_date, position, stage, float(s), recorded_at)
            for position, (stage, s) in enumerate(seconds.items())
        ],
    )


def request_full_refresh(con: engine.Connection, reason: str) -> None:
    ensure_raw_tables(con)
    con.execute(
        f"insert into {FULL_REFRESH_REQUESTS} values (?, ?)",
        [dt.datetime.now(dt.UTC).replace(tzinfo=None), reason],
    )


def seed_digests(con: engine.Connection) -> dict[str, str]:
    ensure_raw_tables(con)
    return dict(con.execute(f"select seed, digest from {SEED_DIGESTS}").fetchall())


def record_seed_digests(con: engine.Connection, digests: dict[str, str]) -> None:
    con.execute(f"delete from {SEED_DIGESTS}")
    if digests:
        con.executemany(f"insert into {SEED_DIGESTS} values (?, ?)", list(digests.items()))


def full_refresh_requested(con: engine.Connection) -> bool:
    ensure_raw_tables(con)
    return con.execute(f"select count(*) from {FULL_REFRESH_REQUESTS}").fetchall()[0][0] > 0


def load_landing(
    con: engine.Connection,
    landing: str | os.PathLike,
    loaded_at: dt.datetime | None = None,
    *,
    through: dt.date | None = None,
    progress: Callable[[LoadedPartition], None] | None = None,
) -> list[LoadedPartition]:
    """Load every landing partition not loaded before, oldest date first.

    Each partition loads in its own transaction and is recorded in the load
    log, so a crash midway leaves whole partitions only and a rerun continues
    where it stopped; a rerun with nothing new loads nothing. `through`: only
    partitions dated on or before it (one run date at a time). `progress` is
    told of each partition as it is loaded.
    """
    ensure_raw_tables(con)
    done = loaded_partitions(con)
    loaded_at = loaded_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    results = []
    for partition in discover_partitions(landing):
        if (partition.table, partition.dt) in done:
            continue
        if through is not None and partition.dt > through:
            continue
        results.append(load_partition(con, partition, loaded_at))
        if progress is not None:
            progress(results[-1])
    return results
