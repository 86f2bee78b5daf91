"""The bad-delivery campaign end to end, on a tiny generated landing zone
(docs/faults.md): a day whose delivery is amiss in every row-level way runs
through, quarantining what it must and losing no valid record; a file the
loader refuses stops `c360 run` before anything is published, with one line
naming the table, the file and the problem (a traceback only with --debug)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360 import pipeline, quarantine
from c360.contract import TABLES
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from tests.support.cli import c360
from tests.support.warehouse_files import copy_warehouse, query

DAY0 = dt.date(2025, 1, 1)
DAY1 = dt.date(2025, 1, 2)
SQL_NAME = "Robert'); DROP TABLE raw.ecommerce_customers; --"


@pytest.fixture(scope="module")
def day0(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("bad_deliveries")
    generate(GeneratorConfig(customers=40, days=0, seed=17, chunk_size=40), out, progress=False)
    path = out / "warehouse.duckdb"
    pipeline.run(out / "landing", path, quiet=True)
    return out / "landing", path


def _customer(key: str, **values: str) -> dict[str, str]:
    row = {name: "" for name in TABLES["ecommerce_customers"].column_names}
    row.update(
        customer_account_id=key,
        email=f"{key.lower()}@example.org",
        first_name="Ann",
        last_name="Okafor",
        phone="",
        country="US",
        date_of_birth="1980-04-12",
        created_at="2025-01-02T01:00:00",
        updated_at="2025-01-02T01:00:00",
        _op="U",
        _extracted_at="2025-01-02T02:00:00",
    )
    row.update(values)
    return row


def _order(order_id: str, account: str) -> dict[str, str]:
    row = {name: "" for name in TABLES["ecommerce_orders"].column_names}
    row.update(
        order_id=order_id,
        customer_account_id=account,
        order_ts="2025-01-02T10:00:00",
        order_total="19.99",
        currency="USD",
        status="placed",
        _op="U",
        _extracted_at="2025-01-02T02:00:00",
    )
    return row


def _write(landing: Path, table: str, rows: list[dict[str, str]]) -> None:
    folder = landing / table / f"dt={DAY1.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")


def _xref(path: Path) -> dict[tuple[str, str], str]:
    rows = query(
        path, "select source_table, source_record_id, customer_id from marts.customer_source_xref"
    )
    return {(table, key): customer for table, key, customer in rows}


def test_a_day_amiss_in_every_row_level_way_runs_and_loses_no_valid_record(
    day0: tuple[Path, Path], tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(day0[0], landing)
    path = copy_warehouse(day0[1], tmp_path / "warehouse.duckdb")
    before = _xref(path)
    known = sorted(key for table, key in before if table == "ecommerce_customers")
    first_names = dict(
        query(path, "select customer_account_id, first_name from staging.stg_ecommerce__customers")
    )
    # Only the e-commerce source delivers today: the other five send nothing.
    _write(
        landing,
        "ecommerce_customers",
        [
            _customer(known[0], first_name="Changed", _op="X"),  # invalid op
            _customer("", first_name="Nobody"),  # missing key
            _customer("NEW-DOB", date_of_birth="31/12/1980"),  # a value of the wrong type
            _customer("NEW-LONG", first_name="A" * 100_000),  # a 100 KB name
            _customer("NEW-CTRL", first_name="Ro\x01bert\t\x07", last_name="O\nBrien"),
            _customer("NEW-SQL", first_name=SQL_NAME, last_name=SQL_NAME),
            _customer("NEW-DUP", first_name="Maria"),  # two images, one extract time
            _customer("NEW-DUP", first_name="Marta"),
            _customer("NEVER-SEEN", _op="D"),  # a delete of a key never delivered
        ],
    )
    _write(landing, "ecommerce_orders", [_order("O-NEW", "NEW-SQL"), _order("O-ORPHAN", "NOBODY")])

    result = pipeline.run(landing, path, quiet=True)
    assert [day.run_date for day in result.days] == [DAY1]
    assert query(path, "select max(run_date) from marts.identity_run_metrics") == [(DAY1,)]

    reasons = query(
        path,
        f"select reason, count(*) from {quarantine.QUARANTINE} where dt = ? group by 1 order by 1",
        [DAY1],
    )
    assert reasons == [
        ("conflicting_duplicate_key", 2),
        ("delete_of_unknown_key", 1),
        ("invalid_op", 1),
        ("missing_key", 1),
        ("not_a_date", 1),
        ("unknown_identity_key", 1),
        ("value_too_long", 1),
    ]
    after = _xref(path)
    # No valid record lost: yesterday's, and every new one with a key, however odd.
    assert set(before) <= set(after)
    new = {"NEW-DOB", "NEW-LONG", "NEW-CTRL", "NEW-SQL", "NEW-DUP"}
    assert {key for table, key in after if table == "ecommerce_customers"} == set(known) | new
    # The row with a bad _op changed nothing; the duplicate is one record.
    staged = dict(
        query(path, "select customer_account_id, first_name from staging.stg_ecommerce__customers")
    )
    assert staged[known[0]] == first_names[known[0]]
    assert staged["NEW-DUP"] in ("Maria", "Marta")
    assert staged["NEW-SQL"] == SQL_NAME
    assert query(
        path, "select count(*) from raw.ecommerce_customers where first_name = ?", [SQL_NAME]
    )
    # The activity naming an unknown account is kept, with no customer yet.
    orders = dict(query(path, "select order_id, customer_id from marts.fct_orders"))
    assert orders["O-ORPHAN"] is None
    assert orders["O-NEW"] == after[("ecommerce_customers", "NEW-SQL")]
    assert query(
        path, "select count(*) from marts.dim_customer where customer_id = ?", [orders["O-NEW"]]
    ) == [(1,)]


def test_a_refused_file_stops_the_run_before_publishing_with_one_line(
    day0: tuple[Path, Path], tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(day0[0], landing)
    path = copy_warehouse(day0[1], tmp_path / "warehouse.duckdb")
    marts_before = query(path, "select count(*), max(run_date) from marts.identity_run_metrics")
    _write(landing, "ecommerce_customers", [_customer("NEW-1")])
    good = landing / "ecommerce_customers" / f"dt={DAY1.isoformat()}" / "part-0.parquet"
    data = good.read_bytes()
    good.write_bytes(data[: len(data) - 40])

    failed = c360("run", "--landing", str(landing), "--warehouse", str(path))
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    (line,) = [line for line in failed.stderr.splitlines() if line.startswith("c360 run:")]
    assert "ecommerce_customers" in line and str(good) in line
    assert "not a readable Parquet file" in line
    assert (
        query(path, "select count(*), max(run_date) from marts.identity_run_metrics")
        == marts_before
    )

    assert (
        "Traceback"
        in c360("run", "--landing", str(landing), "--warehouse", str(path), "--debug").stderr
    )
    # Re-delivered whole, the day runs.
    good.write_bytes(data)
    assert c360("run", "--landing", str(landing), "--warehouse", str(path)).returncode == 0
    assert query(path, "select max(run_date) from marts.identity_run_metrics") == [(DAY1,)]
