"""Change partitions mean what the contract says, and truth covers every record."""

from __future__ import annotations

import pytest

from c360.contract import ACTIVITY_REFERENCES, IDENTITY_TABLES, TABLES
from c360.tools.generator.config import SOURCE_TABLE
from tests.support.generated_data import landing_view, truth


@pytest.mark.parametrize("table", [t.name for t in IDENTITY_TABLES])
def test_deletes_only_for_keys_that_existed(multiday, db, table: str) -> None:
    _, out = multiday
    key = TABLES[table].key
    src = landing_view(out, table)
    deletes, orphan = db.execute(
        f"""
        with d as (select {key} as k, dt from {src} where _op = 'D')
        select count(*), count(*) filter (where not exists (
            select 1 from {src} u where u.{key} = d.k and u._op = 'U' and u.dt < d.dt))
        from d
        """
    ).fetchall()[0]
    assert deletes > 0
    assert orphan == 0
    resurrected = db.execute(
        f"""
        select count(*) from {src} d join {src} u on u.{key} = d.{key}
        where d._op = 'D' and u._op = 'U' and u.dt > d.dt
        """
    ).fetchall()[0][0]
    assert resurrected == 0


@pytest.mark.parametrize("table", [t.name for t in IDENTITY_TABLES])
def test_delete_rows_carry_only_the_key(multiday, db, table: str) -> None:
    _, out = multiday
    spec = TABLES[table]
    others = [n for n, _ in spec.columns]
    filled = " or ".join(f"{c} is not null" for c in others)
    n = db.execute(
        f"select count(*) from {landing_view(out, table)} where _op = 'D' and ({filled})"
    ).fetchall()[0][0]
    assert n == 0


@pytest.mark.parametrize(
    "table,always",
    [
        ("ecommerce_customers", ["created_at", "updated_at", "country"]),
        ("mobile_app_devices", ["platform", "app_version", "first_seen_at", "last_seen_at"]),
        ("loyalty_members", ["tier", "points_balance", "enrolled_at", "updated_at"]),
        ("pos_card_holders", ["home_store_id", "issued_at", "loyalty_number"]),
        ("crm_contacts", ["created_at", "updated_at"]),
        ("enrichment_profiles", ["refreshed_at", "gender", "household_size"]),
    ],
)
def test_upserts_are_full_row_images(multiday, db, table: str, always: list[str]) -> None:
    cfg, out = multiday
    key = TABLES[table].key
    src = landing_view(out, table)
    missing = " or ".join(f"{c} is null" for c in always)
    n_changes, incomplete = db.execute(
        f"select count(*), count(*) filter (where {missing}) from {src} "
        f"where _op = 'U' and dt > '{cfg.day_date(0)}'"
    ).fetchall()[0]
    assert n_changes > 0 and incomplete == 0
    # An update repeats the unchanged columns of the previous image.
    static = {
        "ecommerce_customers": "created_at",
        "mobile_app_devices": "first_seen_at",
        "loyalty_members": "enrolled_at",
        "pos_card_holders": "issued_at",
        "crm_contacts": "created_at",
        "enrichment_profiles": "date_of_birth",
    }[table]
    changed = db.execute(
        f"""
        select count(*) from {src} a join {src} b on a.{key} = b.{key} and b.dt > a.dt
        where a._op = 'U' and b._op = 'U' and a.{static} is distinct from b.{static}
        """
    ).fetchall()[0][0]
    assert changed == 0


def test_daily_change_rate_is_about_half_a_percent(multiday, db) -> None:
    cfg, out = multiday
    for day in range(1, cfg.days + 1):
        d = cfg.day_date(day)
        changed = live = 0
        for table in SOURCE_TABLE.values():
            src = landing_view(out, table)
            changed += db.execute(f"select count(*) from {src} where dt = '{d}'").fetchall()[0][0]
            live += db.execute(
                f"select count(distinct {TABLES[table].key}) from {src} where dt < '{d}'"
            ).fetchall()[0][0]
        assert 0.003 <= changed / live <= 0.008, (day, changed, live)


