"""The privacy intake (c360.privacy.intake) on a tiny hand-built warehouse.

Five identity records of three people, delivered in one day and run through
`c360 run` once (module fixture): Jane has an account, a loyalty membership
and a data broker's profile, all with her email; Omar and Lena an account
each. Each test takes a copy of the warehouse (and of its landing zone),
submits requests as `c360 privacy` does, runs one intake and reads what it did.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from c360 import pipeline, privacy
from tests.support.landing import repoint_landing, write_csv
from tests.support.privacy_scan import values_in_file_bytes, values_in_landing
from tests.support.warehouse_files import copy_warehouse, query

DAY = dt.date(2025, 3, 1)
INTAKE_DAY = DAY + dt.timedelta(days=1)
JANE_EMAIL = "jane.doe@example.org"
JANE_PHONE = "+12175550101"  # 217-555-0101 as staging normalizes it

_JANE = {
    "first_name": "Jane",
    "last_name": "Doe",
    "email": JANE_EMAIL,
    "phone": "217-555-0101",
    "street_address": "12 Main St",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701",
    "date_of_birth": "1980-04-12",
}
_STAMP = {"created_at": f"{DAY}T01:00:00", "updated_at": f"{DAY}T01:00:00"}
LANDING = {
    "ecommerce_customers": [
        {"customer_account_id": "A1", **_JANE, "country": "US", **_STAMP},
        {
            "customer_account_id": "A2",
            "first_name": "Omar",
            "last_name": "Haddad",
            "email": "omar.haddad@example.net",
            "phone": "217-555-0102",
            "street_address": "4 Elm Ave",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62702",
            "country": "US",
            "date_of_birth": "1975-11-30",
            **_STAMP,
        },
        {
            "customer_account_id": "A3",
            "first_name": "Lena",
            "last_name": "Park",
            "email": "lena.park@example.net",
            "phone": "309-555-0103",
            "street_address": "9 Oak Rd",
            "city": "Peoria",
            "state": "IL",
            "postal_code": "61602",
            "country": "US",
            "date_of_birth": "1990-06-01",
            **_STAMP,
        },
    ],
    "loyalty_members": [
        {
            "loyalty_id": "L0000000001",
            **_JANE,
            "tier": "gold",
            "points_balance": "120",
            "enrolled_at": f"{DAY}T01:00:00",
            "updated_at": f"{DAY}T01:00:00",
        },
    ],
    "enrichment_profiles": [
        {"provider_record_id": "P1", **_JANE, "refreshed_at": f"{DAY}T01:00:00"},
    ],
    "ecommerce_orders": [
        {"order_id": "O1", "customer_account_id": "A1", "order_total": "20.00"},
        {"order_id": "O2", "customer_account_id": "A2", "order_total": "35.50"},
        {"order_id": "O3", "customer_account_id": "A1", "order_total": "12.25"},
        {"order_id": "O4", "customer_account_id": "A3", "order_total": "99.00"},
    ],
}
for _order in LANDING["ecommerce_orders"]:
    _order |= {
        "order_ts": f"{DAY}T00:30:00",
        "currency": "USD",
        "status": "placed",
        "ship_postal_code": "62701",
    }
JANES_RECORDS = {
    ("ecommerce_customers", "A1"),
    ("loyalty_members", "L0000000001"),
    ("enrichment_profiles", "P1"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(landing, warehouse) after one `c360 run` of the tiny landing zone."""
    root = tmp_path_factory.mktemp("privacy_intake")
    landing = root / "landing"
    for table, rows in LANDING.items():
        write_csv(landing, table, DAY, rows)
    path = root / "warehouse.duckdb"
    result = pipeline.run(landing, path, quiet=True)
    assert [day.run_date for day in result.days] == [DAY]
    return landing, path


def _customers(path: Path) -> dict[tuple[str, str], str]:
    return {
        (table, record): customer
        for table, record, customer in query(
            path,
            "select source_table, source_record_id, customer_id from marts.customer_source_xref",
        )
    }


def test_the_tiny_warehouse_holds_three_customers(built) -> None:
    """What the other tests rely on: Jane's three records are one customer."""
    _, path = built
    customers = _customers(path)
    assert len(customers) == 5
    assert len(set(customers.values())) == 3
    assert len({customers[record] for record in JANES_RECORDS}) == 1


