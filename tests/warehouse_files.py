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
