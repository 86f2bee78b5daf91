"""Each kind of messy PII occurs at its configured rate, and is really in the data.

Rates come from the noise log in the truth; every kind is then checked against
the emitted values themselves, so the log cannot claim noise the data lacks.
"""

from __future__ import annotations

import math

import pytest

from c360.tools.generator.config import SOURCE_TABLE
from tests.support.generated_data import landing_view, truth

NAME_TABLES = ["ecommerce_customers", "loyalty_members", "pos_card_holders", "crm_contacts"]


def _rate(db, out, table: str, field: str, kind: str) -> tuple[float, int]:
    rows = db.execute(f"select count(*) from {landing_view(out, table)}").fetchall()[0][0]
    hits = db.execute(
        f"select count(*) from {truth(out, 'record_noise')} "
        f"where source_table = '{table}' and field = '{field}' and kind = '{kind}'"
    ).fetchall()[0][0]
    return hits / rows, rows


def _assert_rate(observed: float, expected: float, n: int) -> None:
    sd = math.sqrt(expected * (1 - expected) / n)
    assert abs(observed - expected) <= 5 * sd + 1e-4, (observed, expected, n)


@pytest.mark.parametrize("table", NAME_TABLES)
def test_name_noise_rates(day0, db, table: str) -> None:
    cfg, out = day0
    noise = cfg.noise
    src = next(s for s, t in SOURCE_TABLE.items() if t == table)
    mult = noise.typo_multiplier[src]
    for field, kind, expected in [
        ("first_name", "case", noise.case_style),
        ("first_name", "whitespace", noise.whitespace),
        ("last_name", "case", noise.case_style),
        ("first_name", "typo", noise.typo * mult),
        ("last_name", "typo", noise.typo * mult),
        ("first_name", "title", noise.title),
        ("first_name", "first_last_swap", noise.first_last_swap),
        ("first_name", "placeholder", noise.placeholder),
    ]:
        observed, n = _rate(db, out, table, field, kind)
        _assert_rate(observed, expected, n)


def test_phone_format_mix(day0, db) -> None:
    cfg, out = day0
    fmts = cfg.noise.phone_formats
    total = sum(fmts.values())
    counts = dict(
        db.execute(
            f"select kind, count(*) from {truth(out, 'record_noise')} "
            "where field = 'phone' and kind like 'phone_%' and kind <> 'phone_international' "
            "group by kind"
        ).fetchall()
    )
    n = sum(counts.values())
    assert n > 10_000
    for name, weight in fmts.items():
        _assert_rate(counts[f"phone_{name}"] / n, weight / total, n)


PHONE_PATTERNS = {
    "phone_paren": r"^\(\d{3}\) \d{3}-\d{4}$",
    "phone_dots": r"^\d{3}\.\d{3}\.\d{4}$",
    "phone_dashes": r"^\d{3}-\d{3}-\d{4}$",
    "phone_plain10": r"^\d{10}$",
    "phone_plus1_spaces": r"^\+1 \d{3} \d{3} \d{4}$",
    "phone_one_dashes": r"^1-\d{3}-\d{3}-\d{4}$",
    "phone_e164": r"^\+1\d{10}$",
}


@pytest.mark.parametrize("kind,pattern", sorted(PHONE_PATTERNS.items()))
def test_phone_formats_are_in_the_data(day0, db, kind: str, pattern: str) -> None:
    _, out = day0
    bad, n = db.execute(
        f"""
        select count(*) filter (where not regexp_matches(c.phone, '{pattern}')
                                and c.phone not in ('', '0000000000', '1111111111',
                                '5555555555', '(999) 999-9999', '123-456-7890')
                                and c.phone is not null),
               count(*)
        from {truth(out, "record_noise")} n
        join {landing_view(out, "crm_contacts")} c on c.contact_id = n.source_record_id
        where n.field = 'phone' and n.kind = '{kind}'
        """
    ).fetchall()[0]
    assert n > 50
    assert bad == 0


