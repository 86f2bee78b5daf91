"""A Spark warehouse holding what a DuckDB warehouse holds: every table (and
view, as a table) of the given schemas copied as Parquet into the Spark
warehouse's directory, with the primary keys the Spark connection reads
(`c360.primary_key`). The privacy tests build the warehouse once with dbt on
DuckDB, then run the same stages on both engines over the same data."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from c360.engine.duckdb import register_functions

SCHEMAS = ("raw", "staging", "vault", "intermediate", "marts", "matching", "privacy", "snapshots")


def _column_sql(name: str, data_type: str) -> str:
    """A column as Parquet carries it to Spark as the type Spark would have:
    timestamps with a time zone (Spark's TIMESTAMP, not TIMESTAMP_NTZ; both
    sides in UTC), no unsigned or 128-bit integers (dbt's Spark models make
    DuckDB's hugeint sums bigint: macros/spark_types.sql)."""
    column = f'"{name}"'
    if data_type == "TIMESTAMP":
        return f"{column}::timestamptz as {column}"
    if data_type in ("HUGEINT", "UBIGINT", "UINTEGER"):
        return f"{column}::bigint as {column}"
    return column


def mirror(
    duckdb_file: Path,
    spark_con,
    *,
    landing: tuple[Path, Path] | None = None,
    schemas: tuple[str, ...] = SCHEMAS,
    only: dict[str, set[str]] | None = None,
) -> list[str]:
    """Copy the DuckDB warehouse's tables into the Spark connection's
    warehouse, replacing tables of the same names; `landing`: (old, new) to
    repoint raw rows' `_source_file` at another landing copy; `only`: of
    these schemas, these tables alone. Returns the tables copied."""
    tables_dir = Path(spark_con.warehouse) / "tables"
    source = duckdb.connect(str(duckdb_file))
    register_functions(source)
    source.execute("set TimeZone = 'UTC'")
    copied = []
    try:
        keys = {
            (schema, table): ",".join(columns)
            for schema, table, columns in source.execute(
                "select schema_name, table_name, constraint_column_names "
                "from duckdb_constraints() where constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        }
        relations = source.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join('?' for _ in schemas)}) order by 1, 2",
            list(schemas),
        ).fetchall()
        for schema, table in relations:
            if only and schema in only and table not in only[schema]:
                continue
            columns = source.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            select = []
            for name, data_type in columns:
                if landing and name == "_source_file":
                    select.append(
                        f"replace(\"{name}\", '{landing[0]}', '{landing[1]}') as \"{name}\""
                    )
                else:
                    select.append(_column_sql(name, data_type))
            folder = tables_dir / f"{schema}.db" / table
            spark_con.sql(f"create database if not exists `{schema}`")
            spark_con.sql(f"drop table if exists `{schema}`.`{table}`")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            source.execute(
                f'copy (select {", ".join(select)} from "{schema}"."{table}") '
                f"to '{folder / 'part-00000.parquet'}' (format parquet)"
            )
            spark_con.sql(f"create table `{schema}`.`{table}` using parquet location '{folder}'")
            if (schema, table) in keys:
                spark_con.sql(
                    f"alter table `{schema}`.`{table}` set tblproperties "
                    f"('c360.primary_key' = '{keys[(schema, table)]}')"
                )
            copied.append(f"{schema}.{table}")
    finally:
        source.close()
    return copied
