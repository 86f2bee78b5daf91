"""Ten generated days through `c360 run`, then a planted merge and a steward's
cannot-link: stable customer ids, events, history and restated activity."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360 import pipeline
from c360.contract import TABLES
from c360.settings import PROJECT_DIR
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from tests.warehouse_files import copy_warehouse
from tests.warehouse_files import query as _query

PROJECT_DIR_ENV = "C360_DBT_PROJECT_DIR"

DAYS = 10
START = dt.date(2025, 1, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("daily_generated")
    generate(
        GeneratorConfig(customers=1200, days=DAYS, seed=9, chunk_size=1200), out, progress=False
    )
    return out


@pytest.fixture(scope="module")
def ten_days(generated: Path, tmp_path_factory: pytest.TempPathFactory):
    """Day 0, then ten days of changes, one run; a snapshot of the ids after each
    day comes from the SCD2 state itself."""
    path = tmp_path_factory.mktemp("daily_wh") / "warehouse.duckdb"
    result = pipeline.run(generated / "landing", path)
    return path, result


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


def test_every_day_is_processed_in_order_with_metrics(ten_days) -> None:
    path, result = ten_days
    dates = [day.run_date for day in result.days]
    assert dates == [START + dt.timedelta(days=d) for d in range(DAYS + 1)]
    metrics = _query(
        path,
        "select run_date, records_added, records_changed, records_deleted, ids_kept, "
        "ids_minted, untouched_ids_changed, records_rescored, records_live "
        "from marts.identity_run_metrics order by run_date",
    )
    assert [m[0] for m in metrics] == dates
    first, later = metrics[0], metrics[1:]
    assert first[1] == first[8] > 3000 and first[4] == 0 and first[5] > 1000
    for row in later:
        # Untouched customers keep their ids; a day re-scores its changes only.
        assert row[6] == 0
        assert row[7] < 0.1 * row[8]
        assert row[4] > 0.95 * metrics[0][5]
    assert sum(row[1] + row[2] + row[3] for row in later) > 50
    text = pipeline.format_run(result)
    assert "churn among untouched customers 0" in text


def test_customers_untouched_by_changes_keep_their_ids_across_all_days(ten_days) -> None:
    """A record whose customer id changed after day 0 belongs to a component
    some day touched: every other record still holds its day-0 id."""
    path, _ = ten_days
    moved = _query(
        path,
        """select count(*) from intermediate.int_customer_id_assignments
        where valid_from > ? and previous_customer_id is not null""",
        [START],
    )[0][0]
    total = _query(path, "select count(*) from marts.customer_source_xref")[0][0]
    kept = _query(
        path,
        """select count(*) from intermediate.int_customer_id_assignments
        where valid_to is null and valid_from = ?""",
        [START],
    )[0][0]
    assert moved < 0.02 * total
    assert kept > 0.95 * total


def test_incremental_clustering_equals_clustering_everything(ten_days, tmp_path: Path) -> None:
    """The last day re-clustered only the components it touched, and got what
    clustering every record again gets."""
    from c360.dbt import run_dbt

    path, result = ten_days
    reclustered, total = _query(
        path,
        "select count(*) filter (where reclustered_on = ?), count(*) "
        "from intermediate.int_identity_clusters",
        [result.days[-1].run_date],
    )[0]
    assert 0 < reclustered < 0.1 * total
    clusters = "select record_key, cluster_id, is_flagged_for_review from "
    clusters += "intermediate.int_identity_clusters order by all"
    incremental = _query(path, clusters)
    copy = copy_warehouse(path, tmp_path / "full.duckdb")
    last = result.days[-1].run_date.isoformat()
    run_dbt(
        [
            "run",
            "--select",
            "int_identity_clusters",
            "--quiet",
            "--vars",
            f"{{full_recluster: true, run_date: '{last}'}}",
        ],
        warehouse=copy,
    )
    assert _query(copy, clusters) == incremental


def test_a_rerun_with_nothing_new_is_a_no_op(generated: Path, ten_days) -> None:
    path, _ = ten_days
    tables = [
        "marts.customer_source_xref",
        "marts.customer_id_history",
        "marts.identity_events",
        "marts.dim_customer",
        "snapshots.snp_customer_memberships",
    ]
    before = {t: _query(path, f"select * from {t} order by all") for t in tables}
    again = pipeline.run(generated / "landing", path)
    assert again.days == []
    assert {t: _query(path, f"select * from {t} order by all") for t in tables} == before


def test_rerunning_the_last_day_by_hand_changes_nothing(ten_days) -> None:
    """An analytics engineer's `dbt build` repeats the newest day: every stateful
    model first undoes what that day wrote, then writes the same again."""
    path, result = ten_days
    tables = [
        "intermediate.int_customer_id_assignments",
        "intermediate.int_customer_id_registry",
        "marts.identity_events",
        "marts.identity_run_metrics",
        "marts.customer_source_xref",
        "snapshots.snp_customer_memberships",
    ]
    before = {t: _query(path, f"select * from {t} order by all") for t in tables}
    pipeline.build_after_scoring(path, run_date=result.days[-1].run_date, quiet=True)
    assert {t: _query(path, f"select * from {t} order by all") for t in tables} == before


def test_every_historical_id_resolves_to_a_live_customer_in_one_lookup(ten_days) -> None:
    path, _ = ten_days
    rows = _query(
        path,
        """select history.customer_id, history.status, history.current_customer_id,
            dim.customer_id is not null
        from marts.customer_id_history as history
        left join marts.dim_customer as dim on history.current_customer_id = dim.customer_id""",
    )
    assert rows
    for customer_id, status, current, is_live in rows:
        if status == "active":
            assert current == customer_id and is_live
        elif status == "merged" and current is not None:
            assert is_live, customer_id
    ids_ever = _query(
        path, "select count(distinct customer_id) from intermediate.int_customer_id_assignments"
    )[0][0]
    assert len(rows) == ids_ever


def test_point_in_time_membership_from_the_snapshot(ten_days) -> None:
    """The documented query: which customer held record X on date D."""
    path, _ = ten_days
    moved = _query(
        path,
        """select record_key, previous_customer_id, customer_id, valid_from
        from intermediate.int_customer_id_assignments
        where previous_customer_id is not null limit 1""",
    )
    if not moved:
        pytest.skip("no record changed customer in these ten days")
    record_key, before_id, after_id, changed_on = moved[0]
    table, record_id = record_key.split(":", 1)
    point_in_time = """select customer_id from snapshots.snp_customer_memberships
        where source_table = ? and source_record_id = ?
          and dbt_valid_from <= ? and (dbt_valid_to > ? or dbt_valid_to is null)"""
    on = dt.datetime.combine(changed_on, dt.time())
    day_before = on - dt.timedelta(days=1)
    assert _query(path, point_in_time, [table, record_id, day_before, day_before]) == [(before_id,)]
    assert _query(path, point_in_time, [table, record_id, on, on]) == [(after_id,)]


def test_accuracy_after_ten_days_and_events_against_the_truth(generated: Path, ten_days) -> None:
    from c360.evaluation import evaluate

    path, _ = ten_days
    result = evaluate(path, generated / "truth")
    assert result["pairwise"]["precision"] >= 0.99
    assert result["identifiable"]["pairwise"]["recall"] >= 0.93
    lifecycle = result["lifecycle"]
    print(f"\nlifecycle events against the truth: {lifecycle}")
    assert lifecycle["merge_events"] == lifecycle["merges_true"] + lifecycle["merges_false"]
    assert lifecycle["merges_false"] <= max(1, lifecycle["merge_events"] // 5)


def _copy_project(tmp: Path) -> Path:
    project = tmp / "project"
    for name in ("models", "macros", "seeds", "snapshots", "data_tests"):
        shutil.copytree(PROJECT_DIR / name, project / name)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / name, project / name)
    return project


def _upsert(landing: Path, table: str, day: dt.date, rows: pa.Table) -> None:
    target = landing / table / f"dt={day.isoformat()}"
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, target / "planted.parquet")


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
    _upsert(landing, "ecommerce_customers", merge_day, image)
    # The same day, the single-record customer opts out of sale (CCPA), by id.
    assert _opted_out(path, keep_id, moved_id) == {keep_id: False, moved_id: False}
    _upsert(
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
    project = _copy_project(tmp_path)
    with (project / "seeds" / "steward_overrides.csv").open("a") as seed:
        seed.write(
            f"cannot_link,ecommerce_customers,{keep_record},ecommerce_customers,{moved_record},"
            f"two people typed one email,steward@example.com,{merge_day.isoformat()}\n"
        )
    monkeypatch.setenv(PROJECT_DIR_ENV, str(project))
    split_day = merge_day + dt.timedelta(days=1)
    _upsert(landing, "crm_tickets", split_day, _query_arrow_empty_ticket(path))
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
    _upsert(landing, "crm_tickets", link_day, _query_arrow_empty_ticket(path))
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


def _query_arrow_empty_ticket(path: Path) -> pa.Table:
    """A day needs a landing partition to exist: one unchanged ticket, re-sent."""
    con = duckdb.connect(str(path))
    try:
        return con.sql(
            "select * exclude (_dt, _source_file, _loaded_at) from raw.crm_tickets limit 1"
        ).to_arrow_table()
    finally:
        con.close()


def _repoint_landing(path: Path, source: Path, copy: Path) -> None:
    """The copied warehouse's raw rows name the copied landing files: an erasure
    rewrites the files its rows came from, never the shared generated ones."""
    con = duckdb.connect(str(path))
    try:
        for table in TABLES:
            con.execute(
                f"update raw.{table} set _source_file = replace(_source_file, ?, ?)",
                [str(source), str(copy)],
            )
    finally:
        con.close()


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


def _landing_image(generated: Path, table: str, key: str, value: str) -> pa.Table:
    """A record's latest full image in the generated landing zone."""
    con = duckdb.connect()
    try:
        return con.sql(
            f"select * from read_parquet('{generated / 'landing' / table}/*/*.parquet') "
            f"where {key} = ? and _op = 'U' order by _extracted_at desc limit 1",
            params=[value],
        ).to_arrow_table()
    finally:
        con.close()


