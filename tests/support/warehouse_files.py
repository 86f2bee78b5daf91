"""Test access to warehouse files: a copy for a test to change (with its
write-ahead log), and a one-off query."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from c360.engine.duckdb import register_functions


def copy_warehouse(source: Path, target: Path) -> Path:
    """A DuckDB file and, if present, its .wal: without it, a copy can miss the
    last committed writes."""
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return target


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query, on a connection opened and closed for it (not
    read-only: an in-process dbt run may still hold the file)."""
    con = duckdb.connect(str(path))
    # Views may call the engine's Python functions (stg_privacy__requests).
    register_functions(con)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def release_dbt_connection() -> None:
    """dbt run in this process (c360/dbt.py) keeps its DuckDB connection to the
    last warehouse it built open, and with it the file's lock: close it, so
    that another process (a `c360` command a test runs) can open the file.
    The next in-process dbt run opens a new one."""
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None
    gc.collect()
