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
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from c360 import engine, landing_files
from c360.contract import TABLES, LandingTable
from c360.engine.dbapi import insert_many
from c360.settings import settings

RAW_SCHEMA = "raw"
LOAD_LOG = f"{RAW_SCHEMA}._landing_load_log"
# One row per landing file loaded (a file re-delivered with another size is
# loaded again, and logged again): what tells a file delivered late into a
# partition already loaded from one loaded before.
FILE_LOG = f"{RAW_SCHEMA}._landing_file_log"
# The quarantine of lines the loader could not read (bad quoting, a wrong
# number of fields, bytes not of the file's encoding): where, and why. The
# line itself stays in the landing file, for the source to correct.
REJECTS = f"{RAW_SCHEMA}._landing_rejects"
# One row per run date the whole pipeline (load, build, score, build) finished.
RUN_LOG = f"{RAW_SCHEMA}._pipeline_run_log"
# The stages of a run date finished so far (c360/pipeline.py, build_day): a
# run killed part-way resumes after them. Forgotten once the date finishes.
STAGE_LOG = f"{RAW_SCHEMA}._pipeline_stage_log"
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

# Write-audit-publish (docs/faults.md): dbt builds and tests the marts and
# snapshots in `<schema>__wap` (macros/generate_schema_name.sql; the dbt var
# write_audit_publish_schemas names the same schemas), and `publish` copies a
# day that passed every check to the schemas readers see, in one transaction.
PUBLISHED_SCHEMAS = ("marts", "snapshots")
WAP_SUFFIX = "__wap"

