"""The landing loader: partitions, CSV and Parquet, bad input, idempotence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.contract import TABLES
from c360.warehouse import connect, discover_partitions, load_landing

CRM_HEADER = ",".join(TABLES["crm_contacts"].column_names)


def _write_csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    _write_csv(
        root / "crm_contacts" / "dt=2025-01-01" / "a.csv",
        f"{CRM_HEADER},vendor_note\n"
        "C1,(555) 123-4567,,Bob,,,,,U,2025-01-01T03:00:00,x\n"
        'C2,,"",Ann,,,,,U,2025-01-01T03:00:00,y\n',
    )
    part = root / "crm_contacts" / "dt=2025-01-02"
    part.mkdir(parents=True)
    pq.write_table(
        pa.table({"contact_id": ["C1"], "_op": ["D"], "_extracted_at": ["2025-01-02T03:00:00"]}),
        part / "b.parquet",
    )
    return root


def test_loads_csv_and_parquet_in_date_order_once(landing: Path, tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    loaded = load_landing(con, landing, loaded_at=dt.datetime(2025, 1, 2, 4))
    assert [(p.table, p.dt.isoformat(), p.rows) for p in loaded] == [
        ("crm_contacts", "2025-01-01", 2),
        ("crm_contacts", "2025-01-02", 1),
    ]
    assert loaded[0].ignored_columns == ("vendor_note",)
    rows = con.execute(
        "select contact_id, email, phone, _op, _dt from raw.crm_contacts order by _dt, contact_id"
    ).fetchall()
    # An empty CSV field stays an empty string: unknowns arrive both ways.
    assert rows[0][1] == "" and rows[1][1] == "" and rows[1][2] == ""
    assert rows[2] == ("C1", None, None, "D", dt.date(2025, 1, 2))
    # Every contract table exists, even for sources this landing lacks.
    assert con.execute("select count(*) from raw.loyalty_members").fetchall() == [(0,)]
    assert load_landing(con, landing) == []
    con.close()


def test_a_file_without_op_is_rejected_and_nothing_of_it_lands(landing: Path, tmp_path: Path):
    _write_csv(
        landing / "crm_contacts" / "dt=2025-01-03" / "bad.csv",
        "contact_id,phone\nC9,555\n",
    )
    _write_csv(
        landing / "crm_contacts" / "dt=2025-01-03" / "a_good.csv",
        f"{CRM_HEADER}\nC8,555,,,,,,,U,2025-01-03T03:00:00\n",
    )
    con = connect(tmp_path / "w.duckdb")
    with pytest.raises(ValueError, match=r"bad\.csv: missing required column\(s\) \['_op'\]"):
        load_landing(con, landing)
    # The two good partitions before it landed; the bad one left no row behind.
    dts = con.execute("select distinct _dt from raw.crm_contacts order by 1").fetchall()
    assert [d for (d,) in dts] == [dt.date(2025, 1, 1), dt.date(2025, 1, 2)]
    logged = con.execute("select count(*) from raw._landing_load_log").fetchall()[0][0]
    assert logged == 2
    con.close()


def test_badly_named_partition_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "landing" / "crm_contacts" / "2025-01-01").mkdir(parents=True)
    with pytest.raises(ValueError, match="dt=YYYY-MM-DD"):
        discover_partitions(tmp_path / "landing")


def test_missing_landing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        discover_partitions(tmp_path / "nowhere")