def _one_batch(built: tuple[Path, Path], tmp_path: Path) -> dict:
    """A copy of the warehouse and its landing zone; four requests submitted
    (an erasure, an access, an access naming two people, an opt-out) and one
    intake run over them, with dbt's purge of its tables that follows it."""
    landing, source = built
    copied_landing = tmp_path / "landing"
    shutil.copytree(landing, copied_landing)
    path = copy_warehouse(source, tmp_path / "warehouse.duckdb")
    repoint_landing(path, landing, copied_landing)
    customers = _customers(path)
    ids = {
        "erasure": privacy.submit(
            "erasure", email=f"  {JANE_EMAIL.upper()} ", jurisdiction="GDPR", warehouse_file=path
        ),
        "access": privacy.submit(
            "access", email="Lena.Park@example.net", jurisdiction="CCPA", warehouse_file=path
        ),
        "two_people": privacy.submit(
            "access",
            email="omar.haddad@example.net",
            phone="(309) 555-0103",  # Lena's
            jurisdiction="GDPR",
            warehouse_file=path,
        ),
        "opt_out": privacy.submit(
            "opt_out_sale",
            customer_id=customers[("ecommerce_customers", "A2")],
            jurisdiction="CCPA",
            warehouse_file=path,
        ),
    }
    result = privacy.intake(INTAKE_DAY, path)
    # The intake's second half: dbt deletes from its tables what the intake
    # purged from raw (macros/privacy/purge_pending_erasures.sql).
    pipeline.purge_dbt_tables("intake", "stage-test", path, run_date=INTAKE_DAY, quiet=True)
    return {
        "path": path,
        "landing": copied_landing,
        "ids": ids,
        "customers": customers,
        "result": result,
    }


