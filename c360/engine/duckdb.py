"""The DuckDB engine: the only module that imports duckdb.

A connection is a `duckdb.DuckDBPyConnection`; the layers above use its
DB-API calls only (`execute(sql, params).fetchall()`, `.description`,
`executemany`, `close`), through `rows`, `scalar` and `insert_many` where
they can. Never `fetchone()`: on a connection shared with Splink it leaves
an open result that fails Splink's next query.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from c360.engine import dbapi
from c360.landing_files import CsvDialect

NAME = "duckdb"
# The dialect Splink and sqlglot write this engine's SQL in.
SQL_DIALECT = "duckdb"

Connection = duckdb.DuckDBPyConnection


class WarehouseBusy(RuntimeError):
    """Another connection holds the warehouse file in a way this one cannot share."""


def connect(
    path: str | os.PathLike,
    *,
    memory_limit: str,
    temp_directory: str | os.PathLike | None = None,
    threads: int | None = None,
    read_only: bool = False,
) -> Connection:
    """A connection to the warehouse file, with the project's SQL functions.

    DuckDB takes 80% of RAM by default and fails when a join outgrows it: a
    limit and a spill directory (default: beside the file) let day 0 of
    millions of records spill instead."""
    target = Path(path)
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(target), read_only=read_only)
    except duckdb.ConnectionException as held:
        raise WarehouseBusy(f"cannot open {target}: {held}") from held
    except duckdb.IOException as failed:
        # Another process holds the file's lock (a run, the app, a BI client).
        if "lock" not in str(failed).lower():
            raise
        raise WarehouseBusy(
            f"cannot open {target}: another process holds it ({failed})"
        ) from failed
    if not read_only:
        apply_limits(con, memory_limit, temp_directory or f"{target}.tmp", threads)
    register_functions(con)
    return con


def apply_limits(
    con: Connection,
    memory_limit: str,
    temp_directory: str | os.PathLike,
    threads: int | None = None,
) -> None:
    """The memory limit, where to spill beyond it, and the threads (None:
    DuckDB's default, one a core). Connections of one
    process to one file share a database instance, and once it has spilled
    DuckDB refuses to be told its spill directory again (even the same one):
    set it only when it differs, so a second connection (dbt's, after the
    loader spilled) does not fail."""
    con.execute("set memory_limit = ?", [memory_limit])
    if threads:
        con.execute(f"set threads = {int(threads)}")
    wanted = str(temp_directory)
    current = con.execute("select current_setting('temp_directory')").fetchall()[0][0]
    if current != wanted:
        con.execute("set temp_directory = ?", [wanted])


def connect_for_reading(path: str | os.PathLike, *, memory_limit: str) -> Connection:
    """A read-only connection; if this process already holds the file open for
    writing (dbt ran in it, as in `c360 demo`), a connection to that instance,
    since DuckDB allows one configuration of a file per process."""
    try:
        return connect(path, memory_limit=memory_limit, read_only=True)
    except WarehouseBusy:
        return connect(path, memory_limit=memory_limit)


def connect_to_parquet_tables(
    tables: dict[tuple[str, str], Path], *, memory_limit: str
) -> Connection:
    """An in-memory connection with a view `schema.table` over each table's
    folder of Parquet files (another engine's warehouse, read in place).
    A folder with no data file yet is left out: what reads it fails naming
    the table, rather than reading an empty table that is not one."""
    con = duckdb.connect()
    con.execute("set memory_limit = ?", [memory_limit])
    register_functions(con)
    for (schema, table), folder in sorted(tables.items()):
        if not any(folder.rglob("*.parquet")):
            continue
        partitioned = any(p.is_dir() and "=" in p.name for p in folder.iterdir())
        quoted = str(folder).replace("'", "''")
        con.execute(f'create schema if not exists "{schema}"')
        con.execute(
            f'create view "{schema}"."{table}" as select * from read_parquet('
            f"'{quoted}/**/*.parquet', hive_partitioning = {str(partitioned).lower()}, "
            "union_by_name = true)"
        )
    return con


def register_functions(con: Connection) -> None:
    """The project's SQL functions that SQL cannot express, on this connection
    (and the cursors it hands out). A model or view calling one is readable
    only through a connection that has them: this module's, or dbt's
    (c360.engine.duckdb_dbt_plugin)."""
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


def bind_hmac_pads(con: Connection, pads: str, key: bytes) -> None:
    """Bind a key's HMAC pads to this connection's session variables
    `<pads>_ipad` / `<pads>_opad`, as parameters: SQL computes HMACs with
    tokenization.hmac_sha256_sql and never holds the key in its text."""
    from c360.tokenization import hmac_pads

    for suffix, pad in zip(("ipad", "opad"), hmac_pads(key), strict=True):
        con.execute(f"set variable {pads}_{suffix} = ?", [pad])


# -- statements ----------------------------------------------------------------

# The same over both engines' connections (c360/engine/dbapi.py).
rows, scalar, insert_many = dbapi.rows, dbapi.scalar, dbapi.insert_many


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """Commit what the block did, or roll all of it back if the block raises."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def checkpoint(con: Connection) -> None:
    """Write what a run date committed from the write-ahead log into the
    database file before the date counts as finished: the day's measured
    cost includes it, rather than the next process's first connection."""
    con.execute("checkpoint")


# -- the catalog ---------------------------------------------------------------


def relation_exists(con: Connection, schema: str, name: str) -> bool:
    return bool(
        scalar(
            con,
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        )
    )


def relation_names(con: Connection, schema: str) -> list[str]:
    """Every table and view of a schema, by name."""
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? order by table_name",
            [schema],
        ).fetchall()
    ]


