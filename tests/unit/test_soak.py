"""The soak's invariant checks (c360/tools/soak.py) on tiny hand-made
warehouses and landing zones: each finds what it must, and passes what is
right."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360 import warehouse
from c360.tools import soak
from c360.tools.generator.render import conform, with_op


def _deliver(landing: Path, table: str, day: str, op: str, rows: dict, name: str = "part") -> None:
    extracted = dt.datetime.fromisoformat(f"{day}T06:00:00").replace(tzinfo=dt.UTC)
    data = conform(table, {column: pa.array(values) for column, values in rows.items()})
    folder = landing / table / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        with_op(data, op, int(extracted.timestamp() * 1_000_000)), folder / f"{name}.parquet"
    )


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        """
        create schema marts; create schema privacy;
        create table privacy.landing_purge_records (source_table varchar, source_record_id varchar);
        create table marts.customer_source_xref (
            source_table varchar, source_record_id varchar, customer_id varchar);
        """
    )
    con.close()
    return path


def test_records_kept_finds_lost_unexpected_and_doubled_records(
    warehouse_file: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    accounts = {"customer_account_id": ["A1", "A2", "A3", "A4"], "email": ["a", "b", "c", "d"]}
    _deliver(landing, "ecommerce_customers", "2025-01-01", "U", accounts)
    # A3 left its source; A4 was erased and waits for its file's rewrite.
    _deliver(landing, "ecommerce_customers", "2025-01-02", "D", {"customer_account_id": ["A3"]})
    _deliver(landing, "loyalty_members", "2025-01-02", "U", {"loyalty_id": ["L1"]})
    con = duckdb.connect(str(warehouse_file))
    con.execute("insert into privacy.landing_purge_records values ('ecommerce_customers', 'A4')")
    con.execute(
        """insert into marts.customer_source_xref values
        ('ecommerce_customers', 'A1', 'c1'), ('ecommerce_customers', 'A2', 'c1'),
        ('loyalty_members', 'L1', 'c2')"""
    )
    con.close()
    con = warehouse.connect(warehouse_file)
    try:
        held = soak.check_records(con, landing)
        assert held.held and held.landing_records == held.xref_records == 3
        assert held.awaiting_landing_purge == 1
        con.execute(
            """delete from marts.customer_source_xref where source_record_id = 'L1';
            insert into marts.customer_source_xref values
                ('ecommerce_customers', 'A3', 'c3'), ('ecommerce_customers', 'A1', 'c4'),
                ('ecommerce_customers', 'A2', null)"""
        )
        broken = soak.check_records(con, landing)
    finally:
        con.close()
    assert not broken.held
    assert broken.missing == ["loyalty_members:L1"]
    assert broken.unexpected == ["ecommerce_customers:A3"]
    assert (broken.duplicated, broken.without_customer) == (2, 1)


def test_activity_is_conserved_from_landing_to_facts_and_customers(
    warehouse_file: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    orders = {
        "order_id": ["O1", "O2", "O3"],
        "customer_account_id": ["A1", "A2", "A9"],
        "order_total": pa.array([10, 20, 5], pa.decimal128(18, 2)),
    }
    _deliver(landing, "ecommerce_orders", "2025-01-01", "U", orders)
    _deliver(landing, "ecommerce_orders", "2025-01-02", "D", {"order_id": ["O3"]})
    con = duckdb.connect(str(warehouse_file))
    con.execute(
        """
        insert into marts.customer_source_xref values
            ('ecommerce_customers', 'A1', 'c1'), ('ecommerce_customers', 'A2', 'c1');
        create table marts.fct_orders as select * from (values
            ('O1', 'c1', 'A1', 10.00::decimal(18, 2), true),
            ('O2', 'c1', 'A2', 20.00::decimal(18, 2), true))
            as t(order_id, customer_id, customer_account_id, order_total, is_revenue);
        create table marts.fct_app_events (
            event_id varchar, customer_id varchar, device_id varchar);
        create table marts.fct_pos_transactions (transaction_id varchar, customer_id varchar,
            card_number varchar, amount decimal(18, 2));
        create table marts.fct_tickets (ticket_id varchar, customer_id varchar, contact_id varchar);
        create table marts.dim_customer as select * from (values
            ('c1', 2, 30.00::decimal(38, 2), 0, 0, 0.00::decimal(38, 2), 0))
            as t(customer_id, order_count, order_revenue, app_event_count,
                 pos_transaction_count, pos_spend, ticket_count);
        """
    )
    con.close()
    con = warehouse.connect(warehouse_file)
    try:
        figures, failures = soak.check_activity(con, landing)
        assert failures == []
        assert figures["ecommerce_orders"]["landing_rows"] == 2
        # An order lost, another put on a customer that is not its account's.
        con.execute(
            """delete from marts.fct_orders where order_id = 'O1';
            insert into marts.fct_orders values ('O4', 'c9', 'A1', 1.00, true)"""
        )
        _, failures = soak.check_activity(con, landing)
    finally:
        con.close()
    assert any("ecommerce_orders: landing 2 rows" in f and "1 missing" in f for f in failures)
    assert any("fct_orders: 1 rows not on their record's customer" in f for f in failures)
    assert any(f.startswith("dim_customer.order_revenue sums to 30.00") for f in failures)


def test_every_historical_id_resolves_in_one_lookup() -> None:
    history = [
        ("cus_a", "active", "cus_a", None),
        ("cus_b", "merged", "cus_a", "cus_a"),
        ("cus_c", "erased", None, None),
        ("cus_d", "merged", None, "cus_e"),  # merged into an id retired since
        ("cus_e", "merged", None, "cus_f"),
        ("cus_f", "retired", None, None),
    ]
    assert soak.id_resolution_failures(history, {"cus_a"}, {"cus_a", "cus_b", "cus_c"}) == {}
    broken = [
        *history,
        ("cus_g", "merged", "cus_b", "cus_b"),  # two lookups: cus_b is merged itself
        ("cus_h", "active", "cus_h", None),  # active, but no customer has it
        ("cus_i", "merged", None, "cus_a"),  # no current id, yet its survivor lives
        ("cus_a", "active", "cus_a", None),
    ]
    found = soak.id_resolution_failures(broken, {"cus_a", "cus_z"}, {"cus_y"})
    assert found == {
        "without_history": ["cus_y"],
        "duplicated": ["cus_a"],
        "active_not_live": ["cus_h"],
        "current_not_live": ["cus_g"],
        "live_not_active": ["cus_z"],
        "merged_into_nothing_gone": ["cus_i"],
    }


def test_churn_outside_the_days_reclustering_is_found() -> None:
    before = {"t:1": "c1", "t:2": "c1", "t:3": "c2", "t:4": "c3"}
    after = {"t:1": "c1", "t:2": "c9", "t:3": "c4", "t:5": "c5"}
    assert soak.moved_outside_reclustering(before, after, {"t:2", "t:3", "t:5"}) == []
    assert soak.moved_outside_reclustering(before, after, {"t:2"}) == ["t:3"]


def test_steward_decisions_hold_while_both_records_live() -> None:
    decisions = [
        ("must_link", "t:1", "t:2"),
        ("cannot_link", "t:3", "t:4"),
        ("must_link", "t:5", "t:6"),
    ]
    held = {"t:1": "c1", "t:2": "c1", "t:3": "c2", "t:4": "c3", "t:5": "c4"}
    assert soak.steward_failures(held, decisions) == []
    broken = held | {"t:2": "c2", "t:4": "c2"}
    assert soak.steward_failures(broken, decisions) == [
        "must_link t:1 t:2",
        "cannot_link t:3 t:4",
    ]


NEEDLES = {"Jane.Roe+shop@example.org", "(415) 555-0134", "12 Main St. Apt 4"}


def test_erased_values_are_found_in_tables_views_files_and_landing(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        """create schema vault;
        create table vault.pii (k varchar, email varchar, n integer, tags varchar[]);
        insert into vault.pii values
            ('1', 'someone@example.org', 1, ['x']),
            ('2', 'JANE.ROE+SHOP@EXAMPLE.ORG ', 2, ['12 main st. apt 4']),
            ('3', 'janexroe+shop@example.org', 3, null);
        create view vault.pii_view as select k, upper(email) as shouting from vault.pii"""
    )
    con.close()
    con = warehouse.connect(path)
    try:
        found = soak.needles_in_tables(con, NEEDLES)
    finally:
        con.close()
    # Dots and pluses are literal: 'janexroe+shop' matches no needle.
    assert found == [
        ("vault.pii", "email", 1),
        ("vault.pii", "tags", 1),
        ("vault.pii_view", "shouting", 1),
    ]

    blob = tmp_path / "export.json"
    blob.write_bytes(b'{"phone": "(415) 555-0134"}')
    clean = tmp_path / "clean.bin"
    clean.write_bytes(b"nothing here")
    assert soak.needles_in_files([blob, clean, tmp_path / "gone"], NEEDLES) == {str(blob): 1}

    landing = tmp_path / "landing"
    _deliver(landing, "crm_contacts", "2025-01-01", "U", {"contact_id": ["C1", "C2"]}, "a")
    _deliver(
        landing,
        "crm_contacts",
        "2025-01-02",
        "U",
        {"contact_id": ["C2"], "phone": ["(415) 555-0134"]},
        "b",
    )
    con = warehouse.connect(path)
    try:
        in_landing = soak.needles_in_landing(con, landing, NEEDLES)
    finally:
        con.close()
    assert list(in_landing.values()) == [1] and next(iter(in_landing)).endswith("b.parquet")


def test_versions_of_erased_ids_are_found_in_snapshots(tmp_path: Path) -> None:
    """An id merged into a customer later erased was the same person's: its
    golden-record versions must go with the survivor's."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        """create schema marts; create schema snapshots;
        create table marts.customer_id_history as select * from (values
            ('cus_a', 'erased'), ('cus_b', 'erased'), ('cus_c', 'active'))
            as t(customer_id, status);
        create table snapshots.snp_customer_golden_records as select * from (values
            ('cus_b', 'token-b'), ('cus_c', 'token-c'), ('cus_c', 'token-c2'))
            as t(customer_id, email_token);
        create table snapshots.snp_other (record_key varchar)"""
    )
    con.close()
    con = warehouse.connect(path)
    try:
        assert soak.erased_id_versions(con) == {"snapshots.snp_customer_golden_records": 1}
        con.execute("delete from snapshots.snp_customer_golden_records where customer_id = 'cus_b'")
        assert soak.erased_id_versions(con) == {}
    finally:
        con.close()


def test_the_plan_puts_every_planted_event_on_a_change_day() -> None:
    for days in (2, 5, 30):
        plan = soak.Plan.for_days(days)
        assert all(1 <= at <= days for at in plan.__dict__.values())
    plan = soak.Plan.for_days(30)
    assert plan.erase_by_id < plan.must_link < plan.cannot_link < plan.rotate_key
    assert plan.rotate_key < plan.erase_by_email
