"""The dbt project on a tiny hand-made landing zone (tests/fixtures/landing_min).

Two tables of one source over two days: an update, a delete delivered as a
key-only file, a bad date and a bad amount. The other five sources are absent,
so their staging models must exist and be empty.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from c360.contract import TABLES
from c360.dbt import DbtError, run_dbt
from c360.engine.duckdb import register_functions
from c360.warehouse import connect, load_landing
from tests.support.warehouse_files import query as _query

LANDING = Path(__file__).resolve().parents[1] / "fixtures" / "landing_min"


def _dbt(args: list[str], warehouse: Path, tmp: Path) -> object:
    # Keep this run's artifacts and logs out of the repo's target/ and logs/,
    # which a developer's own dbt runs use at the same time.
    return run_dbt(
        [*args, "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs")],
        warehouse=warehouse,
    )


def _load(warehouse: Path, loaded_at: dt.datetime | None = None) -> None:
    con = connect(warehouse)
    try:
        loaded = load_landing(con, LANDING, loaded_at=loaded_at)
    finally:
        con.close()
    assert {(p.table, p.dt.isoformat()) for p in loaded} == {
        ("ecommerce_customers", "2024-01-01"),
        ("ecommerce_customers", "2024-01-02"),
        ("ecommerce_orders", "2024-01-01"),
        ("ecommerce_orders", "2024-01-02"),
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dbt_landing_min")
    path = tmp / "warehouse.duckdb"
    _load(path)
    # What `c360 run` builds before the scoring step: the models downstream
    # of matching.splink_match_pairs need a trained model and scored pairs.
    _dbt(["build", "--selector", "seeds"], path, tmp)
    _dbt(["build", "--selector", "before_scoring"], path, tmp)
    _dbt(["source", "freshness"], path, tmp)
    return path


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    # Not read_only: dbt-duckdb keeps its in-process connection to the file open,
    # and DuckDB refuses a second one with a different configuration.
    with duckdb.connect(str(warehouse)) as con:
        register_functions(con)  # stg_privacy__requests calls c360_phone_e164
        return con.execute(sql).fetchall()


def test_latest_image_per_key(warehouse: Path) -> None:
    rows = _rows(
        warehouse,
        "select customer_account_id, email, first_name, marketing_opt_in, is_deleted, _dt "
        "from staging.stg_ecommerce__customers order by 1",
    )
    assert rows == [
        # updated on day 2: the day-2 image wins
        ("C1", "jane.doe@example.org", "Jane", False, False, dt.date(2024, 1, 2)),
        # deleted on day 2 by a key-only file: kept, flagged, attributes null
        ("C2", None, None, None, True, dt.date(2024, 1, 2)),
        # untouched since day 1; PII as delivered (empty string stays empty)
        ("C3", "", "José", True, False, dt.date(2024, 1, 1)),
        # new on day 2
        ("C4", "amy@example.com", "Amy", None, False, dt.date(2024, 1, 2)),
    ]


def test_typed_columns_and_bad_values(warehouse: Path) -> None:
    customers = dict(
        _rows(
            warehouse,
            "select customer_account_id, date_of_birth from staging.stg_ecommerce__customers",
        )
    )
    assert customers["C1"] == dt.date(1980, 4, 12)
    assert customers["C3"] is None  # 1985-02-30 does not cast
    orders = {
        r[0]: r[1:]
        for r in _rows(
            warehouse,
            "select order_id, status, order_total, order_ts, is_deleted "
            "from staging.stg_ecommerce__orders",
        )
    }
    assert orders["O2"][:2] == ("shipped", pytest.approx(120))
    assert orders["O1"][2] == dt.datetime(2023, 12, 31, 18, 20)
    # Deleted on day 2 by a full-width CSV row: text stays as delivered ('' in
    # a CSV), typed columns do not cast, and the delete is flagged.
    assert orders["O3"] == ("", None, None, True)
    assert orders["O4"][1] is None  # "not a number"


def test_absent_sources_give_empty_staging_models(warehouse: Path) -> None:
    for table in TABLES.values():
        if table.source == "ecommerce":
            continue
        entity = table.name.removeprefix(f"{table.source}_")
        if entity == table.name:  # privacy_requests -> stg_privacy__requests
            entity = table.name.split("_", 1)[1]
        model = f"stg_{table.source}__{entity}"
        assert _rows(warehouse, f"select count(*) from staging.{model}") == [(0,)], model


def test_stale_load_fails_freshness(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    stale = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=60)
    _load(path, loaded_at=stale)
    with pytest.raises(DbtError):
        _dbt(["source", "freshness"], path, tmp_path)


CUSTOMER_HEADER = (
    "customer_account_id,email,first_name,last_name,phone,street_address,city,state,"
    "postal_code,country,date_of_birth,marketing_opt_in,created_at,updated_at,_op,_extracted_at"
)


def _customer_row(key: str, first: str, last: str, email: str, day: dt.date) -> str:
    stamp = f"{day.isoformat()}T02:00:00"
    return (
        f"{key},{email},{first},{last},,,Springfield,IL,62701,US,1980-01-01,false,"
        f"{stamp},{stamp},U,{stamp}"
    )


def test_a_full_name_group_is_rewritten_only_when_it_crosses_the_name_block_cap(
    tmp_path: Path,
) -> None:
    """A record's name block is its full name while at most name_block_max_records
    (30) records share it. The thirty-first Ann Lee takes every Ann Lee's block
    away, its deletion gives it back, and a change that crosses nothing writes no
    group mate again: common names are large groups."""
    from c360 import pipeline
    from c360.warehouse import record_run

    days = [dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(4)]
    deliveries = {
        days[0]: [
            _customer_row(f"A{i}", "Ann", "Lee", f"ann{i}@example.com", days[0]) for i in range(30)
        ]
        + [_customer_row("B1", "Bo", "Kim", "bo@example.com", days[0])],
        days[1]: [_customer_row("A30", "Ann", "Lee", "ann30@example.com", days[1])],
        days[3]: [_customer_row("A1", "Ann", "Lee", "ann.lee.new@example.com", days[3])],
    }
    landing = tmp_path / "landing" / "ecommerce_customers"
    for day, rows in deliveries.items():
        folder = landing / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        (folder / "part-0000.csv").write_text("\n".join([CUSTOMER_HEADER, *rows]) + "\n")
    deletes = landing / f"dt={days[2].isoformat()}"
    deletes.mkdir(parents=True)
    (deletes / "part-0000-deletes.csv").write_text(
        f"customer_account_id,_op,_extracted_at\nA30,D,{days[2].isoformat()}T02:00:00\n"
    )
    path = tmp_path / "warehouse.duckdb"

    def ann_lees(run_date: dt.date) -> tuple[int, int, int]:
        """(Ann Lees, those with a name block, those written this run date)"""
        rows = _query(
            path,
            "select count(*), count(name_block_key), count(*) filter (recomputed_on = ?) "
            "from intermediate.int_identity_records where last_name_normalized = 'lee'",
            [run_date],
        )
        return rows[0]

    seen = []
    pipeline.load_seeds(path, quiet=True)
    for day in days:
        pipeline.load(tmp_path / "landing", path, through=day)
        pipeline.build_before_scoring(path, run_date=day, quiet=True)
        con = connect(path)
        try:
            record_run(con, day)
        finally:
            con.close()
        seen.append(ann_lees(day))
    assert seen == [
        (30, 30, 30),  # day 0: every record is new
        (31, 0, 31),  # the 31st crosses the cap: every Ann Lee is written again
        (30, 30, 30),  # its deletion crosses back
        (30, 30, 1),  # a new email crosses nothing: only that record is written
    ]
    bo = _query(
        path,
        "select name_block_key from intermediate.int_identity_records where record_key = ?",
        ["ecommerce_customers:B1"],
    )
    assert bo == [("bo kim",)]