@pytest.fixture(scope="module")
def batch(built, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One intake, for the tests that only read what it did."""
    return _one_batch(built, tmp_path_factory.mktemp("privacy_batch"))


def _log(path: Path, request_id: str) -> dict:
    row = query(
        path,
        "select request_type, status, status_reason, customers_affected, records_affected, "
        "activity_rows_unlinked, customer_ids, export_file, channel "
        "from privacy.request_log where request_id = ?",
        [request_id],
    )
    assert len(row) == 1, request_id
    names = [
        *("type", "status", "reason", "customers", "records", "activity"),
        *("customer_ids", "export_file", "channel"),
    ]
    return dict(zip(names, row[0], strict=True))


def test_the_intake_logs_each_request_with_its_outcome(batch) -> None:
    path, ids, customers = batch["path"], batch["ids"], batch["customers"]
    assert batch["result"].requests == {"completed": 3, "needs_review": 1}
    assert batch["result"].records_erased == 3
    jane = customers[("ecommerce_customers", "A1")]
    erasure = _log(path, ids["erasure"])
    assert erasure == {
        "type": "erasure",
        "status": "completed",
        "reason": None,
        "customers": 1,
        "records": 3,
        "activity": 2,  # O1 and O3
        "customer_ids": jane,
        "export_file": None,
        "channel": "cli",
    }
    opt_out = _log(path, ids["opt_out"])
    assert (opt_out["type"], opt_out["status"]) == ("opt_out_sale", "completed")
    assert opt_out["records"] == 1
    assert opt_out["customer_ids"] == customers[("ecommerce_customers", "A2")]
    # The log holds no subject's email: it names customers by id only.
    logged = query(path, "select * from privacy.request_log")
    assert len(logged) == 4
    assert not [v for row in logged for v in row if isinstance(v, str) and "@" in v]


def test_identifiers_that_name_two_customers_need_review_and_change_nothing(batch) -> None:
    path, ids = batch["path"], batch["ids"]
    logged = _log(path, ids["two_people"])
    assert (logged["status"], logged["customers"], logged["records"]) == ("needs_review", 0, 0)
    assert logged["reason"] == "the identifiers point to different customers"
    assert logged["customer_ids"] is None and logged["export_file"] is None
    # Omar's and Lena's records are all still there, and nobody's export was written.
    assert query(path, "select customer_account_id from raw.ecommerce_customers order by 1") == [
        ("A2",),
        ("A3",),
    ]
    assert [Path(f).stem for f in batch["result"].exports] == [ids["access"]]


def test_an_erasure_deletes_every_record_of_the_customer_and_unlinks_their_activity(
    batch,
) -> None:
    path = batch["path"]
    held = {
        (table, record)
        for table, key in [
            ("ecommerce_customers", "customer_account_id"),
            ("loyalty_members", "loyalty_id"),
            ("enrichment_profiles", "provider_record_id"),
        ]
        for (record,) in query(path, f"select {key} from raw.{table}")
    }
    assert held == {("ecommerce_customers", "A2"), ("ecommerce_customers", "A3")}
    # The tables the rest of the day reads lose them at once.
    for relation, left in {
        "staging.stg_ecommerce__customers": 2,
        "staging.stg_loyalty__members": 0,
        "staging.stg_enrichment__profiles": 0,
        "vault.vault_identity_pii": 2,
        "intermediate.int_identity_records": 2,
    }.items():
        assert query(path, f"select count(*) from {relation}") == [(left,)], relation
    # Her orders stay, for the totals, with no link to her (nor her postcode).
    assert query(
        path,
        "select order_id, customer_account_id, ship_postal_code, order_total "
        "from raw.ecommerce_orders order by 1",
    ) == [
        ("O1", None, None, "20.00"),
        ("O2", "A2", "62701", "35.50"),
        ("O3", None, None, "12.25"),
        ("O4", "A3", "62701", "99.00"),
    ]
    # The vault's token map dropped her values too, and kept everyone else's.
    tokenized = "select count(*) from vault.vault_pii_tokens where pii_value = ?"
    assert query(path, tokenized, [JANE_EMAIL]) == query(path, tokenized, [JANE_PHONE]) == [(0,)]
    assert query(path, tokenized, ["omar.haddad@example.net"]) == [(1,)]


def test_an_erasure_leaves_suppression_entries_that_are_not_her_values(batch) -> None:
    entries = set(
        query(
            batch["path"],
            "select identifier_kind, identifier_hash, applies_to, added_on "
            "from privacy.suppression_list",
        )
    )
    expected = {
        ("source_record", privacy.suppression_hash("source_record", f"{t}|{r}"), "all_sources")
        for t, r in JANES_RECORDS
    } | {
        ("email", privacy.suppression_hash("email", JANE_EMAIL), "third_party"),
        ("phone", privacy.suppression_hash("phone", JANE_PHONE), "third_party"),
    }
    assert entries == {(*entry, INTAKE_DAY) for entry in expected}


def test_an_access_request_exports_the_subject_and_nobody_else(batch) -> None:
    path, ids, customers = batch["path"], batch["ids"], batch["customers"]
    lena = customers[("ecommerce_customers", "A3")]
    logged = _log(path, ids["access"])
    assert (logged["status"], logged["customer_ids"], logged["records"]) == ("completed", lena, 1)
    export = json.loads(Path(logged["export_file"]).read_text())
    assert export["request"]["request_id"] == ids["access"]
    assert export["request"]["jurisdiction"] == "CCPA"
    assert export["customer_id"] == lena
    assert [
        (r["source_table"], r["source_record_id"], r["as_delivered"]["email"])
        for r in export["identity_records"]
    ] == [("ecommerce_customers", "A3", "lena.park@example.net")]
    assert len(export["identity_records"][0]["every_version_delivered"]) == 1
    assert export["golden_record"]["customer_id"] == lena
    assert [o["order_id"] for o in export["activity"]["orders"]] == ["O4"]
    assert [e["event_type"] for e in export["identity_events"]] == ["new"]
    text = json.dumps(export)
    assert "omar" not in text.lower() and JANE_EMAIL not in text


def test_an_opt_out_flags_every_record_of_the_customer(batch) -> None:
    path, ids = batch["path"], batch["ids"]
    assert query(
        path,
        "select source_table, source_record_id, is_opted_out_of_sale, decided_on, request_id, "
        "origin from privacy.sale_preferences order by all",
    ) == [("ecommerce_customers", "A2", True, INTAKE_DAY, ids["opt_out"], "request")]


def test_the_byte_purge_rewrites_the_landing_files_and_the_warehouse_file(
    built, tmp_path: Path
) -> None:
    """The erased values stay beyond every query until the batched byte purge;
    `finish` on its due date rewrites the landing files and the DuckDB file."""
    batch = _one_batch(built, tmp_path)
    path, landing = batch["path"], batch["landing"]
    needles = {JANE_EMAIL, "217-555-0101"}
    assert values_in_landing(landing, needles)
    due = privacy.bytes_purge_due_on(path)
    assert due is not None
    not_yet = privacy.finish(path, today=due - dt.timedelta(days=1))
    assert not not_yet.compacted and not_yet.bytes_purge_due_on == due
    assert values_in_landing(landing, needles)

    done = privacy.finish(path, today=due)
    assert done.compacted
    # The four CSV files that held her rows or her orders' link to her.
    assert done.landing_files_rewritten == 4
    assert values_in_landing(landing, needles) == []
    assert values_in_file_bytes(path, needles | {JANE_PHONE}) == set()
    assert privacy.bytes_purge_due_on(path) is None
    # The rewritten files still hold everyone else, as delivered.
    assert values_in_landing(landing, {"omar.haddad@example.net", "lena.park@example.net"})
