"""Privacy requests on the ten-day warehouse: access exports answered in one
batch, and an erasure that leaves nothing of the person anywhere and holds
against re-delivery, a key rotation and a full refresh."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from c360 import pipeline
from tests.support.full_refresh import assert_a_full_refresh_changes_nothing
from tests.support.generated_data import DAILY_DAYS as DAYS
from tests.support.generated_data import DAILY_START as START
from tests.support.landing import deliver_erasure_request, landing_image, repoint_landing, upsert
from tests.support.privacy_scan import person_values
from tests.support.warehouse_files import copy_warehouse
from tests.support.warehouse_files import query as _query


def test_access_exports_in_one_batch_equal_each_answered_alone(ten_days) -> None:
    """The intake answers a day's access requests with one read of each table; each
    subject's document is what answering it alone gives: its own records, golden
    record, activity and events, nobody else's."""
    from c360 import privacy

    path, _ = ten_days
    busiest = _query(
        path,
        """select history.current_customer_id, count(*) as ids
        from marts.customer_id_history as history
        where history.current_customer_id is not null
        group by 1 order by ids desc, 1 limit 3""",
    )
    subjects = []
    for index, (customer, _) in enumerate(busiest):
        records = _query(
            path,
            "select source_table, source_record_id from marts.customer_source_xref "
            "where customer_id = ? order by all",
            [customer],
        )
        decision = privacy.Decision(f"R{index}", "access", "completed", customer_id=customer)
        subjects.append(privacy.ExportSubject(decision, records, {"jurisdiction": "GDPR"}))
    # Records no customer holds yet: a subject without a customer id.
    unassigned = privacy.Decision("R9", "access", "completed")
    subjects.append(privacy.ExportSubject(unassigned, subjects[0].records[:1], {}))

    def without_clock(documents: dict) -> dict:
        return {
            rid: {k: v for k, v in d.items() if k != "generated_at"} for rid, d in documents.items()
        }

    con = duckdb.connect(str(path))  # not read-only: dbt in this process may hold the file
    try:
        batch = without_clock(privacy.build_exports(con, subjects))
        alone = {}
        for subject in subjects:
            alone |= without_clock(privacy.build_exports(con, [subject]))
    finally:
        con.close()
    assert batch == alone
    for subject in subjects[:3]:
        document = batch[subject.decision.request_id]
        assert {
            (r["source_table"], r["source_record_id"]) for r in document["identity_records"]
        } == {tuple(r) for r in subject.records}
        assert all(
            r["as_delivered"] and r["every_version_delivered"] for r in document["identity_records"]
        )
        assert document["golden_record"]["customer_id"] == subject.decision.customer_id
        assert len(document["customer_ids_ever_issued"]) >= 1
        assert document["identity_events"]
    assert busiest[0][1] > 1  # the busiest subject holds a merged id: its events name both
    assert batch["R9"]["golden_record"] is None and batch["R9"]["activity"] == {}


PERSON_IN_SIX_SOURCES = """
with links as (select * from read_parquet(?)),
per_person as (
    select links.person_id, count(distinct links.source_table) as sources,
        count(distinct xref.customer_id) as customers, min(xref.customer_id) as customer_id,
        count(*) as records
    from links
    inner join marts.customer_source_xref as xref
        on links.source_table = xref.source_table
        and links.source_record_id = xref.source_record_id
    group by links.person_id
),
sizes as (select customer_id, count(*) as records from marts.customer_source_xref group by 1),
history as (
    select xref.customer_id, count(distinct raw._dt) as days
    from marts.customer_source_xref as xref
    inner join raw.ecommerce_orders as raw
        on xref.source_table = 'ecommerce_customers'
        and raw.customer_account_id = xref.source_record_id
    group by 1
)
select per_person.person_id, per_person.customer_id
from per_person
inner join sizes on per_person.customer_id = sizes.customer_id
inner join history on per_person.customer_id = history.customer_id
where per_person.sources = 6 and per_person.customers = 1
    and sizes.records = per_person.records
order by history.days desc, per_person.person_id
limit 1
"""


