"""The loader on Spark reads a landing zone as on DuckDB: the same raw rows,
the same values (CSV all strings, `\\N` the only null, '' kept), the same
load log."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360 import warehouse
from c360.contract import TABLES
from tests.spark.conftest import engine_named

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "landing_min"
LOADED_AT = dt.datetime(2025, 1, 1, 12, 0, 0)

# Every contract column (an upsert is a full image), the address and dates empty.
TRICKY_CSV = (
    "customer_account_id,email,first_name,last_name,phone,street_address,city,state,"
    "postal_code,country,date_of_birth,marketing_opt_in,created_at,updated_at,unknown_column,"
    "_op,_extracted_at\n"
    'C9,\\N,"\\N",,"",,,,,,,,,,x,U,2024-01-03T02:00:00\n'
    'C10,"a@b.c","Anne ""Annie""","Smith\nJones",\\N,,,,,,,,,,y,U,2024-01-03T02:00:00\n'
)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing") / "landing"
    shutil.copytree(FIXTURES, root)
    tricky = root / "ecommerce_customers" / "dt=2024-01-03"
    tricky.mkdir()
    (tricky / "part-0000.csv").write_text(TRICKY_CSV, encoding="utf-8")
    columns = {name: [None, None] for name in TABLES["ecommerce_customers"].column_names}
    columns.update(
        {
            "customer_account_id": ["P1", "P2"],
            "email": ["p@q.r", None],
            "first_name": ["", "Zoë"],
            "_op": ["U", "D"],
            "_extracted_at": ["2024-01-03T03:00:00", "2024-01-03T03:00:00"],
        }
    )
    pq.write_table(
        pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()}),
        tricky / "part-0001.parquet",
    )
    return root


def _raw(con, engine) -> dict[str, list[tuple]]:
    tables = {}
    for name in TABLES:
        found = engine.rows(con, f"select * from {warehouse.RAW_SCHEMA}.{name}")
        tables[name] = sorted(
            (tuple(sorted((k, str(v)) for k, v in row.items())) for row in found),
        )
    log = engine.rows(con, f"select * from {warehouse.LOAD_LOG}")
    tables["_load_log"] = sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in log)
    return tables


def test_spark_loads_what_duckdb_loads(spark_engine, con, landing, tmp_path) -> None:
    warehouse.ensure_raw_tables(con)
    loaded = warehouse.load_landing(con, landing, LOADED_AT)
    assert [p.rows for p in loaded if p.dt == dt.date(2024, 1, 3)] == [4]
    assert warehouse.load_landing(con, landing, LOADED_AT) == []
    spark_tables = _raw(con, spark_engine)

    with engine_named("duckdb"):
        from c360.engine import duckdb as duckdb_engine

        duck = duckdb_engine.connect(tmp_path / "w.duckdb", memory_limit="1GB")
        try:
            warehouse.ensure_raw_tables(duck)
            warehouse.load_landing(duck, landing, LOADED_AT)
            duckdb_tables = _raw(duck, duckdb_engine)
        finally:
            duck.close()

    assert spark_tables == duckdb_tables
    tricky = {
        r["customer_account_id"]: r
        for r in spark_engine.rows(
            con,
            "select * from raw.ecommerce_customers where _dt = ?",
            [dt.date(2024, 1, 3)],
        )
    }
    assert tricky["C9"]["email"] is None
    assert tricky["C9"]["first_name"] == "\\N"
    assert tricky["C9"]["last_name"] == ""
    assert tricky["C9"]["phone"] == ""
    assert tricky["C10"]["first_name"] == 'Anne "Annie"'
    assert tricky["C10"]["last_name"] == "Smith\nJones"
    assert tricky["P1"]["first_name"] == ""


def test_pending_dates_and_the_run_log(spark_engine, con, landing) -> None:
    warehouse.record_run(con, dt.date(2024, 1, 2))
    warehouse.record_run(con, dt.date(2024, 1, 2))
    assert spark_engine.scalar(con, f"select count(*) from {warehouse.RUN_LOG}") == 1
    assert warehouse.pending_run_dates(con, landing) == [dt.date(2024, 1, 3)]
    warehouse.record_seed_digests(con, {"a": "1", "b": "2"})
    warehouse.record_seed_digests(con, {"a": "3"})
    assert warehouse.seed_digests(con) == {"a": "3"}
