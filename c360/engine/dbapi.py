"""Statement helpers over any engine's connection (the DB-API subset both
engines' connections offer: `execute(sql, params)` with `fetchall()` and
`description`, `executemany`). Never `fetchone()`: on a DuckDB connection
shared with Splink it leaves an open result that fails Splink's next query."""

from __future__ import annotations


def rows(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def insert_many(con, sql: str, values: list) -> None:
    if values:  # DuckDB refuses an empty executemany
        con.executemany(sql, values)