def test_an_erased_person_is_gone_everywhere_and_stays_gone(
    generated: Path, ten_days, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person in all six sources with days of history: an access export holds
    every record; after the erasure no table, snapshot, landing file or byte of
    the warehouse holds their values or tokens, their activity is kept unlinked,
    everyone else is untouched; the enrichment provider's re-delivery next day
    is suppressed while a first-party sign-up becomes a new customer; a key
    rotation keeps every link."""
    from c360 import privacy
    from c360.cli import main
    from c360.tokenization import KEY_ENV
    from tests.support.privacy_scan import values_in_file_bytes, values_in_landing, values_in_tables

    landing = tmp_path / "landing"
    shutil.copytree(generated / "landing", landing)
    path = copy_warehouse(ten_days[0], tmp_path / "warehouse.duckdb")
    repoint_landing(path, generated / "landing", landing)
    person, customer = _query(
        path, PERSON_IN_SIX_SOURCES, [str(generated / "truth" / "person_links.parquet")]
    )[0]
    records = set(
        _query(
            path,
            "select source_table, source_record_id from marts.customer_source_xref "
            "where customer_id = ?",
            [customer],
        )
    )
    assert len({table for table, _ in records}) == 6
    needles = person_values(path, customer)
    email = _query(
        path,
        "select min(email) from raw.ecommerce_customers where customer_account_id in "
        "(select source_record_id from marts.customer_source_xref where customer_id = ?) "
        "and email <> ''",
        [customer],
    )[0][0]
    assert email and len(needles) >= 8
    # The scans can see the person before the erasure: in tables, landing and bytes.
    assert values_in_file_bytes(path, needles)
    assert values_in_landing(landing, needles)
    orders = _query(
        path,
        "select order_id from marts.fct_orders where customer_id = ? order by 1",
        [customer],
    )
    assert orders
    others = set(
        _query(
            path,
            "select source_table, source_record_id, customer_id from marts.customer_source_xref "
            "where customer_id <> ?",
            [customer],
        )
    )
    revenue = _query(path, "select sum(order_total), count(*) from marts.fct_orders")

    # Access: one command, every source record, the golden record, activity, events.
    assert main(["privacy", "export", "--email", email.upper(), "--warehouse", str(path)]) == 0
    exported = _query(
        path,
        "select export_file, status, customer_ids from privacy.request_log "
        "where request_type = 'access'",
    )
    assert len(exported) == 1 and exported[0][1:] == ("completed", customer)
    export = json.loads(Path(exported[0][0]).read_text())
    held = {(r["source_table"], r["source_record_id"]) for r in export["identity_records"]}
    assert held == records
    assert all(r["as_delivered"] for r in export["identity_records"])
    assert all(r["every_version_delivered"] for r in export["identity_records"])
    assert export["golden_record"]["customer_id"] == customer
    assert "@" in export["golden_record"]["email"]
    assert len(export["activity"]["orders"]) == len(orders)
    assert any(e["event_type"] == "new" for e in export["identity_events"])

    # Erasure, delivered in the landing zone like any request.
    erase_day = START + dt.timedelta(days=DAYS + 1)
    deliver_erasure_request(landing, erase_day, "PR-ERASE-1", f"  {email.upper()} ")
    erased = pipeline.run(landing, path)
    assert erased.days[0].privacy.records_erased >= len(records)
    # The file's rewrite, whose cost follows the warehouse, waits for the
    # erasures of a week (privacy.BYTE_PURGE_WITHIN_DAYS): it is due, not done.
    assert not erased.days[0].purged.compacted
    assert erased.days[0].purged.bytes_purge_due_on == dt.date.today() + dt.timedelta(
        days=privacy.BYTE_PURGE_WITHIN_DAYS
    )
    # So does the rewrite of the landing files that held the person's rows.
    assert erased.days[0].privacy.landing_files_to_purge > 0
    assert values_in_landing(landing, needles)
    purged = privacy.finish(path, today=erased.days[0].purged.bytes_purge_due_on)
    assert purged.compacted
    assert purged.landing_files_rewritten >= erased.days[0].privacy.landing_files_to_purge
    assert privacy.bytes_purge_due_on(path) is None

    assert _query(
        path,
        "select status, current_customer_id from marts.customer_id_history where customer_id = ?",
        [customer],
    ) == [("erased", None)]
    assert _query(
        path,
        "select event_type, reason from marts.identity_events where primary_customer_id = ? "
        "and run_date = ?",
        [customer, erase_day],
    ) == [("erasure", "privacy")]
    assert _query(
        path,
        "select status, is_deadline_met, records_affected from marts.privacy_requests "
        "where request_id = 'PR-ERASE-1'",
    ) == [("completed", True, len(records))]
    assert not Path(exported[0][0]).exists()  # the earlier export was a copy of them
    # Nowhere: no table or view, no snapshot, no landing file, no byte of the file.
    assert values_in_tables(path, needles) == []
    assert values_in_landing(landing, needles) == []
    assert values_in_file_bytes(path, needles) == set()
    # Activity stays for the totals, with no link to the person.
    assert _query(path, "select sum(order_total), count(*) from marts.fct_orders") == revenue
    unlinked = _query(
        path,
        "select count(*) filter (where customer_id is null and customer_account_id is null) "
        "from marts.fct_orders where order_id in (select unnest(?::varchar[]))",
        [[o[0] for o in orders]],
    )[0][0]
    assert unlinked == len(orders)
    assert _query(
        path, "select count(*) from marts.fct_orders where customer_id = ?", [customer]
    ) == [(0,)]
    # Everyone else keeps their records and ids.
    after = set(
        _query(
            path,
            "select source_table, source_record_id, customer_id from marts.customer_source_xref",
        )
    )
    assert after == others

    # The key is rotated before the next day: history is re-tokenized now, and
    # that day's run re-tokenizes the rest (`c360 privacy rotate-key
    # --at-next-run`; without the flag the command rebuilds the day at once).
    xref_before = set(_query(path, "select * from marts.customer_source_xref"))
    golden_versions = _query(path, "select count(*) from snapshots.snp_customer_golden_records")
    old_tokens = privacy.vault_tokens(path)
    old_email_tokens = {
        r[0] for r in _query(path, "select email_token from marts.dim_customer") if r[0]
    }
    monkeypatch.delenv(KEY_ENV, raising=False)  # the warehouse has the development key
    rotated = pipeline.rotate_tokenization_key(b"a-new-test-key", path, at_next_run=True)
    assert rotated.tokens_mapped > 1000
    monkeypatch.setenv(KEY_ENV, "a-new-test-key")

    # Next day the enrichment provider sends the person again (the same
    # profile, and a new one with their email); they also sign up again.
    redelivery_day = erase_day + dt.timedelta(days=1)
    profile = next(r for t, r in records if t == "enrichment_profiles")
    original = landing_image(generated, "enrichment_profiles", "provider_record_id", profile)
    assert original.num_rows == 1
    resent = pa.concat_tables(
        [
            original,
            original.set_column(0, "provider_record_id", pa.array(["XP-NEW-PROFILE-1"])),
        ]
    )
    resent = resent.set_column(
        resent.schema.get_field_index("email"), "email", pa.array([email, email.lower()])
    )
    upsert(landing, "enrichment_profiles", redelivery_day, resent)
    account = next(r for t, r in records if t == "ecommerce_customers")
    signup = landing_image(generated, "ecommerce_customers", "customer_account_id", account)
    signup = signup.set_column(0, "customer_account_id", pa.array(["A-RESIGNUP-1"]))
    signup = signup.set_column(signup.schema.get_field_index("email"), "email", pa.array([email]))
    upsert(landing, "ecommerce_customers", redelivery_day, signup)
    pipeline.run(landing, path)
    # The rotation lost no link and added no history: everyone keeps their
    # records and id, and only the new sign-up is a new golden record version.
    assert privacy.old_tokens_left(path, old_tokens) == 0
    new_email_tokens = {
        r[0] for r in _query(path, "select email_token from marts.dim_customer") if r[0]
    }
    assert len(new_email_tokens) == len(old_email_tokens) + 1
    assert not new_email_tokens & old_email_tokens
    assert xref_before < set(_query(path, "select * from marts.customer_source_xref"))
    assert _query(path, "select count(*) from snapshots.snp_customer_golden_records") == [
        (golden_versions[0][0] + 1,)
    ]
    assert _query(
        path,
        "select count(*) from marts.customer_source_xref where source_table = "
        "'enrichment_profiles' and source_record_id in (?, 'XP-NEW-PROFILE-1')",
        [profile],
    ) == [(0,)]
    assert _query(
        path,
        "select sum(rows_removed) from marts.privacy_suppressions where run_date = ?",
        [redelivery_day],
    ) == [(2,)]
    new_id = _query(
        path,
        "select customer_id from marts.customer_source_xref "
        "where source_record_id = 'A-RESIGNUP-1'",
    )[0][0]
    assert new_id != customer
    assert _query(
        path, "select issued_on from marts.customer_id_history where customer_id = ?", [new_id]
    ) == [(redelivery_day,)]
    # The redelivered row left raw at once; its landing file is rewritten with
    # the next byte purge, like every file holding an erased row.
    assert values_in_landing(landing, {profile})
    assert privacy.purge_bytes(path) >= 1
    assert values_in_landing(landing, {profile}) == []
    # After eleven days of incremental runs with their merges and splits, this
    # erasure and the re-delivery, a full rebuild from raw gives the same.
    assert_a_full_refresh_changes_nothing(path, tmp_path)
