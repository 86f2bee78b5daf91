"""Where an erased person's values could still be: every column of every table
and view, the bytes of the warehouse file (and its WAL), and the landing files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from c360.engine.duckdb import register_functions


def values_in_tables(path: Path, needles: set[str]) -> list[tuple[str, str, str, str]]:
    """(schema, relation, column, needle) for every text cell that contains a
    needle, case-insensitively, in any table or view of the warehouse."""
    # Not read-only: an in-process dbt run may still hold the file open.
    con = duckdb.connect(str(path))
    # Views may call the engine's Python functions (stg_privacy__requests).
    register_functions(con)
    try:
        con.execute("create temp table needles (needle varchar)")
        con.executemany("insert into needles values (?)", [(n.lower(),) for n in needles])
        columns = con.execute(
            """select table_schema, table_name, list(column_name order by column_name)
            from information_schema.columns
            where data_type = 'VARCHAR' and table_catalog = current_database()
            group by 1, 2 order by 1, 2"""
        ).fetchall()
        found = []
        for schema, table, names in columns:
            # One pass per relation (a view is computed once), every text column.
            quoted = ", ".join(f'"{name}"' for name in names)
            found += [
                (schema, table, column, needle)
                for column, needle in con.execute(
                    f"""select distinct cells.column_name, needles.needle
                    from (
                        unpivot (select {quoted} from "{schema}"."{table}")
                        on {quoted} into name column_name value cell
                    ) as cells, needles
                    where contains(lower(cells.cell), needles.needle)"""
                ).fetchall()
            ]
        return found
    finally:
        con.close()


def values_in_file_bytes(path: Path, needles: set[str]) -> set[str]:
    """The needles whose bytes appear in the DuckDB file or its WAL, as given or
    lower-cased (deleted rows can survive in free blocks)."""
    blobs = [path.read_bytes()]
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        blobs.append(wal.read_bytes())
    return {
        n
        for n in needles
        for form in {n, n.lower()}
        if any(form.encode() in blob for blob in blobs)
    }


def values_in_landing(landing: Path, needles: set[str]) -> list[tuple[str, str]]:
    """(file, needle) for every landing file holding a needle in any column."""
    con = duckdb.connect()
    found = []
    try:
        for file in sorted(landing.rglob("*")):
            if file.suffix not in (".parquet", ".csv"):
                continue
            reader = (
                f"read_parquet('{file}')"
                if file.suffix == ".parquet"
                else f"read_csv('{file}', all_varchar=true)"
            )
            text = " ".join(
                str(v).lower()
                for row in con.execute(f"select * from {reader}").fetchall()
                for v in row
                if v is not None
            )
            found += [(str(file), n) for n in needles if n.lower() in text]
        return found
    finally:
        con.close()