def test_gmail_noise_is_in_the_data_and_reversible(day0, db) -> None:
    cfg, out = day0
    rows = db.execute(
        f"""
        with emitted as (
            select n.kind, lower(trim(e.email)) as email, p.email as clean, p.alt_email as alt
            from {truth(out, "record_noise")} n
            join {landing_view(out, "ecommerce_customers")} e
                on e.customer_account_id = n.source_record_id
            join {truth(out, "person_links")} l on l.source_record_id = n.source_record_id
            join {truth(out, "persons")} p on p.person_id = l.person_id
            where n.field = 'email' and n.kind in ('gmail_dots', 'gmail_plus_tag', 'googlemail')
        ),
        canonical as (
            select kind, email, clean, alt,
                replace(regexp_replace(split_part(email, '@', 1), '\\+.*$', ''), '.', '')
                    || '@gmail.com' as folded
            from emitted
        )
        select kind, count(*),
            count(*) filter (where folded in (replace(split_part(clean, '@', 1), '.', '') || '@'
                                               || split_part(clean, '@', 2),
                                              replace(split_part(alt, '@', 1), '.', '') || '@'
                                               || split_part(alt, '@', 2))),
            count(*) filter (where kind = 'gmail_plus_tag' and email like '%+%@%'),
            count(*) filter (where kind = 'googlemail' and email like '%@googlemail.com')
        from canonical group by kind
        """
    ).fetchall()
    by_kind = {r[0]: r[1:] for r in rows}
    for kind in ("gmail_dots", "gmail_plus_tag", "googlemail"):
        n, folds_back, plus, googlemail = by_kind[kind]
        assert n > 20
        # Removing dots, tags and googlemail gives the person's address back
        # (placeholders aside).
        assert folds_back >= 0.97 * n, kind
    assert by_kind["gmail_plus_tag"][2] >= 0.97 * by_kind["gmail_plus_tag"][0]
    assert by_kind["googlemail"][3] >= 0.97 * by_kind["googlemail"][0]
    gmail_share = db.execute(
        f"select avg(case when email like '%@gmail.com' then 1.0 else 0 end) "
        f"from {truth(out, 'persons')}"
    ).fetchall()[0][0]
    assert 0.25 < gmail_share < 0.45
    observed, n = _rate(db, out, "ecommerce_customers", "email", "gmail_dots")
    _assert_rate(observed / gmail_share, cfg.noise.gmail_dots, int(n * gmail_share))


def test_titles_suffixes_nicknames_and_accents_are_in_the_data(day0, db) -> None:
    _, out = day0
    checks = {
        "title": r"^\s*(mr|mrs|ms|dr)\.?\s",
        "suffix": r"(jr|sr|iii)\.?\s*$",
    }
    for kind, pattern in checks.items():
        field = "first_name" if kind == "title" else "last_name"
        n, hits = db.execute(
            f"""
            select count(*), count(*) filter (where regexp_matches(lower(c.{field}), '{pattern}'))
            from {truth(out, "record_noise")} x
            join {landing_view(out, "loyalty_members")} c on c.loyalty_id = x.source_record_id
            where x.field = '{field}' and x.kind = '{kind}'
            """
        ).fetchall()[0]
        assert n > 5 and hits >= 0.9 * n, kind
    nick_n, nick_differs = db.execute(
        f"""
        select count(*), count(*) filter (where lower(trim(c.first_name)) <> lower(p.first_name))
        from {truth(out, "record_noise")} x
        join {landing_view(out, "crm_contacts")} c on c.contact_id = x.source_record_id
        join {truth(out, "person_links")} l on l.source_record_id = x.source_record_id
        join {truth(out, "persons")} p on p.person_id = l.person_id
        where x.field = 'first_name' and x.kind = 'nickname'
        """
    ).fetchall()[0]
    assert nick_n > 20 and nick_differs >= 0.8 * nick_n
    accents = db.execute(
        f"select count(*) from {truth(out, 'persons')} "
        "where not regexp_matches(first_name || last_name, '^[A-Za-z'' -]+$')"
    ).fetchall()[0][0]
    stripped = db.execute(
        f"select count(*) from {truth(out, 'record_noise')} where kind = 'accent_strip'"
    ).fetchall()[0][0]
    assert accents > 50 and stripped > 20


def test_unknowns_arrive_as_empty_strings_and_nulls(day0, db) -> None:
    _, out = day0
    empty, null = db.execute(
        f"select count(*) filter (where phone = ''), count(*) filter (where phone is null) "
        f"from {landing_view(out, 'ecommerce_customers')}"
    ).fetchall()[0]
    assert empty > 500 and null > 500
    logged = dict(
        db.execute(
            f"select kind, count(*) from {truth(out, 'record_noise')} "
            "where source_table = 'ecommerce_customers' and field = 'phone' "
            "and kind in ('empty_string', 'null') group by kind"
        ).fetchall()
    )
    assert logged == {"empty_string": empty, "null": null}