def _needles(path: Path, customer_id: str) -> set[str]:
    """The person's raw values as delivered, normalized values and tokens, less
    any value another customer's record also holds (a shared household address
    stays: it is theirs too)."""
    con = duckdb.connect(str(path))
    try:
        mine = "in (select source_record_id from marts.customer_source_xref where customer_id = ?)"
        theirs = mine.replace("in (", "not in (")
        raw_values = {
            "ecommerce_customers": ["email", "phone", "street_address"],
            "loyalty_members": ["email", "phone", "street_address"],
            "crm_contacts": ["email", "phone"],
            "enrichment_profiles": ["email", "phone", "street_address"],
            "pos_card_holders": ["phone"],
            "mobile_app_devices": ["profile_email"],
        }
        vault = [
            "email_normalized",
            "phone_e164",
            "street_address_normalized",
            "email_token",
            "phone_token",
            "name_token",
            "address_token",
            "first_name_normalized || ' ' || last_name_normalized",
        ]

        def distinct(sql: str) -> set[str]:
            return {r[0] for r in con.execute(sql, [customer_id]).fetchall() if r[0]}

        def values(condition: str) -> set[str]:
            found: set[str] = set()
            for table, columns in raw_values.items():
                key = TABLES[table].key
                for column in columns:
                    found |= distinct(
                        f'select distinct trim("{column}") from raw.{table} '
                        f'where "{key}" {condition} and trim("{column}") <> \'\''
                    )
            for column in vault:
                found |= distinct(
                    f"select distinct {column} from vault.vault_identity_pii "
                    f"where source_record_id {condition}"
                )
            return found

        shared = {v.lower() for v in values(theirs)}
        return {v for v in values(mine) if v.lower() not in shared and len(v) >= 8}
    finally:
        con.close()


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
    from tests.privacy_scan import values_in_file_bytes, values_in_landing, values_in_tables

    landing = tmp_path / "landing"
    shutil.copytree(generated / "landing", landing)
    path = copy_warehouse(ten_days[0], tmp_path / "warehouse.duckdb")
    _repoint_landing(path, generated / "landing", landing)
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
    needles = _needles(path, customer)
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
    request = pa.table(
        {
            "request_id": ["PR-ERASE-1"],
            "request_type": ["erasure"],
            "jurisdiction": ["GDPR"],
            "subject_email": [f"  {email.upper()} "],
            "subject_phone": pa.nulls(1, pa.string()),
            "subject_loyalty_id": pa.nulls(1, pa.string()),
            "subject_customer_id": pa.nulls(1, pa.string()),
            "received_at": [f"{erase_day}T08:00:00"],
            "_op": ["U"],
            "_extracted_at": [f"{erase_day}T09:00:00"],
        }
    )
    _upsert(landing, "privacy_requests", erase_day, request)
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
    original = _landing_image(generated, "enrichment_profiles", "provider_record_id", profile)
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
    _upsert(landing, "enrichment_profiles", redelivery_day, resent)
    account = next(r for t, r in records if t == "ecommerce_customers")
    signup = _landing_image(generated, "ecommerce_customers", "customer_account_id", account)
    signup = signup.set_column(0, "customer_account_id", pa.array(["A-RESIGNUP-1"]))
    signup = signup.set_column(signup.schema.get_field_index("email"), "email", pa.array([email]))
    _upsert(landing, "ecommerce_customers", redelivery_day, signup)
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
    _assert_a_full_refresh_changes_nothing(path, tmp_path)