def base_tables(
    con: Connection, excluded_schemas: tuple[str, ...] = ()
) -> list[tuple[str, str, dict[str, str]]]:
    """(schema, table, {column: data type}) of every base table outside the
    excluded schemas."""
    found = con.execute(
        """select c.table_schema, c.table_name, map(list(c.column_name), list(c.data_type))
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_schema = t.table_schema and c.table_name = t.table_name
        where t.table_type = 'BASE TABLE' and not list_contains(?::varchar[], c.table_schema)
          and t.table_catalog = current_database()
        group by 1, 2 order by 1, 2""",
        [list(excluded_schemas)],
    ).fetchall()
    return [(s, t, dict(columns)) for s, t, columns in found]


# -- files ---------------------------------------------------------------------


# What reading a landing file raises when the file is not what its name
# says (truncated, corrupt, not Parquet): the loader names the file.
FILE_READ_ERRORS: tuple[type[BaseException], ...] = (duckdb.Error,)

# Where DuckDB's CSV reader puts the lines it could not read (temporary
# tables of the connection), until read_rejects takes them.
_REJECTS = "_c360_landing_rejects"
_REJECT_SCANS = "_c360_landing_reject_scans"


def reader_sql(path: Path, dialect: CsvDialect | None = None) -> str:
    """A table function reading one landing file as the loader reads it: a
    CSV file in its dialect (c360.landing_files), every value a string, the
    lines it cannot read (bad quoting, too many or too few fields, bytes
    that are not of its encoding) set aside for read_rejects."""
    quoted = str(path).replace("'", "''")
    if dialect is not None:
        # all varchar: the contract says strings unless typed, and typing is
        # staging's job. An empty field stays an empty string (CSV has no
        # null; sources send '' for unknowns); `\N` is the explicit null.
        columns = ", ".join(
            "'{}': 'VARCHAR'".format(name.replace("'", "''")) for name in dialect.columns
        )
        delimiter = dialect.delimiter.replace("'", "''")
        return (
            f"read_csv('{quoted}', header=true, auto_detect=false, columns={{{columns}}}, "
            f"delim='{delimiter}', quote='\"', escape='\"', encoding='{dialect.encoding}', "
            "nullstr='\\N', allow_quoted_nulls=false, hive_partitioning=false, "
            f"store_rejects=true, rejects_table='{_REJECTS}', rejects_scan='{_REJECT_SCANS}')"
        )
    return f"read_parquet('{quoted}', hive_partitioning=false)"