_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def _utc_now() -> dt.datetime:
    """Now, in UTC, as the warehouse's naive timestamps hold it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def warehouse_path(path: str | os.PathLike | None = None) -> Path:
    """The warehouse (DuckDB's file, Spark's directory): the argument, else the
    settings' (C360_WAREHOUSE, else the engine's default)."""
    return Path(path or settings().warehouse)


def connect(path: str | os.PathLike | None = None) -> engine.Connection:
    """A connection to the warehouse (the argument, else $C360_WAREHOUSE, else
    the default). A reader holding the file (a BI query: DuckDB lets a file
    have readers or one writer) is waited for, up to
    C360_WAREHOUSE_BUSY_WAIT_SECONDS; a second run never gets this far
    (c360.writer_lock)."""
    target = warehouse_path(path)
    deadline = time.monotonic() + settings().warehouse_busy_wait_seconds
    pause = 0.05
    while True:
        try:
            return engine.connect(
                target,
                memory_limit=settings().duckdb_memory_limit,
                temp_directory=settings().duckdb_temp_directory,
                threads=settings().duckdb_threads,
            )
        except engine.WarehouseBusy:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


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
    # What an operator should know of the delivery: lines quarantined, an
    # empty file, a legacy encoding, a file delivered again.
    notes: tuple[str, ...] = ()


class LandingError(ValueError):
    """A landing file the loader will not take: the message names the table,
    the file and the problem. Nothing of the file's partition is loaded."""

    def __init__(self, table: str, path: Path, problem: str) -> None:
        self.table, self.path, self.problem = table, path, problem
        super().__init__(f"landing table {table}, file {path}: {problem}")


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
        f"create table if not exists {FILE_LOG} (table_name varchar not null, dt date not null, "
        "file_name varchar not null, bytes bigint not null, rows bigint not null, "
        "rejected_lines bigint not null, loaded_at timestamp not null)"
    )
    con.execute(
        f"create table if not exists {REJECTS} (table_name varchar not null, dt date not null, "
        "source_file varchar not null, line bigint not null, problem varchar not null, "
        "loaded_at timestamp not null)"
    )
    con.execute(
        f"create table if not exists {RUN_LOG} (run_date date primary key, "
        "completed_at timestamp not null)"
    )
    con.execute(
        f"create table if not exists {STAGE_LOG} (run_date date not null, stage varchar not null, "
        "purge_id varchar not null, finished_at timestamp not null)"
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


@dataclass(frozen=True)
class _LoadedFile:
    rows: int
    rejected: list[tuple[int, str]]
    ignored: set[str]
    notes: list[str]


def _load_file(
    con: engine.Connection,
    table: LandingTable,
    path: Path,
    partition_dt: dt.date,
    loaded_at: dt.datetime,
) -> _LoadedFile:
    """Insert one landing file's rows into raw, or raise LandingError naming
    what is wrong with it."""
    expected = table.column_names
    if path.stat().st_size == 0:
        return _LoadedFile(0, [], set(), [f"{path.name}: empty file (0 bytes), no rows"])
    notes = []
    dialect = None
    if landing_files.is_csv(path):
        dialect = landing_files.csv_dialect(path, expected)
        if dialect is None:
            return _LoadedFile(0, [], set(), [f"{path.name}: empty file, no header, no rows"])
        present = list(dialect.columns)
        if dialect.encoding != landing_files.UTF8:
            notes.append(f"{path.name}: not UTF-8, read as {dialect.encoding}")
    else:
        try:
            present = engine.file_columns(con, path)
        except engine.FILE_READ_ERRORS as unreadable:
            raise LandingError(
                table.name,
                path,
                f"not a readable Parquet file (truncated or corrupt?): {_first_line(unreadable)}",
            ) from None
    reader = engine.reader_sql(path, dialect)
    missing_required = {table.key, "_op"} - set(present)
    if missing_required:
        raise LandingError(
            table.name,
            path,
            f"missing required column(s) {sorted(missing_required)}" + _found(present, dialect),
        )
    ignored = set(present) - set(expected)
    missing = [name for name in expected if name not in present]
    if missing and _has_upserts(con, reader):
        # An upsert is the record's full image: a column left out would
        # blank that attribute of every record the file carries.
        hint = f" (renamed? the file has unknown column(s) {sorted(ignored)})" if ignored else ""
        raise LandingError(
            table.name,
            path,
            f"missing contract column(s) {missing}{hint}; upserts (_op = 'U') carry the "
            "record's full image: deliver every column, empty where the source has no value",
        )
    select = ", ".join(
        f'cast("{name}" as varchar) as "{name}"' if name in present else f'null as "{name}"'
        for name in expected
    )
    try:
        rows = con.execute(
            f"insert into {RAW_SCHEMA}.{table.name} "
            f"select {select}, ?::date, ?, ?::timestamp from {reader}",
            [partition_dt, str(path), loaded_at],
        ).fetchall()[0][0]
    except engine.FILE_READ_ERRORS as unreadable:
        what = "CSV" if dialect else "Parquet"
        raise LandingError(
            table.name, path, f"cannot be read as {what}: {_first_line(unreadable)}"
        ) from None
    rejected = engine.read_rejects(con) if dialect else []
    if rejected:
        # An unterminated quote swallows the lines after it into one bad
        # value: count the file's lines, not the reader's rejects.
        lines = max(_data_lines(path), rows + len(rejected))
        unread = lines - rows
        first = f"line {rejected[0][0]}: {rejected[0][1]}"
        if unread / lines > settings().landing_max_rejected_share:
            raise LandingError(
                table.name,
                path,
                f"{unread} of {lines} lines cannot be read ({first}), more than the "
                f"{settings().landing_max_rejected_share:.0%} a file may set aside "
                "(C360_LANDING_MAX_REJECTED_SHARE): the file is malformed",
            )
        notes.append(
            f"{path.name}: {unread} line(s) cannot be read, quarantined in {REJECTS} ({first})"
        )
    return _LoadedFile(rows, rejected, ignored, notes)


def _data_lines(path: Path) -> int:
    """Lines after the header (a last line without a line end counts)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines - 1 + (last != b"\n")


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _found(present: list[str], dialect: landing_files.CsvDialect | None) -> str:
    shown = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "")
    found = f"; the header has: {shown}"
    if dialect is not None:
        found += f" (read with delimiter {dialect.delimiter!r})"
    return found


def _has_upserts(con: engine.Connection, reader: str) -> bool:
    upserts = con.execute(
        f"select count(*) from {reader} where coalesce(_op, '') <> 'D'"
    ).fetchall()[0][0]
    engine.read_rejects(con)
    return upserts > 0


def publish(con: engine.Connection) -> dict[str, int]:
    """Make what dbt built and tested in the write-audit-publish schemas what
    readers see: every table copied over in one transaction (on DuckDB; Spark
    has no transaction across tables: docs/faults.md), and a table no longer
    built dropped. A reader sees the last day published or this one, whole.
    The tables published, by schema."""
    published: dict[str, int] = {}
    with engine.transaction(con):
        for schema in PUBLISHED_SCHEMAS:
            built = engine.relation_names(con, schema + WAP_SUFFIX)
            if not built:
                continue
            con.execute(f"create schema if not exists {schema}")
            for name in built:
                con.execute(
                    f"create or replace table {schema}.{name} as "
                    f"select * from {schema}{WAP_SUFFIX}.{name}"
                )
            for name in set(engine.relation_names(con, schema)) - set(built):
                con.execute(f"drop table {schema}.{name}")
            published[schema] = len(built)
    return published


def adopt_published_tables(con: engine.Connection) -> None:
    """A warehouse from before write-audit-publish holds its marts and
    snapshots where readers read them: copy them where dbt now builds them,
    once, so incremental marts and snapshot history carry on."""
    for schema in PUBLISHED_SCHEMAS:
        if engine.relation_names(con, schema + WAP_SUFFIX):
            continue
        existing = engine.relation_names(con, schema)
        if not existing:
            continue
        with engine.transaction(con):
            con.execute(f"create schema if not exists {schema}{WAP_SUFFIX}")
            for name in existing:
                con.execute(
                    f"create table {schema}{WAP_SUFFIX}.{name} as select * from {schema}.{name}"
                )


def record_audit_event(
    con: engine.Connection,
    *,
    username: str,
    role: str,
    action: str,
    subject: str | None,
    detail: str | None,
) -> None:
    """A row of the app's audit trail (a login, a view of decoded PII, a decision)."""
    con.execute(
        f"insert into {AUDIT_LOG} values (?, ?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, _utc_now(), username, role, action, subject, detail],
    )


def record_steward_decision(
    con: engine.Connection,
    *,
    override_type: str,
    record_key_a: str,
    record_key_b: str,
    reason: str,
    username: str,
    role: str,
    review_item_id: str | None,
) -> None:
    """A steward's must-link or cannot-link and its audit row, together or not
    at all; the next run applies it (int_steward_overrides)."""
    table_a, _, id_a = record_key_a.partition(":")
    table_b, _, id_b = record_key_b.partition(":")
    with engine.transaction(con):
        con.execute(
            f"insert into {STEWARD_DECISIONS} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                uuid.uuid4().hex,
                override_type,
                table_a,
                id_a,
                table_b,
                id_b,
                reason,
                username,
                _utc_now(),
                review_item_id,
            ],
        )
        record_audit_event(
            con,
            username=username,
            role=role,
            action="decision",
            subject=review_item_id,
            detail=f"{override_type} {record_key_a} {record_key_b}: {reason}",
        )