def test_date_of_birth_swaps_and_typos(day0, db) -> None:
    cfg, out = day0
    rows = db.execute(
        f"""
        select x.kind, c.date_of_birth, p.date_of_birth
        from {truth(out, "record_noise")} x
        join {landing_view(out, "loyalty_members")} c on c.loyalty_id = x.source_record_id
        join {truth(out, "person_links")} l on l.source_record_id = x.source_record_id
        join {truth(out, "persons")} p on p.person_id = l.person_id
        where x.field = 'date_of_birth' and x.kind in ('dob_day_month_swap', 'dob_typo')
          and c.date_of_birth is not null
        """
    ).fetchall()
    swaps = [(e, t) for k, e, t in rows if k == "dob_day_month_swap"]
    typos = [(e, t) for k, e, t in rows if k == "dob_typo"]
    assert len(swaps) > 10 and len(typos) > 10
    assert all((e.year, e.month, e.day) == (t.year, t.day, t.month) for e, t in swaps)
    assert all(e != t for e, t in typos)


def test_pos_loyalty_numbers_typed_in_varying_formats(day0, db) -> None:
    _, out = day0
    rows = db.execute(
        f"""
        select x.kind, p.loyalty_number
        from {truth(out, "record_noise")} x
        join {landing_view(out, "pos_card_holders")} p on p.card_number = x.source_record_id
        where x.field = 'loyalty_number'
        """
    ).fetchall()
    kinds = {k for k, _ in rows}
    assert len(kinds) == 7
    # Every typed number leads back to an existing loyalty id.
    resolved = db.execute(
        f"""
        with typed as (
            select p.card_number,
                upper(regexp_replace(p.loyalty_number, '[^0-9A-Za-z]', '', 'g')) as raw
            from {landing_view(out, "pos_card_holders")} p where p.loyalty_number <> ''
        )
        select count(*), count(*) filter (where exists (
            select 1 from {landing_view(out, "loyalty_members")} m
            where substr(m.loyalty_id, 2)::bigint = regexp_replace(t.raw, '^L', '')::bigint))
        from typed t
        """
    ).fetchall()[0]
    assert resolved[0] > 100 and resolved[1] == resolved[0]


def test_addresses_abbreviated_and_units_varied(day0, db) -> None:
    cfg, out = day0
    observed, n = _rate(db, out, "ecommerce_customers", "street_address", "address_abbreviation")
    present = db.execute(
        f"select avg(case when street_address is not null and street_address <> '' "
        f"then 1.0 else 0 end) from {landing_view(out, 'ecommerce_customers')}"
    ).fetchall()[0][0]
    # Abbreviation is drawn for every rendered address, present or not.
    _assert_rate(observed, cfg.noise.address_abbreviation, n)
    forms = db.execute(
        f"""
        select count(*) filter (where regexp_matches(street_address, ' Street( |,|$)')),
               count(*) filter (where regexp_matches(street_address, ' St( |,|$)')),
               count(*) filter (where regexp_matches(street_address, ' St\\.( |,|$)')),
               count(*) filter (where regexp_matches(street_address, ' ST( |,|$)')),
               count(*) filter (where regexp_matches(street_address, '#\\d')),
               count(*) filter (where regexp_matches(street_address, 'Apt\\. ')),
               count(*) filter (where regexp_matches(street_address, 'Unit '))
        from {landing_view(out, "ecommerce_customers")}
        """
    ).fetchall()[0]
    assert present > 0.7
    assert all(f > 10 for f in forms), forms


@pytest.mark.parametrize(
    "table,column,source,kind",
    [
        ("ecommerce_customers", "phone", "ecommerce", "phone"),
        ("crm_contacts", "email", "crm", "email"),
        ("loyalty_members", "date_of_birth", "loyalty", "dob"),
    ],
)
def test_field_presence_per_source(day0, db, table, column, source, kind) -> None:
    cfg, out = day0
    empty = "" if kind == "dob" else f" and {column} <> ''"
    present, n = db.execute(
        f"select count(*) filter (where {column} is not null{empty}), count(*) "
        f"from {landing_view(out, table)}"
    ).fetchall()[0]
    expected = cfg.coverage.field_presence[source][kind]
    if kind == "email" and source == "crm":
        # Families sharing an email always give it (the hard negative).
        assert present / n >= expected - 0.01
    else:
        _assert_rate(present / n, expected, n)
