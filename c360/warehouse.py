"""The engine seam: everything that knows the warehouse is DuckDB.

The rest of the pipeline asks this module for a connection and for the landing
zone to be loaded into raw tables. A Spark deployment replaces this module
(reading the same landing layout into the same raw tables), not the pipeline.

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

import duckdb

from c360.contract import TABLES, LandingTable

RAW_SCHEMA = "raw"
LOAD_LOG = f"{RAW_SCHEMA}._landing_load_log"
# One row per run date the whole pipeline (load, build, score, build) finished.
RUN_LOG = f"{RAW_SCHEMA}._pipeline_run_log"
# A full refresh the next run date must do (a key rotation re-tokenizes every
# record; incremental models would only re-tokenize those that change).
FULL_REFRESH_REQUESTS = f"{RAW_SCHEMA}._pipeline_full_refresh_requests"
# The digest of each seed file the warehouse was last loaded with.
SEED_DIGESTS = f"{RAW_SCHEMA}._pipeline_seed_digests"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
WAREHOUSE_ENV = "C360_WAREHOUSE"

_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def warehouse_path(path: str | os.PathLike | None = None) -> Path:
    """The warehouse file: the argument, else $C360_WAREHOUSE, else the default."""
    return Path(path or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)


# DuckDB takes 80% of RAM by default and fails when a join outgrows it: a
# limit and a spill directory let day 0 of millions of records spill instead.
# dbt's connections read the same variables (profiles.yml).
MEMORY_LIMIT_ENV = "C360_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "12GB"
TEMP_DIRECTORY_ENV = "C360_DUCKDB_TEMP_DIRECTORY"


def checkpoint(con) -> None:
    """Write what a run date committed from the write-ahead log into the
    database file before the date counts as finished: the day's measured
    cost includes it, rather than the next process's first connection."""
    con.execute("checkpoint")


def relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def connect(path: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    target = warehouse_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    con.execute("set memory_limit = ?", [os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT])
    con.execute(
        "set temp_directory = ?",
        [os.environ.get(TEMP_DIRECTORY_ENV) or f"{target}.tmp"],
    )
    register_functions(con)
    return con


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The project's SQL functions that SQL cannot express, on this connection
    (and the cursors it hands out). A model or view calling one is readable
    only through a connection that has them: this module's, or dbt's
    (c360.dbt_plugin)."""
    from duckdb import sqltypes

    from c360 import phones

    # Connections of one process to one file share a database instance, and
    # a function registered by one is there for all: register it once.
    registered = con.execute(
        "select count(*) from duckdb_functions() where function_name = ?", [phones.SQL_FUNCTION]
    ).fetchall()[0][0]
    if registered:
        return
    con.create_function(
        phones.SQL_FUNCTION,
        phones.e164_arrow,
        [sqltypes.VARCHAR, sqltypes.VARCHAR],
        sqltypes.VARCHAR,
        type="arrow",
        # An invalid number is null: DEFAULT handling would reject the UDF's nulls.
        null_handling="special",
        side_effects=False,
    )


def bind_hmac_pads(con: duckdb.DuckDBPyConnection, pads: str, key: bytes) -> None:
    """Bind a key's HMAC pads to this connection's session variables
    `<pads>_ipad` / `<pads>_opad`, as parameters: SQL computes HMACs with
    tokenization.hmac_sha256_sql and never holds the key in its text."""
    from c360.tokenization import hmac_pads

    for suffix, pad in zip(("ipad", "opad"), hmac_pads(key), strict=True):
        con.execute(f"set variable {pads}_{suffix} = ?", [pad])


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


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
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
    # The privacy intake's state, which dbt reads as a source: it exists
    # before the first build even when no request ever came.
    from c360 import privacy

    privacy.ensure_tables(con)


def _file_columns(con: duckdb.DuckDBPyConnection, reader: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe select * from {reader}").fetchall()]


def reader_sql(path: Path) -> str:
    """A DuckDB table function reading one landing file as the loader reads it."""
    quoted = str(path).replace("'", "''")
    if path.suffix.lower() == ".csv":
        # all_varchar: the contract says strings unless typed, and typing is
        # staging's job. An empty field stays an empty string (CSV has no
        # null; sources send '' for unknowns); `\N` is the explicit null.
        return (
            f"read_csv('{quoted}', header=true, all_varchar=true, nullstr='\\N', "
            "allow_quoted_nulls=false, hive_partitioning=false)"
        )
    return f"read_parquet('{quoted}', hive_partitioning=false)"


def load_partition(
    con: duckdb.DuckDBPyConnection, partition: LandingPartition, loaded_at: dt.datetime
) -> LoadedPartition:
    table: LandingTable = TABLES[partition.table]
    expected = table.column_names
    ignored: set[str] = set()
    rows = 0
    con.execute("begin transaction")
    try:
        for path in partition.files:
            reader = reader_sql(path)
            present = _file_columns(con, reader)
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
                f"select {select}, ?::date, ?, ?::timestamp from {reader}",
                [partition.dt, str(path), loaded_at],
            ).fetchall()[0][0]
            rows += count
        con.execute(
            f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?)",
            [partition.table, partition.dt, len(partition.files), rows, sorted(ignored), loaded_at],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LoadedPartition(
        partition.table, partition.dt, rows, len(partition.files), tuple(sorted(ignored))
    )


def loaded_partitions(con: duckdb.DuckDBPyConnection) -> set[tuple[str, dt.date]]:
    return {(t, d) for t, d in con.execute(f"select table_name, dt from {LOAD_LOG}").fetchall()}


def pending_run_dates(con: duckdb.DuckDBPyConnection, landing: str | os.PathLike) -> list[dt.date]:
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


def record_run(
    con: duckdb.DuckDBPyConnection, run_date: dt.date, *, full_refresh: bool = False
) -> None:
    """The run date finished; a full refresh, if it was one, was what was asked."""
    con.execute(
        f"insert or replace into {RUN_LOG} values (?, ?)",
        [run_date, dt.datetime.now(dt.UTC).replace(tzinfo=None)],
    )
    if full_refresh:
        con.execute(f"delete from {FULL_REFRESH_REQUESTS}")


def request_full_refresh(con: duckdb.DuckDBPyConnection, reason: str) -> None:
    ensure_raw_tables(con)
    con.execute(
        f"insert into {FULL_REFRESH_REQUESTS} values (?, ?)",
        [dt.datetime.now(dt.UTC).replace(tzinfo=None), reason],
    )


def seed_digests(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    ensure_raw_tables(con)
    return dict(con.execute(f"select seed, digest from {SEED_DIGESTS}").fetchall())


def record_seed_digests(con: duckdb.DuckDBPyConnection, digests: dict[str, str]) -> None:
    con.execute(f"delete from {SEED_DIGESTS}")
    if digests:
        con.executemany(f"insert into {SEED_DIGESTS} values (?, ?)", list(digests.items()))


def full_refresh_requested(con: duckdb.DuckDBPyConnection) -> bool:
    ensure_raw_tables(con)
    return con.execute(f"select count(*) from {FULL_REFRESH_REQUESTS}").fetchall()[0][0] > 0


def load_landing(
    con: duckdb.DuckDBPyConnection,
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
