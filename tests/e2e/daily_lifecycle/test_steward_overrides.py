"""After the ten days, a planted merge, then a steward's cannot-link and
must-link: merge and split events, the surviving id, opt-outs that follow the
records, and activity restated without loss."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from c360 import pipeline
from c360.settings import settings
from tests.support.dbt_project import copy_project
from tests.support.generated_data import DAILY_DAYS as DAYS
from tests.support.generated_data import DAILY_START as START
from tests.support.landing import resent_ticket, upsert
from tests.support.warehouse_files import copy_warehouse
from tests.support.warehouse_files import query as _query

TOTALS = """select
    (select sum(order_total) from marts.fct_orders),
    (select count(*) from marts.fct_orders),
    (select count(*) from marts.fct_tickets),
    (select sum(amount) from marts.fct_pos_transactions),
    (select sum(order_revenue) from marts.dim_customer),
    (select sum(order_count) from marts.dim_customer),
    (select sum(ticket_count) from marts.dim_customer),
    (select sum(pos_spend) from marts.dim_customer),
    (select sum(app_event_count) from marts.dim_customer)"""


def test_a_planted_merge_then_a_cannot_link_split(
    generated: Path, ten_days, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two customers gain a shared email: one merge event, the older id survives.
    A steward then says the two records cannot link: one split, the larger side
    keeps the id, and every sum over customers stays the same throughout."""
    landing = tmp_path / "landing"
    shutil.copytree(generated / "landing", landing)
    path = copy_warehouse(ten_days[0], tmp_path / "warehouse.duckdb")
    totals = _query(path, TOTALS)
    # An e-commerce record of a two-record customer and a single-record
    # customer with the same first name and no conflicting birth date or
    # suffix (the same person's second account, say): give the single one the
    # first one's email, as if it was typed on both accounts.
    pair = _query(
        path,
        """with candidates as (
            select stg.customer_account_id, stg.email, xref.customer_id, records.*,
                count(*) over (partition by xref.customer_id) as customer_records
            from marts.customer_source_xref as xref
            left join staging.stg_ecommerce__customers as stg
                on xref.source_table = 'ecommerce_customers'
                and xref.source_record_id = stg.customer_account_id
            left join intermediate.int_identity_records as records
                on records.record_key = 'ecommerce_customers:' || stg.customer_account_id),
        usable as (
            select * from candidates
            where customer_account_id is not null and email_token is not null
              and name_suffix_inferred is null and first_name_canonical is not null)
        select a.customer_account_id, a.customer_id, a.email,
               b.customer_account_id, b.customer_id
        from usable as a inner join usable as b
            on a.first_name_canonical = b.first_name_canonical
            and (a.date_of_birth_normalized is null or b.date_of_birth_normalized is null)
        where a.customer_records = 2 and b.customer_records = 1 and b.phone_token is null
        order by a.last_name_normalized = b.last_name_normalized desc,
                 a.customer_account_id, b.customer_account_id
        limit 1""",
    )
    keep_record, keep_id, email, moved_record, moved_id = pair[0]
    con = duckdb.connect(str(path))
    image = con.sql(
        "select * exclude (_dt, _source_file, _loaded_at) from raw.ecommerce_customers "
        "where customer_account_id = ? order by _dt desc, _loaded_at desc limit 1",
        params=[moved_record],
    ).to_arrow_table()
    con.close()
    merge_day = START + dt.timedelta(days=DAYS + 1)
    image = image.set_column(image.schema.get_field_index("email"), "email", pa.array([email]))
    image = image.set_column(
        image.schema.get_field_index("_extracted_at"),
        "_extracted_at",
        pa.array([f"{merge_day.isoformat()}T06:00:00"]),
    )
    upsert(landing, "ecommerce_customers", merge_day, image)
    # The same day, the single-record customer opts out of sale (CCPA), by id.
    assert _opted_out(path, keep_id, moved_id) == {keep_id: False, moved_id: False}
    upsert(
        landing,
        "privacy_requests",
        merge_day,
        _sale_request("PR-OPT-OUT", "opt_out_sale", moved_id, merge_day),
    )
    merged = pipeline.run(landing, path)
    assert [d.run_date for d in merged.days] == [merge_day]
    # The oldest id survives (issued first, then the smaller id).
    issued_on = dict(
        _query(
            path,
            "select customer_id, issued_on from marts.customer_id_history "
            "where customer_id in (?, ?)",
            [keep_id, moved_id],
        )
    )
    survivor, retired = sorted((keep_id, moved_id), key=lambda c: (issued_on[c], c))
    events = _query(
        path,
        "select event_type, primary_customer_id, customer_ids_before, reason "
        "from marts.identity_events where run_date = ? and event_type = 'merge'",
        [merge_day],
    )
    assert events == [("merge", survivor, f"{survivor},{retired}", "rule")]
    assert _query(
        path,
        "select status, current_customer_id from marts.customer_id_history where customer_id = ?",
        [retired],
    ) == [("merged", survivor)]
    assert _query(path, TOTALS) == totals
    # The most restrictive record wins: the merged customer is opted out.
    assert _opted_out(path, survivor) == {survivor: True}
    assert _query(
        path, "select count(*) from marts.marketing_audience where customer_id = ?", [survivor]
    ) == [(0,)]

    # The steward's fix: a cannot-link override in the (copied) project.
    project = copy_project(tmp_path)
    with (project / "seeds" / "steward_overrides.csv").open("a") as seed:
        seed.write(
            f"cannot_link,ecommerce_customers,{keep_record},ecommerce_customers,{moved_record},"
            f"two people typed one email,steward@example.com,{merge_day.isoformat()}\n"
        )
    # The steward's branch is run as a new process would run it: with its own
    # settings (they are read once per process).
    monkeypatch.setenv("C360_DBT_PROJECT_DIR", str(project))
    settings.cache_clear()
    split_day = merge_day + dt.timedelta(days=1)
    upsert(landing, "crm_tickets", split_day, resent_ticket(path))
    split = pipeline.run(landing, path)
    assert [d.run_date for d in split.days] == [split_day]
    events = _query(
        path,
        "select event_type, primary_customer_id, customer_ids_after, reason "
        "from marts.identity_events where run_date = ?",
        [split_day],
    )
    splits = [e for e in events if e[0] == "split"]
    assert len(splits) == 1 and splits[0][1] == survivor and splits[0][3] == "override"
    assert len(splits[0][2].split(",")) == 2  # the weakest path is cut, nothing else
    owners = dict(
        _query(
            path,
            "select source_record_id, customer_id from marts.customer_source_xref "
            "where source_table = 'ecommerce_customers' and source_record_id in (?, ?)",
            [keep_record, moved_record],
        )
    )
    # The larger side (the two-record customer's records) keeps the id.
    assert owners[keep_record] == survivor != owners[moved_record]
    # Both parts of the split inherit the opt-out.
    assert set(_opted_out(path, *owners.values()).values()) == {True}
    # Both sides' activity is restated to their customers; nothing is lost.
    assert _query(path, TOTALS) == totals
    for record, customer in owners.items():
        facts = _query(
            path,
            "select count(*), count(*) filter (where customer_id = ?) from marts.fct_orders "
            "where customer_account_id = ?",
            [customer, record],
        )[0]
        assert facts[0] == facts[1]

    # A must-link joins a record the rules and the model would never join (a
    # different first name): one merge, for the steward's reason.
    other_record, other_id = _query(
        path,
        """select xref.source_record_id, xref.customer_id
        from marts.customer_source_xref as xref
        inner join intermediate.int_identity_records as records
            on records.record_key = 'ecommerce_customers:' || xref.source_record_id
        inner join intermediate.int_identity_records as kept
            on kept.record_key = 'ecommerce_customers:' || ?
        where xref.source_table = 'ecommerce_customers'
          and records.first_name_canonical <> kept.first_name_canonical
          and xref.customer_id in (select customer_id from marts.customer_source_xref
                                   group by customer_id having count(*) = 1)
        order by xref.source_record_id limit 1""",
        [keep_record],
    )[0]
    with (project / "seeds" / "steward_overrides.csv").open("a") as seed:
        seed.write(
            f"must_link,ecommerce_customers,{keep_record},ecommerce_customers,{other_record},"
            f"same person: confirmed by phone,steward@example.com,{split_day.isoformat()}\n"
        )
    issued = dict(
        _query(
            path,
            "select customer_id, issued_on from marts.customer_id_history "
            "where customer_id in (?, ?)",
            [owners[keep_record], other_id],
        )
    )
    oldest = min(issued, key=lambda customer: (issued[customer], customer))
    # ... on a day that also re-trains the model: decisions survive re-training.
    pipeline.train(path)
    link_day = split_day + dt.timedelta(days=1)
    upsert(landing, "crm_tickets", link_day, resent_ticket(path))
    # ... and the split-off customer opts back in, through the command line;
    # the day's run acts on it.
    from c360.cli import main

    opt_in = [
        *("privacy", "opt-in", "--customer-id", owners[moved_record]),
        *("--jurisdiction", "CCPA", "--defer", "--warehouse", str(path)),
    ]
    assert main(opt_in) == 0
    pipeline.run(landing, path)
    merges = _query(
        path,
        "select primary_customer_id, reason from marts.identity_events "
        "where run_date = ? and event_type = 'merge'",
        [link_day],
    )
    assert merges == [(oldest, "override")]
    scoring = _query(
        path, "select is_full from matching.splink_scoring_runs where run_date = ?", [link_day]
    )
    final = dict(
        _query(
            path,
            "select source_record_id, customer_id from marts.customer_source_xref "
            "where source_table = 'ecommerce_customers' and source_record_id in (?, ?, ?)",
            [keep_record, moved_record, other_record],
        )
    )
    assert final[keep_record] == final[other_record] != final[moved_record]
    assert _opted_out(path, final[keep_record], final[moved_record]) == {
        final[keep_record]: True,
        final[moved_record]: False,
    }
    assert _query(
        path,
        "select request_type, channel, status, is_deadline_met from marts.privacy_requests "
        "where request_id = 'PR-OPT-OUT' or channel = 'cli' order by 1",
    ) == [("opt_in_sale", "cli", "completed", True), ("opt_out_sale", "landing", "completed", True)]
    assert _query(path, TOTALS) == totals
    print(f"\nre-trained before the must-link day; that day scored in full: {scoring}")


def _opted_out(path: Path, *customer_ids: str) -> dict[str, bool]:
    return dict(
        _query(
            path,
            "select customer_id, is_opted_out_of_sale from marts.dim_customer "
            "where customer_id in (select unnest(?::varchar[]))",
            [list(customer_ids)],
        )
    )


def _sale_request(request_id: str, kind: str, customer_id: str, day: dt.date) -> pa.Table:
    return pa.table(
        {
            "request_id": [request_id],
            "request_type": [kind],
            "jurisdiction": ["CCPA"],
            "subject_email": pa.nulls(1, pa.string()),
            "subject_phone": pa.nulls(1, pa.string()),
            "subject_loyalty_id": pa.nulls(1, pa.string()),
            "subject_customer_id": [customer_id],
            "received_at": [f"{day}T07:00:00"],
            "_op": ["U"],
            "_extracted_at": [f"{day}T08:00:00"],
        }
    )
