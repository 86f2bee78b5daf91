"""Where an erased person's values could still be: every column of every table
and view, the bytes of the warehouse file (and its WAL), and the landing files;
which values are theirs; and values shaped like an email or a phone number in
the marts, where no raw PII may be."""

from __future__ import annotations

from pathlib import Path

import duckdb

from c360.contract import TABLES
from c360.engine.duckdb import register_functions
from c360.tools.soak import RAW_PII_COLUMNS, VAULT_PII_COLUMNS
from tests.support.warehouse_files import query


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


def person_values(path: Path, customer_id: str) -> set[str]:
    """The person's raw values as delivered, normalized values and tokens, less
    any value another customer's record also holds (a shared household address
    stays: it is theirs too)."""
    con = duckdb.connect(str(path))
    try:
        mine = "in (select source_record_id from marts.customer_source_xref where customer_id = ?)"
        theirs = mine.replace("in (", "not in (")

        def distinct(sql: str) -> set[str]:
            return {r[0] for r in con.execute(sql, [customer_id]).fetchall() if r[0]}

        def values(condition: str) -> set[str]:
            found: set[str] = set()
            for table, columns in RAW_PII_COLUMNS.items():
                key = TABLES[table].key
                for column in columns:
                    found |= distinct(
                        f'select distinct trim("{column}") from raw.{table} '
                        f'where "{key}" {condition} and trim("{column}") <> \'\''
                    )
            for column in VAULT_PII_COLUMNS:
                found |= distinct(
                    f"select distinct {column} from vault.vault_identity_pii "
                    f"where source_record_id {condition}"
                )
            return found

        shared = {v.lower() for v in values(theirs)}
        return {v for v in values(mine) if v.lower() not in shared and len(v) >= 8}
    finally:
        con.close()


EMAIL_SHAPE = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"
PHONE_CHARACTERS = r"^[0-9 ()+.\-]+$"


def pii_shaped(value: str) -> str:
    """SQL: the value looks like an email address or a phone number (10 to 15 digits)."""
    return (
        f"(regexp_matches({value}, '{EMAIL_SHAPE}', 'i') "
        f"or (regexp_matches({value}, '{PHONE_CHARACTERS}') "
        f"and length(regexp_replace({value}, '[^0-9]', '', 'g')) between 10 and 15))"
    )


def mart_text_columns(path: Path) -> list[tuple[str, str]]:
    return query(
        path,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and data_type = 'VARCHAR' order by all",
    )


def pii_shaped_mart_values(path: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every mart text value shaped like PII."""
    scans = []
    for table, column in mart_text_columns(path):
        value = f'"{column}"'
        scans.append(
            f"select '{table}', '{column}', {value} from marts.\"{table}\" "
            f"where {pii_shaped(value)}"
        )
    return sorted(query(path, " union all ".join(scans)))