def load_partition(
    con: engine.Connection,
    partition: LandingPartition,
    loaded_at: dt.datetime,
    *,
    logged_files: dict[str, set[int]] | None = None,
) -> LoadedPartition:
    """Load a partition's files not loaded yet (all of them, the first time),
    in one transaction with their log rows: all of it lands, or nothing.
    `logged_files`: the sizes each file was loaded at before."""
    table: LandingTable = TABLES[partition.table]
    logged_files = logged_files or {}
    ignored: set[str] = set()
    notes: list[str] = []
    rows = 0
    files = _files_to_load(partition, logged_files)
    with engine.transaction(con):
        for path in files:
            if path.name in logged_files:
                notes.append(f"{path.name}: delivered again with another size, loaded again")
            loaded = _load_file(con, table, path, partition.dt, loaded_at)
            rows += loaded.rows
            ignored |= loaded.ignored
            notes += loaded.notes
            insert_many(
                con,
                f"insert into {REJECTS} values (?, ?, ?, ?, ?, ?)",
                [
                    (partition.table, partition.dt, str(path), line, problem, loaded_at)
                    for line, problem in loaded.rejected
                ],
            )
            con.execute(
                f"insert into {FILE_LOG} values (?, ?, ?, ?, ?, ?, ?)",
                [
                    partition.table,
                    partition.dt,
                    path.name,
                    path.stat().st_size,
                    loaded.rows,
                    len(loaded.rejected),
                    loaded_at,
                ],
            )
        if logged_files:
            con.execute(
                f"update {LOAD_LOG} set files = files + ?, rows = rows + ?, loaded_at = ? "
                "where table_name = ? and dt = ?",
                [len(files), rows, loaded_at, partition.table, partition.dt],
            )
        else:
            con.execute(
                f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?)",
                [partition.table, partition.dt, len(files), rows, sorted(ignored), loaded_at],
            )
    if ignored:
        notes.insert(0, f"column(s) not in the contract, not loaded: {', '.join(sorted(ignored))}")
    return LoadedPartition(
        partition.table, partition.dt, rows, len(files), tuple(sorted(ignored)), tuple(notes)
    )