def test_life_events_happen_and_show_in_the_data(multiday, db) -> None:
    cfg, out = multiday
    events = dict(
        db.execute(
            f"select event, count(*) from {truth(out, 'life_events')} "
            "where source_table is null and day > 0 group by event"
        ).fetchall()
    )
    for kind in ("marriage", "move", "new_email", "new_phone", "new_customer"):
        assert events.get(kind, 0) > 0, kind
    deleted = db.execute(
        f"select count(*) from {truth(out, 'life_events')} where event = 'record_deleted'"
    ).fetchall()[0][0]
    assert deleted > 0
    # A marriage reaches at least one system as a new last name in an update.
    renamed = db.execute(
        f"""
        select count(*) from {truth(out, "life_events")} e
        join {landing_view(out, "ecommerce_customers")} c
            on c.customer_account_id = e.source_record_id
           and c.dt = date '{cfg.day_date(0)}' + cast(e.day as integer)
        join {truth(out, "persons")} p on p.person_id = e.person_id
        where e.event = 'marriage' and e.source_table = 'ecommerce_customers'
          and strpos(lower(c.last_name), lower(p.last_name)) > 0
        """
    ).fetchall()[0][0]
    married_in_ecommerce = db.execute(
        f"select count(*) from {truth(out, 'life_events')} "
        "where event = 'marriage' and source_table = 'ecommerce_customers'"
    ).fetchall()[0][0]
    assert married_in_ecommerce > 0 and renamed >= 0.7 * married_in_ecommerce


@pytest.mark.parametrize("table", sorted(ACTIVITY_REFERENCES))
def test_activity_references_live_keys(multiday, db, table: str) -> None:
    _, out = multiday
    for column, parent in ACTIVITY_REFERENCES[table]:
        pkey = TABLES[parent].key
        dangling = db.execute(
            f"""
            with parent_state as (
                select {pkey} as k, dt, _op from {landing_view(out, parent)}
            )
            select count(*) from {landing_view(out, table)} a
            where a.{column} is not null and a.{column} <> ''
              and not exists (
                select 1 from parent_state p
                where p.k = a.{column} and p._op = 'U' and p.dt <= a.dt)
              or exists (
                select 1 from parent_state p where p.k = a.{column} and p._op = 'D' and p.dt <= a.dt
                  and a._op = 'U' and a.dt > p.dt)
            """
        ).fetchall()[0][0]
        assert dangling == 0, (table, column)


def test_truth_covers_every_identity_record_exactly_once(multiday, db) -> None:
    _, out = multiday
    emitted = " union ".join(
        f"select distinct '{t.name}' as source_table, {t.key} as source_record_id "
        f"from {landing_view(out, t.name)}"
        for t in IDENTITY_TABLES
    )
    links = truth(out, "person_links")
    counts = db.execute(
        f"""
        with emitted as ({emitted})
        select
            (select count(*) from emitted),
            (select count(*) from {links}),
            (select count(*) from (select source_table, source_record_id from {links}
                                   group by all having count(*) > 1)),
            (select count(*) from emitted e
                anti join {links} l using (source_table, source_record_id)),
            (select count(*) from {links} l
                anti join emitted e using (source_table, source_record_id))
        """
    ).fetchall()[0]
    total, links_n, dupes, missing, extra = counts
    assert total > 20_000
    assert (links_n, dupes, missing, extra) == (total, 0, 0, 0)


def test_privacy_requests_name_real_people(multiday, db) -> None:
    _, out = multiday
    rows = db.execute(
        f"""
        select r.request_id, r.request_type, lower(r.subject_email), r.subject_phone,
               r.subject_loyalty_id, e.person_id, p.email, p.phone_e164
        from {landing_view(out, "privacy_requests")} r
        join {truth(out, "life_events")} e on e.source_record_id = r.request_id
        join {truth(out, "persons")} p on p.person_id = e.person_id
        """
    ).fetchall()
    n = db.execute(f"select count(*) from {landing_view(out, 'privacy_requests')}").fetchall()[0][0]
    assert n > 0 and len(rows) == n
    for _, kind, email, phone, loyalty, _, p_email, p_phone in rows:
        assert kind in ("erasure", "access", "opt_out_sale", "opt_in_sale")
        assert email or phone or loyalty
        assert email is None or email == p_email.lower()
        assert phone is None or phone == p_phone
