"""The bad-delivery campaign at the loader (docs/faults.md): each kind of bad
file either fails the load with a message naming the table, the file and
the problem, loading nothing of its partition, or is loaded with what cannot
be read set aside in a quarantine table with its reason. No valid row is
lost. No dbt here: the rows-level outcome downstream is
tests/e2e/test_bad_deliveries_downstream.py."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360 import pipeline, quarantine, warehouse
from c360.contract import TABLES
from tests.support.warehouse_files import query

DAY = dt.date(2025, 1, 1)
CUSTOMERS = TABLES["ecommerce_customers"]
ORDERS = TABLES["ecommerce_orders"]


def _row(key: str, **values: str) -> dict[str, str | None]:
    row: dict[str, str | None] = {name: "" for name in CUSTOMERS.column_names}
    row.update(
        customer_account_id=key,
        email=f"{key.lower()}@example.com",
        first_name="Ann",
        last_name="Lee",
        date_of_birth="1980-04-12",
        _op="U",
        _extracted_at="2025-01-01T02:00:00",
    )
    row.update(values)
    return row


def _rows(n: int, prefix: str = "C") -> list[dict[str, str | None]]:
    return [_row(f"{prefix}{i:03d}") for i in range(n)]


def _csv_text(rows: list[dict], delimiter: str = ",", line_end: str = "\n") -> str:
    columns = list(rows[0])
    lines = [delimiter.join(columns)]
    lines += [delimiter.join(row[c] or "" for c in columns) for row in rows]
    return line_end.join(lines) + line_end


def _partition(landing: Path, table: str = "ecommerce_customers", day: dt.date = DAY) -> Path:
    folder = landing / table / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _load(landing: Path, path: Path) -> list[warehouse.LoadedPartition]:
    return pipeline.load(landing, path, log=lambda line: None)


def _keys(path: Path, table: str = "ecommerce_customers") -> list[str]:
    key = TABLES[table].key
    return [r[0] for r in query(path, f"select {key} from raw.{table} order by 1")]


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


# -- files the loader refuses -----------------------------------------------------


def _refused(landing: Path, path: Path, *fragments: str) -> str:
    with pytest.raises(warehouse.LandingError) as refused:
        _load(landing, path)
    message = str(refused.value)
    for fragment in ("ecommerce_customers", *fragments):
        assert fragment in message
    # Nothing of the refused partition landed, and it is not logged as loaded.
    assert query(path, "select count(*) from raw.ecommerce_customers")[0][0] == 0
    assert query(path, f"select count(*) from {warehouse.LOAD_LOG}")[0][0] == 0
    return message


def test_a_missing_column_fails_naming_table_file_and_column(landing: Path, path: Path) -> None:
    rows = _rows(3)
    for row in rows:
        del row["email"]
    (_partition(landing) / "part-0.csv").write_text(_csv_text(rows))
    message = _refused(landing, path, "part-0.csv", "missing contract column(s) ['email']")
    assert "renamed" not in message


def test_a_renamed_column_fails_and_says_it_looks_renamed(landing: Path, path: Path) -> None:
    rows = [{("e_mail" if k == "email" else k): v for k, v in row.items()} for row in _rows(3)]
    (_partition(landing) / "part-0.csv").write_text(_csv_text(rows))
    _refused(landing, path, "part-0.csv", "['email']", "renamed?", "['e_mail']")


def test_a_file_of_deletes_needs_only_the_key(landing: Path, path: Path) -> None:
    (_partition(landing) / "deletes.csv").write_text(
        "customer_account_id,_op,_extracted_at\nC001,D,2025-01-01T02:00:00\n"
    )
    assert [p.rows for p in _load(landing, path)] == [1]


def test_a_truncated_parquet_file_fails_naming_it(landing: Path, path: Path, tmp_path) -> None:
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.Table.from_pylist(_rows(200)), whole)
    data = whole.read_bytes()
    (_partition(landing) / "part-0.parquet").write_bytes(data[: len(data) // 2])
    _refused(landing, path, "part-0.parquet", "not a readable Parquet file")


def test_a_corrupt_parquet_file_fails_naming_it(landing: Path, path: Path) -> None:
    (_partition(landing) / "part-0.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 20 + b"PAR1")
    _refused(landing, path, "part-0.parquet", "not a readable Parquet file")


def test_a_file_mostly_unreadable_fails_as_malformed(landing: Path, path: Path) -> None:
    text = _csv_text(_rows(10))
    lines = text.splitlines()
    # Half the lines with an unterminated quote.
    broken = [line.replace(",Ann,", ',"Ann,') if i % 2 else line for i, line in enumerate(lines)]
    (_partition(landing) / "part-0.csv").write_text("\n".join(broken) + "\n")
    _refused(landing, path, "part-0.csv", "cannot be read", "malformed")


# -- files the loader takes, setting aside what it cannot read ------------------------


def _loaded(landing: Path, path: Path, expected: list[str]) -> warehouse.LoadedPartition:
    (partition,) = _load(landing, path)
    assert _keys(path) == expected
    return partition


def test_another_delimiter_a_bom_and_crlf_lose_nothing(landing: Path, path: Path) -> None:
    rows = _rows(5)
    rows[0]["street_address"] = "1 Main St; Apt 2"
    folder = _partition(landing)
    text = _csv_text(rows, delimiter=";", line_end="\r\n")
    # The semicolon inside a value is quoted, as any CSV writer quotes it.
    text = text.replace("1 Main St; Apt 2", '"1 Main St; Apt 2"')
    (folder / "part-0.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (folder / "part-1.csv").write_text(_csv_text(_rows(3, "T"), delimiter="\t"))
    _loaded(
        landing, path, sorted(r["customer_account_id"] for r in rows) + ["T000", "T001", "T002"]
    )
    addresses = query(
        path,
        "select street_address, _extracted_at from raw.ecommerce_customers where "
        "customer_account_id = 'C000'",
    )
    assert addresses == [("1 Main St; Apt 2", "2025-01-01T02:00:00")]


def test_a_latin1_file_is_read_as_latin1(landing: Path, path: Path) -> None:
    rows = _rows(3)
    rows[1]["last_name"] = "Müller"
    (_partition(landing) / "part-0.csv").write_bytes(_csv_text(rows).encode("latin-1"))
    partition = _loaded(landing, path, ["C000", "C001", "C002"])
    assert any("read as latin-1" in note for note in partition.notes)
    names = query(path, "select last_name from raw.ecommerce_customers order by 1")
    assert ("Müller",) in names


def test_bad_lines_are_quarantined_and_the_rest_loads(landing: Path, path: Path) -> None:
    rows = _rows(100)
    rows[5]["first_name"] = "Zoë"  # UTF-8: the file is UTF-8
    text = _csv_text(rows).encode()
    lines = text.split(b"\n")
    lines[3] = lines[3].replace(b",Ann,", b',"An"n,')  # text after a closing quote (C002)
    lines[9] = lines[9].replace(b",Lee,", "ü".encode("latin-1").join([b",L", b"e,"]))  # C008
    lines[12] = lines[12] + b",surplus"  # a field too many (C011)
    (_partition(landing) / "part-0.csv").write_bytes(b"\n".join(lines))
    expected = sorted({f"C{i:03d}" for i in range(100)} - {"C002", "C008", "C011"})
    partition = _loaded(landing, path, expected)
    rejected = query(path, f"select line, problem from {warehouse.REJECTS} order by line")
    assert [line for line, _ in rejected] == [4, 10, 13]
    assert "quote" in rejected[0][1].lower()
    assert "unicode" in rejected[1][1].lower() or "encoding" in rejected[1][1].lower()
    assert "column" in rejected[2][1].lower()
    assert any("3 line(s) cannot be read" in note for note in partition.notes)


def test_an_extra_column_is_loaded_without_it_and_noted(landing: Path, path: Path) -> None:
    rows = [{**row, "loyalty_tier_v2": "gold"} for row in _rows(2)]
    (_partition(landing) / "part-0.csv").write_text(_csv_text(rows))
    partition = _loaded(landing, path, ["C000", "C001"])
    assert partition.ignored_columns == ("loyalty_tier_v2",)
    assert any("loyalty_tier_v2" in note for note in partition.notes)


def test_empty_files_load_no_rows(landing: Path, path: Path) -> None:
    folder = _partition(landing)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "empty.parquet").write_bytes(b"")
    (folder / "header_only.csv").write_text(",".join(CUSTOMERS.column_names) + "\n")
    (folder / "part-0.csv").write_text(_csv_text(_rows(2)))
    partition = _loaded(landing, path, ["C000", "C001"])
    assert partition.files == 4 and partition.rows == 2
    assert sum("empty file" in note for note in partition.notes) == 2


def test_a_wrongly_typed_parquet_column_is_loaded_and_its_values_quarantined(
    landing: Path, path: Path
) -> None:
    rows = _rows(3)
    table = pa.Table.from_pylist(rows)
    # date_of_birth as integers (yyyymmdd), points a date type never parses.
    index = table.schema.get_field_index("date_of_birth")
    table = table.set_column(index, "date_of_birth", pa.array([19800412, 19751130, 20000101]))
    pq.write_table(table, _partition(landing) / "part-0.parquet")
    _loaded(landing, path, ["C000", "C001", "C002"])
    found = query(
        path,
        f"select source_record_id, field_name, reason from {quarantine.QUARANTINE} order by 1",
    )
    assert found == [(f"C00{i}", "date_of_birth", "not_a_date") for i in range(3)]


# -- partitions delivered twice, late, out of order --------------------------------


def test_the_same_partition_twice_loads_nothing_new(landing: Path, path: Path, tmp_path) -> None:
    (_partition(landing) / "part-0.csv").write_text(_csv_text(_rows(3)))
    _load(landing, path)
    again = tmp_path / "again"
    shutil.copytree(landing, again)
    assert _load(again, path) == []
    assert pipeline.pending_run_dates(again, path) == [DAY]  # loaded, never run
    assert len(_keys(path)) == 3


def test_a_file_delivered_late_into_a_loaded_partition_is_loaded(landing: Path, path: Path) -> None:
    folder = _partition(landing)
    (folder / "part-0.csv").write_text(_csv_text(_rows(3)))
    _load(landing, path)
    (folder / "part-1.csv").write_text(_csv_text(_rows(2, "L")))
    # A file re-delivered with other content (another size) is loaded again.
    (folder / "part-0.csv").write_text(_csv_text(_rows(4)))
    (partition,) = _load(landing, path)
    assert partition.files == 2 and partition.rows == 6
    assert any("delivered again" in note for note in partition.notes)
    assert _keys(path) == ["C000", "C000", "C001", "C001", "C002", "C002", "C003", "L000", "L001"]
    assert _load(landing, path) == []


def test_a_late_partition_reruns_the_last_date_and_out_of_order_dates_load(
    landing: Path, path: Path
) -> None:
    later = DAY + dt.timedelta(days=2)
    (_partition(landing, day=later) / "part-0.csv").write_text(_csv_text(_rows(2)))
    _load(landing, path)
    con = warehouse.connect(path)
    try:
        warehouse.record_run(con, later)
    finally:
        con.close()
    # Delivered after the later date ran: an earlier date, and a date between.
    (_partition(landing) / "part-0.csv").write_text(_csv_text(_rows(2, "E")))
    between = DAY + dt.timedelta(days=1)
    (_partition(landing, "ecommerce_orders", between) / "part-0.csv").write_text(
        ",".join(ORDERS.column_names) + "\nO1,E000,2025-01-01T10:00:00,9.50,USD,placed,,U,"
        "2025-01-02T02:00:00\n"
    )
    # History is not rewritten backwards: the last date runs again, with them.
    assert pipeline.pending_run_dates(landing, path) == [later]
    loaded = _load(landing, path)
    assert sorted((p.table, p.dt) for p in loaded) == [
        ("ecommerce_customers", DAY),
        ("ecommerce_orders", between),
    ]


# -- rows the loader quarantines ------------------------------------------------------


def test_rows_amiss_are_quarantined_with_their_reason(landing: Path, path: Path) -> None:
    rows = _rows(8)
    rows[0]["_op"] = "X"
    rows[1]["customer_account_id"] = ""
    rows[2]["date_of_birth"] = "31/12/1980"
    rows[3]["first_name"] = "A" * 100_000
    rows[4]["first_name"] = "Bob"  # the same key as row 5, the same extract, another name
    rows[5]["customer_account_id"] = "C004"
    rows[6]["_op"] = "D"
    rows[6]["customer_account_id"] = "NEVER-SEEN"
    pq.write_table(pa.Table.from_pylist(rows), _partition(landing) / "part-0.parquet")
    orders = [
        {name: "" for name in ORDERS.column_names}
        | {"order_id": "O1", "customer_account_id": "C007", "_op": "U"},
        {name: "" for name in ORDERS.column_names}
        | {"order_id": "O2", "customer_account_id": "NOBODY", "_op": "U"},
    ]
    pq.write_table(
        pa.Table.from_pylist(orders), _partition(landing, "ecommerce_orders") / "o.parquet"
    )
    loaded = _load(landing, path)
    assert sum(p.rows for p in loaded) == 10  # every row is in raw, as delivered
    found = query(
        path,
        f"select table_name, coalesce(source_record_id, ''), coalesce(field_name, ''), reason "
        f"from {quarantine.QUARANTINE} order by all",
    )
    assert found == [
        ("ecommerce_customers", "", "", "missing_key"),
        ("ecommerce_customers", "C000", "", "invalid_op"),
        ("ecommerce_customers", "C002", "date_of_birth", "not_a_date"),
        ("ecommerce_customers", "C003", "first_name", "value_too_long"),
        ("ecommerce_customers", "C004", "", "conflicting_duplicate_key"),
        ("ecommerce_customers", "C004", "", "conflicting_duplicate_key"),
        ("ecommerce_customers", "NEVER-SEEN", "", "delete_of_unknown_key"),
        ("ecommerce_orders", "O2", "customer_account_id", "unknown_identity_key"),
    ]
    # Each load is checked once.
    con = warehouse.connect(path)
    try:
        assert quarantine.check_loads(con) == {}
    finally:
        con.close()
