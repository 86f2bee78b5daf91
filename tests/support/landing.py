"""Landing zones in tests: a day's delivery planted in one, a record's latest
image read back from one, and a copied warehouse pointed at a copied landing."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from c360.contract import TABLES


def upsert(landing: Path, table: str, day: dt.date, rows: pa.Table) -> None:
    """Rows delivered on `day` (full images, or anything the contract allows)."""
    target = landing / table / f"dt={day.isoformat()}"
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, target / "planted.parquet")


def deliver_erasure_request(landing: Path, day: dt.date, request_id: str, email: str) -> None:
    """An erasure request by email, delivered on `day` like any request."""
    upsert(
        landing,
        "privacy_requests",
        day,
        pa.table(
            {
                "request_id": [request_id],
                "request_type": ["erasure"],
                "jurisdiction": ["GDPR"],
                "subject_email": [email],
                "subject_phone": pa.nulls(1, pa.string()),
                "subject_loyalty_id": pa.nulls(1, pa.string()),
                "subject_customer_id": pa.nulls(1, pa.string()),
                "received_at": [f"{day}T08:00:00"],
                "_op": ["U"],
                "_extracted_at": [f"{day}T09:00:00"],
            }
        ),
    )


# When each delivered table stamps its rows, for deliver().
_STAMPED = {
    "ecommerce_customers": ("created_at", "updated_at"),
    "loyalty_members": ("enrolled_at", "updated_at"),
    "enrichment_profiles": ("refreshed_at",),
}


def deliver(landing: Path, day: str, rows_by_table: dict[str, list[dict]]) -> None:
    """New records, written as the generator writes a day's delivery: the
    contract's columns (those a row leaves out are null), upserts extracted at
    06:00 of `day` and stamped at 05:00. Tables: those of _STAMPED."""
    from c360.tools.generator.render import conform, with_op

    extracted = int(dt.datetime.fromisoformat(f"{day}T06:00:00").timestamp() * 1_000_000)
    for table, rows in rows_by_table.items():
        columns = {name for row in rows for name in row}
        data = {name: [row.get(name) for row in rows] for name in sorted(columns)}
        for name in ("date_of_birth",):
            if name in data:
                data[name] = pa.array(
                    [dt.date.fromisoformat(v) if v else None for v in data[name]], pa.date32()
                )
        for name in _STAMPED[table]:
            data[name] = pa.array([dt.datetime.fromisoformat(f"{day}T05:00:00")] * len(rows))
        folder = landing / table / f"dt={day}"
        folder.mkdir(parents=True)
        pq.write_table(with_op(conform(table, data), "U", extracted), folder / "part-00000.parquet")


def landing_image(generated: Path, table: str, key: str, value: str) -> pa.Table:
    """A record's latest full image in the generated landing zone."""
    con = duckdb.connect()
    try:
        return con.sql(
            f"select * from read_parquet('{generated / 'landing' / table}/*/*.parquet') "
            f"where {key} = ? and _op = 'U' order by _extracted_at desc limit 1",
            params=[value],
        ).to_arrow_table()
    finally:
        con.close()


def resent_ticket(path: Path) -> pa.Table:
    """A day needs a landing partition to exist: one unchanged ticket, re-sent."""
    con = duckdb.connect(str(path))
    try:
        return con.sql(
            "select * exclude (_dt, _source_file, _loaded_at) from raw.crm_tickets limit 1"
        ).to_arrow_table()
    finally:
        con.close()


def repoint_landing(path: Path, source: Path, copy: Path) -> None:
    """The copied warehouse's raw rows name the copied landing files: an erasure
    rewrites the files its rows came from, never the shared generated ones."""
    con = duckdb.connect(str(path))
    try:
        for table in TABLES:
            con.execute(
                f"update raw.{table} set _source_file = replace(_source_file, ?, ?)",
                [str(source), str(copy)],
            )
    finally:
        con.close()


def write_csv(landing: Path, table: str, day: dt.date, rows: list[dict[str, str]]) -> Path:
    """A day's delivery of a landing table as one CSV file, with the contract's
    columns in order: a column a row leaves out is empty; `_op` is an upsert
    and `_extracted_at` 02:00 of `day` unless the row says otherwise."""
    spec = TABLES[table]
    defaults = {"_op": "U", "_extracted_at": f"{day.isoformat()}T02:00:00"}
    target = landing / table / f"dt={day.isoformat()}" / "part-0000.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=spec.column_names)
        writer.writeheader()
        for row in rows:
            unknown = set(row) - set(spec.column_names)
            assert not unknown, f"{table} has no column {sorted(unknown)}"
            writer.writerow(defaults | row)
    return target
