"""The privacy intake on Spark does what it does on DuckDB.

The tiny warehouse of tests/stage/test_privacy_intake.py (three people, five
identity records) is built once with dbt on DuckDB, and requests are
submitted to it as `c360 privacy` does: an erasure (Jane), an access (Lena),
an access whose identifiers name two people, an opt-out (Omar). Its tables
are copied into the Spark warehouse (tests/spark/duckdb_mirror.py), and the
same intake runs on each engine, each over its own copy of the landing zone.
Then: the privacy state, the raw tables and the access export are the same
on both, and after the byte purge no byte under the Spark warehouse's raw
and privacy tables, its scratch space or the landing copy holds an erased
value."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import shutil
from pathlib import Path

import pytest

from c360 import engine, pipeline, privacy
from c360.contract import TABLES
from tests.spark.conftest import engine_named
from tests.spark.duckdb_mirror import mirror
from tests.stage.test_privacy_intake import INTAKE_DAY, JANE_EMAIL, JANE_PHONE, LANDING
from tests.support.landing import repoint_landing, write_csv
from tests.support.privacy_scan import values_in_landing
from tests.support.warehouse_files import query

DAY = INTAKE_DAY - dt.timedelta(days=1)
NEEDLES = {JANE_EMAIL, "217-555-0101", JANE_PHONE}
# What the intake reads of the warehouse dbt built (the rest is not copied).
READ_BY_THE_INTAKE = {
    "intermediate": {
        "int_customer_memberships",
        "int_customer_id_registry",
        "int_identity_records",
    },
    "marts": {
        "dim_customer",
        "customer_id_history",
        "identity_events",
        "fct_orders",
        "fct_app_events",
        "fct_pos_transactions",
        "fct_tickets",
    },
}
PRIVACY_TABLES = [
    "request_log",
    "erased_customers",
    "suppression_list",
    "sale_preferences",
    "suppression_log",
    "pending_purge",
    "pending_unlink",
    "regroup_records",
    "landing_purge_files",
    "landing_purge_records",
    "landing_purge_requests",
    "sweep_state",
]
# Set when the intake ran, or naming the engine's own copy of a file.
VARYING = {"processed_at", "export_file", "_source_file", "_loaded_at", "source_file"}


def _normal(value, landing: Path):
    if isinstance(value, str):
        return value.replace(str(landing), "<landing>")
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _contents(rows: list[dict], landing: Path) -> list[tuple]:
    return sorted(
        (
            tuple((k, _normal(v, landing)) for k, v in sorted(row.items()) if k not in VARYING)
            for row in rows
        ),
        key=repr,
    )


def _state(con, landing: Path) -> dict[str, list[tuple]]:
    tables = {f"privacy.{t}": f"select * from privacy.{t}" for t in PRIVACY_TABLES}
    tables |= {f"raw.{t}": f"select * from raw.{t}" for t in TABLES}
    return {name: _contents(engine.rows(con, sql), landing) for name, sql in tables.items()}


def _values_in_files(roots: list[Path], needles: set[str]) -> set[tuple[str, str]]:
    """(file, value) for each needle in the files under the roots: in their
    bytes (Parquet footers and statistics, Derby's pages, text), and, for
    Parquet, in their decoded rows (compressed pages hide a value from a
    byte search: Snappy writes a repeated `@example.org` as a back-reference)."""
    import pyarrow.parquet as pq

    found = set()
    files = [f for root in roots for f in root.rglob("*") if f.is_file()]
    assert files, roots
    for file in files:
        data = file.read_bytes()
        found |= {(str(file), n) for n in needles if n.encode() in data}
        if data[:4] == b"PAR1" and file.stat().st_size > 8:
            text = repr(pq.read_table(file).to_pylist())
            found |= {(str(file), n) for n in needles if n in text}
    return found


@pytest.fixture(scope="module")
def runs(spark_engine, con, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("privacy_both")
    landing = root / "landing"
    for table, rows in LANDING.items():
        write_csv(landing, table, DAY, rows)
    with engine_named("duckdb"):
        from c360.engine import duckdb as duckdb_engine

        built = root / "built.duckdb"
        pipeline.run(landing, built, quiet=True)
        duckdb_engine.release_connections(built)
        omar = query(
            built,
            "select customer_id from marts.customer_source_xref where source_record_id = 'A2'",
        )[0][0]
        ids = {
            "erasure": privacy.submit(
                "erasure", email=f" {JANE_EMAIL.upper()}", warehouse_file=built
            ),
            "access": privacy.submit(
                "access", email="Lena.Park@example.net", jurisdiction="CCPA", warehouse_file=built
            ),
            "two_people": privacy.submit(
                "access",
                email="omar.haddad@example.net",
                phone="(309) 555-0103",
                warehouse_file=built,
            ),
            "opt_out": privacy.submit("opt_out_sale", customer_id=omar, warehouse_file=built),
        }
        duck_dir = root / "duckdb"
        duck_dir.mkdir()
        duck_path = duck_dir / "warehouse.duckdb"
        shutil.copyfile(built, duck_path)
        duck_landing = root / "landing_duckdb"
        shutil.copytree(landing, duck_landing)
        repoint_landing(duck_path, landing, duck_landing)
        duck_result = privacy.intake(INTAKE_DAY, duck_path)
        duck = duckdb_engine.connect(duck_path, memory_limit="1GB")
        try:
            duck_state = _state(duck, duck_landing)
        finally:
            duck.close()

    spark_path = con.warehouse
    spark_landing = root / "landing_spark"
    shutil.copytree(landing, spark_landing)
    mirror(built, con, landing=(str(landing), str(spark_landing)), only=READ_BY_THE_INTAKE)
    spark_result = privacy.intake(INTAKE_DAY, spark_path)
    return {
        "ids": ids,
        "duckdb": (duck_result, duck_state, duck_landing),
        "spark": (spark_result, _state(con, spark_landing), spark_landing),
        "spark_path": Path(spark_path),
    }


def test_the_intake_acts_on_spark_as_on_duckdb(runs) -> None:
    duck_result, duck_state, _ = runs["duckdb"]
    spark_result, spark_state, _ = runs["spark"]
    assert spark_result.requests == duck_result.requests == {"completed": 3, "needs_review": 1}
    for field in (
        "records_erased",
        "records_suppressed",
        "activity_rows_unlinked",
        "landing_files_to_purge",
        "deferred",
    ):
        assert getattr(spark_result, field) == getattr(duck_result, field), field
    assert spark_result.records_erased == 3
    assert [n for n in duck_state if spark_state[n] != duck_state[n]] == []
    # The erasure, the opt-out and the review are what the DuckDB stage test expects.
    log = {dict(r)["request_id"]: dict(r) for r in spark_state["privacy.request_log"]}
    assert log[runs["ids"]["erasure"]]["activity_rows_unlinked"] == 2
    assert log[runs["ids"]["two_people"]]["status"] == "needs_review"
    assert [dict(r)["source_record_id"] for r in spark_state["privacy.sale_preferences"]] == ["A2"]
    assert len(spark_state["privacy.suppression_list"]) == 5


def test_the_access_export_is_the_same_file(runs) -> None:
    documents = []
    for engine_name in ("duckdb", "spark"):
        (export,) = runs[engine_name][0].exports
        document = json.loads(Path(export).read_text())
        assert Path(export).stem == runs["ids"]["access"]
        document.pop("generated_at")
        documents.append(document)
    assert documents[0] == documents[1]
    assert documents[1]["identity_records"][0]["source_record_id"] == "A3"


def test_the_byte_purge_leaves_no_erased_value_in_spark_files(spark_engine, con, runs) -> None:
    """The intake rewrote the raw files that held her rows (deleted rows leave
    Parquet files when the engine rewrites them); the byte purge rewrites
    the landing files and clears the scratch space. dbt's tables are dbt's
    to purge (purge_pending_erasures), not copied here beyond what the
    intake reads, and not scanned."""
    path, landing = runs["spark_path"], runs["spark"][2]
    assert values_in_landing(landing, NEEDLES)
    assert privacy.purge_bytes(path) == 4
    assert values_in_landing(landing, NEEDLES) == []
    assert values_in_landing(landing, {"omar.haddad@example.net", "lena.park@example.net"})
    scanned = [
        path / "tables" / "raw.db",
        path / "tables" / "privacy.db",
        path / "_c360",
        path / "metastore_db",
    ]
    assert _values_in_files(scanned, NEEDLES) == set()
    # The scan sees them where they are: dbt's staging image of her account,
    # which dbt's purge (not run here) deletes.
    staging = [path / "tables" / "staging.db" / "stg_ecommerce__customers"]
    assert {n for _, n in _values_in_files(staging, NEEDLES)} >= {JANE_EMAIL}
    # What the raw tables still hold of everyone else.
    assert spark_engine.scalar(con, "select count(*) from raw.ecommerce_customers") == 2