def read_rejects(con: Connection) -> list[tuple[int, str]]:
    """The (line, problem) of each line the last CSV read set aside, once each;
    forgets them."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = ? and temporary", [_REJECTS]
    ).fetchall()[0][0]
    if not exists:
        return []
    found = con.execute(
        f"select line, min(error_type || ': ' || error_message) from {_REJECTS} "
        "group by line order by line"
    ).fetchall()
    con.execute(f"drop table {_REJECTS}")
    con.execute(f"drop table if exists {_REJECT_SCANS}")
    return [(int(line), problem) for line, problem in found]


def file_columns(con: Connection, path: Path) -> list[str]:
    """The columns of a Parquet file."""
    return [row[0] for row in con.execute(f"describe select * from {reader_sql(path)}").fetchall()]


def write_file(con: Connection, relation: str, path: Path, file_format: str) -> None:
    """Write a relation to a file, `csv` (with `\\N` for null, as reader_sql
    reads it) or `parquet`."""
    quoted = str(path).replace("'", "''")
    if file_format == "csv":
        con.execute(f"copy {relation} to '{quoted}' (format csv, header, nullstr '\\N')")
    else:
        con.execute(f"copy {relation} to '{quoted}' (format parquet)")


# -- storage -------------------------------------------------------------------


def compact(path: str | os.PathLike) -> None:
    """Rewrite the database file table by table into a new one and swap it in.

    DuckDB does not zero freed blocks: a deleted row can still be read from
    the file's bytes after DELETE and CHECKPOINT. A copy holds live rows only.
    """
    path = Path(path).resolve()
    release_connections(path)
    scratch = path.with_name(path.name + ".compacting")
    for stale in (scratch, scratch.with_name(scratch.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("checkpoint")
        name = scalar(con, "select current_database()")
        quoted = str(scratch).replace("'", "''")
        con.execute(f"attach '{quoted}' as c360_compacted")
        con.execute(f'copy from database "{name}" to c360_compacted')
        con.execute("detach c360_compacted")
    finally:
        con.close()
    os.replace(scratch, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def release_connections(path: str | os.PathLike) -> None:
    """Close every connection this process holds to the file, so the file can be
    swapped: a DuckDB instance still open would send later writes to the old,
    unlinked file. dbt run in-process (c360/dbt.py) keeps dbt-duckdb's shared
    connection open; it is private to dbt-duckdb, hence here, and reopened by
    dbt's next invocation."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        DuckDBConnectionManager = None
    if DuckDBConnectionManager is not None and DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None
    gc.collect()
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.ConnectionException as held:
        raise WarehouseBusy(
            f"cannot rewrite {path}: a connection in this process still holds it ({held})"
        ) from held


# -- dbt -----------------------------------------------------------------------


def before_dbt(path: str | os.PathLike) -> None:
    """Nothing: dbt-duckdb opens the file itself, and its plugin
    (c360.engine.duckdb_dbt_plugin) registers the functions and binds the pads
    on each of its connections."""


# -- Splink --------------------------------------------------------------------


def splink_api(con: Connection):
    """Splink's database API over this connection."""
    from splink import DuckDBAPI

    return DuckDBAPI(connection=con)


def write_parquet_folder(con: Connection, relation: str, folder: Path) -> None:
    """Write a relation as Parquet into an empty folder (one file here; a
    distributed engine writes one per partition), for readers of folders."""
    folder.mkdir(parents=True, exist_ok=False)
    write_file(con, relation, folder / "part-00000.parquet", "parquet")