def _files_to_load(partition: LandingPartition, logged_files: dict[str, set[int]]) -> list[Path]:
    """A new partition's files; else those delivered since it was loaded (a
    new name, or a size it was never loaded at)."""
    if not logged_files:
        return list(partition.files)
    return [
        path
        for path in partition.files
        if path.stat().st_size not in logged_files.get(path.name, set())
    ]


def landing_file_rewritten(con: engine.Connection, table: str, path: Path) -> None:
    """A loaded landing file was rewritten in place (the privacy purge took
    erased records out of it): its new size is one it was loaded at, so the
    next run does not take it for a new delivery."""
    match = _PARTITION.match(path.parent.name)
    if match is None:
        return
    con.execute(
        f"insert into {FILE_LOG} select table_name, dt, file_name, ? as bytes, 0 as rows, "
        "0 as rejected_lines, max(loaded_at) as loaded_at "
        f"from {FILE_LOG} where table_name = ? and dt = ? and file_name = ? "
        "group by table_name, dt, file_name",
        [path.stat().st_size, table, dt.date.fromisoformat(match.group(1)), path.name],
    )


def loaded_partitions(con: engine.Connection) -> set[tuple[str, dt.date]]:
    return {(t, d) for t, d in con.execute(f"select table_name, dt from {LOAD_LOG}").fetchall()}


def logged_files(con: engine.Connection) -> dict[tuple[str, dt.date], dict[str, set[int]]]:
    """The sizes each landing file was loaded at, by partition."""
    found: dict[tuple[str, dt.date], dict[str, set[int]]] = {}
    for table, day, name, size in con.execute(
        f"select table_name, dt, file_name, bytes from {FILE_LOG}"
    ).fetchall():
        found.setdefault((table, day), {}).setdefault(name, set()).add(size)
    return found


def _unloaded_partitions(
    con: engine.Connection, landing: str | os.PathLike
) -> list[tuple[LandingPartition, dict[str, set[int]]]]:
    """The landing partitions with a file to load, each with what of it was
    loaded before. A partition loaded before the file log existed counts as
    loaded whole."""
    done = loaded_partitions(con)
    files = logged_files(con)
    pending = []
    for partition in discover_partitions(landing):
        key = (partition.table, partition.dt)
        if key not in done:
            pending.append((partition, {}))
        elif key in files and _files_to_load(partition, files[key]):
            pending.append((partition, files[key]))
    return pending


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
    dates = {partition.dt for partition, _ in _unloaded_partitions(con, landing)}
    dates |= {d for _, d in done if d not in completed and (last is None or d > last)}
    return sorted({max(d, last) if last else d for d in dates})


def record_run(con: engine.Connection, run_date: dt.date, *, full_refresh: bool = False) -> None:
    """The run date finished; a full refresh, if it was one, was what was asked."""
    with engine.transaction(con):
        con.execute(
            f"insert or replace into {RUN_LOG} values (?, ?)",
            [run_date, _utc_now()],
        )
        forget_stages(con, run_date)
    if full_refresh:
        con.execute(f"delete from {FULL_REFRESH_REQUESTS}")


def stages_finished(con: engine.Connection, run_date: dt.date) -> dict[str, str]:
    """The stages of the run date finished so far, in order, each with the
    day's purge id."""
    return dict(
        con.execute(
            f"select stage, purge_id from {STAGE_LOG} where run_date = ? order by finished_at",
            [run_date],
        ).fetchall()
    )


def record_stage(con: engine.Connection, run_date: dt.date, stage: str, purge_id: str) -> None:
    con.execute(
        f"insert into {STAGE_LOG} values (?, ?, ?, ?)",
        [run_date, stage, purge_id, _utc_now()],
    )


def forget_stages(con: engine.Connection, run_date: dt.date) -> None:
    con.execute(f"delete from {STAGE_LOG} where run_date = ?", [run_date])


def record_stage_timings(
    con: engine.Connection, run_date: dt.date, seconds: dict[str, float]
) -> None:
    """A run date's stage timings, in the order the stages ran, replacing
    those of an earlier run of it."""
    con.execute(f"delete from {STAGE_TIMINGS} where run_date = ?", [run_date])
    recorded_at = _utc_now()
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
        [_utc_now(), reason],
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
    loaded_at = loaded_at or _utc_now()
    results = []
    for partition, logged in _unloaded_partitions(con, landing):
        if through is not None and partition.dt > through:
            continue
        results.append(load_partition(con, partition, loaded_at, logged_files=logged))
        if progress is not None:
            progress(results[-1])
    return results
