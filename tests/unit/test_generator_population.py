"""Coverage, name frequencies and hard negatives at their configured rates."""

from __future__ import annotations

import math

from c360.tools.generator.config import SOURCE_TABLE
from c360.tools.generator.pools import PLACEHOLDER_EMAILS
from tests.support.generated_data import landing_view, truth


def _close(observed: float, expected: float, n: int, slack: float = 0.0) -> bool:
    """Within five binomial standard deviations (plus rounding slack)."""
    sd = math.sqrt(max(expected * (1 - expected), 1e-9) / n)
    return abs(observed - expected) <= 5 * sd + slack


def test_records_per_100_people_match_the_envelope(day0, db) -> None:
    cfg, out = day0
    for src, table in SOURCE_TABLE.items():
        n = db.execute(f"select count(*) from {landing_view(out, table)}").fetchall()[0][0]
        per_100 = 100 * n / cfg.customers
        target = cfg.coverage.records_per_100[src]
        assert abs(per_100 - target) <= 0.06 * target + 1, (src, per_100, target)


def test_share_of_people_in_two_or_more_sources(day0, db) -> None:
    _, out = day0
    share = db.execute(
        f"""
        with per_person as (
            select person_id, count(distinct source_table) as n_sources
            from {truth(out, "person_links")} group by person_id
        )
        select avg(case when n_sources >= 2 then 1.0 else 0.0 end) from per_person
        """
    ).fetchall()[0][0]
    assert 0.40 <= share <= 0.60


def test_every_person_is_somewhere(day0, db) -> None:
    cfg, out = day0
    missing = db.execute(
        f"select count(*) from {truth(out, 'persons')} p anti join "
        f"{truth(out, 'person_links')} l using (person_id)"
    ).fetchall()[0][0]
    assert missing == 0


def test_surnames_have_a_heavy_head_and_a_long_tail(day0, db) -> None:
    _, out = day0
    counts = [
        r[0]
        for r in db.execute(
            f"select count(*) as n from {truth(out, 'persons')} group by last_name order by n desc"
        ).fetchall()
    ]
    total = sum(counts)
    assert 0.005 < counts[0] / total < 0.03  # Smith: about 1% of the US
    assert 0.15 < sum(counts[:50]) / total < 0.5
    singletons = sum(1 for c in counts if c == 1)
    assert singletons > 0.05 * len(counts)
    assert len(counts) > 3_000


def test_households_share_surname_address_and_phone(day0, db) -> None:
    cfg, out = day0
    share, n_multi = db.execute(
        f"""
        select count(distinct person_id) / {cfg.customers}, count(distinct group_id)
        from {truth(out, "hard_negatives")} where kind = 'household'
        """
    ).fetchall()[0]
    assert abs(share - cfg.population.household_share) < 0.02
    stats = db.execute(
        f"""
        select
            avg(case when n_addr = 1 then 1.0 else 0 end),
            avg(case when n_last = 1 then 1.0 else 0 end),
            avg(case when n_phone = 1 and has_phone then 1.0 else 0 end)
        from (
            select household_id,
                count(distinct street_address || postal_code) as n_addr,
                count(distinct last_name) as n_last,
                count(distinct home_phone_e164) as n_phone,
                bool_and(home_phone_e164 is not null) as has_phone
            from {truth(out, "persons")} p
            semi join {truth(out, "hard_negatives")} h
                on h.person_id = p.person_id and h.kind = 'household'
            group by household_id
        )
        """
    ).fetchall()[0]
    assert stats[0] == 1.0  # one address per household
    assert 0.6 < stats[1] < 0.95  # most share a surname, not all
    assert abs(stats[2] - cfg.population.household_landline_rate) < 0.05


def test_junior_senior_pairs(day0, db) -> None:
    cfg, out = day0
    rows = db.execute(
        f"""
        select h.group_id, count(*), count(distinct p.first_name), count(distinct p.last_name),
               list(p.name_suffix order by p.name_suffix),
               abs(datediff('year', min(p.date_of_birth), max(p.date_of_birth)))
        from {truth(out, "hard_negatives")} h join {truth(out, "persons")} p using (person_id)
        where h.kind = 'junior_senior' group by h.group_id
        """
    ).fetchall()
    persons = sum(r[1] for r in rows)
    assert abs(persons / cfg.customers - cfg.population.junior_senior_share) < 0.002
    for _, n, firsts, lasts, suffixes, years in rows:
        assert (n, firsts, lasts) == (2, 1, 1)
        assert suffixes == ["Jr.", "Sr."]
        assert 20 <= years <= 36