# What a full refresh may change: which day last re-clustered a cluster (it
# re-clusters all), the model's probabilities, which move with the names'
# term frequencies when every pair is scored again (splink_models/runtime.py),
# and the token map, which keeps every value tokenized (a rebuild, only those
# held today): there the rebuild's tokens must be a subset.
_TOKEN_MAP = "vault.vault_pii_tokens"
_BOOKKEEPING = {
    _TOKEN_MAP: "pii_type, token, pii_value",
    # The work a day did (a full refresh re-scores every record), and which
    # customers it recomputed, not what it found.
    "marts.identity_run_metrics": "* exclude (records_rescored, comparisons_scored)",
    "intermediate.int_touched_customers": "count(*) > 0",
    "intermediate.int_identity_changes": "count(*) > 0",
    "intermediate.int_identity_records": "* exclude (recomputed_on)",
    "intermediate.int_identity_clusters": (
        "record_key, cluster_id, cluster_size, is_flagged_for_review"
    ),
    "intermediate.int_identity_edges": "record_key_a, record_key_b, rule_names",
    "intermediate.int_identity_edges__probabilistic": "record_key_a, record_key_b, match_band",
}


def _assert_a_full_refresh_changes_nothing(path: Path, tmp_path: Path) -> None:
    copy = copy_warehouse(path, tmp_path / "full_refresh.duckdb")
    pipeline.rebuild(copy, quiet=True, full_refresh=True)
    relations = _query(
        path,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('staging', 'vault', 'intermediate', 'marts', 'snapshots') "
        "and table_name not like 'int_identity_clusters\\_\\_%' escape '\\' order by 1",
    )
    compared = 0
    for (relation,) in relations:
        columns = _BOOKKEEPING.get(relation, "*")
        sql = f"select {columns} from {relation} order by all"
        rebuilt, incremental = _query(copy, sql), _query(path, sql)
        if relation == _TOKEN_MAP:
            assert set(rebuilt) <= set(incremental)
        else:
            assert rebuilt == incremental, f"{relation} differs after a full refresh"
        compared += 1
    assert compared > 30