def test_twins(day0, db) -> None:
    cfg, out = day0
    rows = db.execute(
        f"""
        select count(*), count(distinct p.date_of_birth), count(distinct p.last_name),
               count(distinct p.street_address), count(distinct p.first_name)
        from {truth(out, "hard_negatives")} h join {truth(out, "persons")} p using (person_id)
        where h.kind = 'twins' group by h.group_id, h.person_id // 1000000
        """
    ).fetchall()
    persons = sum(r[0] for r in rows)
    assert abs(persons / cfg.customers - cfg.population.twin_share) < 0.002
    same_first = sum(1 for r in rows if r[4] == 1)
    assert all(r[:4] == (2, 1, 1, 1) for r in rows)
    assert same_first <= 0.1 * len(rows)


def test_common_names_crowd_large_cities(day0, db) -> None:
    cfg, out = day0
    n, biggest = db.execute(
        f"""
        with crowd as (
            select p.first_name, p.last_name, p.city
            from {truth(out, "hard_negatives")} h join {truth(out, "persons")} p using (person_id)
            where h.kind = 'common_name_city'
        )
        select (select count(*) from crowd),
               (select max(c) from (select count(*) c from {truth(out, "persons")}
                                    group by first_name, last_name, city))
        """
    ).fetchall()[0]
    assert abs(n / cfg.customers - cfg.population.common_name_city_share) < 0.002
    assert biggest >= 3  # several people with one common name in one city


def test_family_devices_log_into_several_accounts(day0, db) -> None:
    _, out = day0
    links = truth(out, "person_links")
    rows = db.execute(
        f"""
        select e.device_id, count(distinct l.person_id) as people,
               count(distinct p.household_id) as households
        from {landing_view(out, "mobile_app_events")} e
        join {links} l on l.source_table = 'ecommerce_customers'
            and l.source_record_id = e.customer_account_id
        join {truth(out, "persons")} p on p.person_id = l.person_id
        group by e.device_id having count(distinct l.person_id) > 1
        """
    ).fetchall()
    assert len(rows) >= 20
    assert all(households == 1 for _, _, households in rows)


def test_household_email_shared_in_crm(day0, db) -> None:
    cfg, out = day0
    placeholders = ", ".join(f"'{e}'" for e in PLACEHOLDER_EMAILS)
    shared = db.execute(
        f"""
        select lower(trim(c.email)) as email, count(distinct l.person_id) as people,
               count(distinct p.household_id) as households
        from {landing_view(out, "crm_contacts")} c
        join {truth(out, "person_links")} l on l.source_record_id = c.contact_id
        join {truth(out, "persons")} p on p.person_id = l.person_id
        where c.email <> '' and lower(trim(c.email)) not in ({placeholders})
        group by 1 having count(distinct l.person_id) > 1
        """
    ).fetchall()
    # Different people share a CRM email only when they live together.
    assert all(households == 1 for _, _, households in shared)
    tagged = db.execute(
        f"select count(distinct group_id) from {truth(out, 'hard_negatives')} "
        "where kind = 'shared_household_email'"
    ).fetchall()[0][0]
    multi_households = db.execute(
        f"select count(distinct group_id) from {truth(out, 'hard_negatives')} "
        "where kind = 'household'"
    ).fetchall()[0][0]
    rate = cfg.population.shared_household_email_rate
    assert abs(tagged / multi_households - rate) < 5 * (rate * (1 - rate) / multi_households) ** 0.5
    # Typos and placeholders aside, every such family shows up in the CRM data.
    assert len(shared) >= 0.8 * tagged


def test_personal_emails_are_unique_across_people(day0, db) -> None:
    _, out = day0
    dupes = db.execute(
        f"""
        select email from (
            select email, person_id from {truth(out, "persons")}
            union all select alt_email, person_id from {truth(out, "persons")}
        ) group by email having count(distinct person_id) > 1
        """
    ).fetchall()
    assert dupes == []


def test_everyone_is_an_adult_customer(day0, db) -> None:
    cfg, out = day0
    youngest = db.execute(
        f"select min(datediff('year', date_of_birth, date '{cfg.start_date}')) "
        f"from {truth(out, 'persons')}"
    ).fetchall()[0][0]
    assert youngest >= 18


def test_no_two_people_share_a_mailbox(day0, db) -> None:
    """Gmail ignores dots: ann.lee@gmail.com and annlee@gmail.com are one mailbox,
    so the generator must never hand them to two different people."""
    _, out = day0
    shared = db.execute(
        f"""
        with addresses as (
            select person_id, email as address from {truth(out, "persons")}
            union all
            select person_id, alt_email from {truth(out, "persons")}
        ),
        mailboxes as (
            select
                person_id,
                case
                    when split_part(lower(address), '@', 2) in ('gmail.com', 'googlemail.com')
                        then replace(
                            split_part(split_part(lower(address), '@', 1), '+', 1), '.', ''
                        ) || '@gmail.com'
                    else lower(address)
                end as mailbox
            from addresses
            where address is not null
        )
        select count(*) from (
            select mailbox from mailboxes group by mailbox having count(distinct person_id) > 1
        )
        """
    ).fetchall()[0][0]
    assert shared == 0
