"""The generator's profiles honour what docs/generator.md promises of them,
checked in the landing files and the truth, not in the knobs alone."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import pytest

from c360 import cli
from c360.tools.generator.config import GeneratorConfig, profile_config
from c360.tools.generator.core import generate
from c360.tools.generator.international import COUNTRY_SPELLINGS
from tests.support.generated_data import landing_view, truth

IDENTITY = [
    "ecommerce_customers",
    "mobile_app_devices",
    "loyalty_members",
    "pos_card_holders",
    "crm_contacts",
    "enrichment_profiles",
]
CONTACT_COLUMNS = {
    "ecommerce_customers": ["email", "phone"],
    "mobile_app_devices": ["profile_email"],
    "loyalty_members": ["email", "phone"],
    "pos_card_holders": ["phone", "loyalty_number"],
    "crm_contacts": ["email", "phone"],
    "enrichment_profiles": ["email", "phone"],
}
ADDRESS_COLUMNS = {
    "ecommerce_customers": ["street_address", "city", "state", "postal_code"],
    "loyalty_members": ["street_address", "city", "state", "postal_code"],
    "pos_card_holders": ["postal_code"],
    "crm_contacts": ["postal_code"],
    "enrichment_profiles": ["street_address", "city", "state", "postal_code"],
}
DOB_TABLES = ["ecommerce_customers", "loyalty_members", "enrichment_profiles"]
# Canonical postal codes, as the truth holds them.
POSTCODE_SHAPES = {
    "US": r"^[0-9]{5}$",
    "GB": r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$",
    "CA": r"^[A-Z][0-9][A-Z] [0-9][A-Z][0-9]$",
    "AU": r"^[0-9]{4}$",
    "DE": r"^[0-9]{5}$",
}


@pytest.fixture(scope="module")
def hard(tmp_path_factory) -> tuple[GeneratorConfig, Path]:
    """8k people, day 0 and a change day on which many households move, so
    that moves abroad are in the data too."""
    cfg = profile_config("hard", customers=8_000, days=1, seed=21, chunk_size=4_000)
    cfg.changes.move_rate = 0.03
    out = tmp_path_factory.mktemp("gen_hard")
    generate(cfg, out, progress=False)
    return cfg, out


@pytest.fixture(scope="module")
def names_dob(tmp_path_factory) -> tuple[GeneratorConfig, Path]:
    cfg = profile_config("names_dob", customers=4_000, days=1, seed=22, chunk_size=4_000)
    out = tmp_path_factory.mktemp("gen_names_dob")
    generate(cfg, out, progress=False)
    return cfg, out


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def _filled(db, out: Path, table: str, column: str) -> int:
    return db.execute(
        f"select count(*) from {landing_view(out, table)} "
        f"where _op = 'U' and nullif(trim({column}), '') is not null"
    ).fetchall()[0][0]


def _within(observed: float, expected: float, n: int, sds: float = 5) -> bool:
    return abs(observed - expected) <= sds * math.sqrt(expected * (1 - expected) / n) + 1e-4


# -- hard ----------------------------------------------------------------------


def test_hard_has_no_contact_value_and_no_key_typed_across_systems(hard, db) -> None:
    _, out = hard
    for table, columns in CONTACT_COLUMNS.items():
        for column in columns:
            assert _filled(db, out, table, column) == 0, (table, column)
    # The app's login link is a key link too: no event names an account.
    logged_in = db.execute(
        f"select count(*) from {landing_view(out, 'mobile_app_events')} "
        "where customer_account_id is not null"
    ).fetchall()[0][0]
    assert logged_in == 0
    # Names are still there to link on.
    assert _filled(db, out, "pos_card_holders", "last_name") > 1000


def test_hard_typos_are_three_times_the_default(hard, db) -> None:
    cfg, out = hard
    default = GeneratorConfig().noise
    assert cfg.noise.typo == pytest.approx(3 * default.typo)
    assert cfg.noise.dob_typo == pytest.approx(3 * default.dob_typo)
    for table, mult in [("ecommerce_customers", 1.0), ("crm_contacts", 2.5)]:
        rows = db.execute(f"select count(*) from {landing_view(out, table)}").fetchall()[0][0]
        typos = db.execute(
            f"select count(*) from {truth(out, 'record_noise')} "
            f"where source_table = '{table}' and field = 'last_name' and kind = 'typo'"
        ).fetchall()[0][0]
        assert _within(typos / rows, cfg.noise.typo * mult, rows), (table, typos / rows)


def test_hard_birth_dates_are_often_partial_or_missing(hard, db) -> None:
    cfg, out = hard
    default = GeneratorConfig().coverage.field_presence
    for table in DOB_TABLES:
        src = {"ecommerce_customers": "ecommerce", "loyalty_members": "loyalty"}.get(
            table, "enrichment"
        )
        presence = cfg.coverage.field_presence[src]["dob"]
        assert presence < default[src]["dob"]
        # Every emitted date of birth against its person's: a partial one is
        # the true year (and month) padded with 01, and the log says so.
        n, present, year_only, year_month, wrong_partial = db.execute(
            f"""
            with rows as (
                select r.customer_account_id, r.date_of_birth as dob, p.date_of_birth as true_dob,
                    exists (select 1 from {truth(out, "record_noise")} x
                            where x.source_table = '{table}' and x.day = 0
                              and x.source_record_id = l.source_record_id
                              and x.kind = 'dob_year_only') as year_only,
                    exists (select 1 from {truth(out, "record_noise")} x
                            where x.source_table = '{table}' and x.day = 0
                              and x.source_record_id = l.source_record_id
                              and x.kind = 'dob_year_month') as year_month,
                    exists (select 1 from {truth(out, "record_noise")} x
                            where x.source_table = '{table}' and x.day = 0
                              and x.source_record_id = l.source_record_id
                              and x.kind in ('dob_typo', 'dob_day_month_swap', 'placeholder')
                              and x.field = 'date_of_birth') as other_noise
                from (select *, {_key(table)} as customer_account_id
                      from {landing_view(out, table)} where dt = '2025-01-01') r
                join {truth(out, "person_links")} l
                  on l.source_table = '{table}' and l.source_record_id = r.{_key(table)}
                join {truth(out, "persons")} p using (person_id)
            )
            select count(*), count(dob),
                count(dob) filter (where year_only),
                count(dob) filter (where year_month),
                count(*) filter (where dob is not null and not other_noise and (
                    (year_only and dob <> make_date(year(true_dob), 1, 1))
                    or (year_month and dob <> date_trunc('month', true_dob))))
            from rows
            """
        ).fetchall()[0]
        assert _within(present / n, presence, n), (table, present / n, presence)
        assert _within(year_only / present, cfg.noise.dob_year_only, present), table
        assert _within(year_month / present, cfg.noise.dob_year_month, present), table
        assert wrong_partial == 0, table


def _key(table: str) -> str:
    return {
        "ecommerce_customers": "customer_account_id",
        "loyalty_members": "loyalty_id",
        "enrichment_profiles": "provider_record_id",
        "pos_card_holders": "card_number",
        "crm_contacts": "contact_id",
    }[table]


def test_hard_places_a_quarter_of_people_abroad_with_their_postal_codes(hard, db) -> None:
    cfg, out = hard
    by_country = dict(
        db.execute(f"select country, count(*) from {truth(out, 'persons')} group by all").fetchall()
    )
    people = sum(by_country.values())
    abroad = people - by_country["US"]
    # Drawn per household, so a looser bound than for independent people.
    assert abs(abroad / people - cfg.population.international_share) < 0.03
    mix = cfg.population.international_mix
    for country, share in mix.items():
        assert abs(by_country[country] / abroad - share / sum(mix.values())) < 0.05, country
    for country, shape in POSTCODE_SHAPES.items():
        bad = db.execute(
            f"select count(*), any_value(postal_code) from {truth(out, 'persons')} "
            f"where country = '{country}' and not regexp_matches(postal_code, '{shape}')"
        ).fetchall()[0]
        assert bad[0] == 0, (country, bad)
    # As emitted, on every day: the country's shape up to case, spaces, a
    # dropped leading zero or a German "D-"; for people who never moved, their
    # own code; and the messy forms are there.
    rows = db.execute(
        f"""
        select p.country, p.postal_code, trim(r.postal_code),
            p.person_id in (select person_id from {truth(out, "life_events")}
                            where event = 'move') as moved
        from {landing_view(out, "loyalty_members")} r
        join {truth(out, "person_links")} l
          on l.source_table = 'loyalty_members' and l.source_record_id = r.loyalty_id
        join {truth(out, "persons")} p using (person_id)
        where p.country <> 'US' and nullif(trim(r.postal_code), '') is not null
        """
    ).fetchall()
    assert len(rows) > 300
    assert sum(moved for *_, moved in rows) > 10
    for country, canonical, emitted, moved in rows:
        folded = emitted.upper().replace(" ", "").removeprefix("D-")
        shape = POSTCODE_SHAPES[country].replace(" ", "")
        assert re.match(shape, folded) or re.match(shape, "0" + folded), (country, emitted)
        if not moved:
            assert folded in (canonical.replace(" ", ""), canonical[1:]), (canonical, emitted)
    emitted_forms = {e for c, _, e, _ in rows if c in ("GB", "CA")}
    assert any(e.islower() and " " not in e for e in emitted_forms)  # sw1a1aa
    assert any(e.isupper() and " " in e for e in emitted_forms)  # SW1A 1AA


def test_hard_addresses_cities_and_country_abroad(hard, db) -> None:
    _, out = hard
    # Germans write the number after the street, the others before it.
    streets = db.execute(
        f"select country, street_address from {truth(out, 'persons')} where country <> 'US'"
    ).fetchall()
    for country, street in streets:
        if country == "DE":
            assert street.split(" ")[-1][0].isdigit() and not street[0].isdigit(), street
        else:
            assert any(part[0].isdigit() for part in street.split(" ")[:3]), street
    assert any(s.endswith("straße") or "straße " in s for c, s in streets if c == "DE")
    # Cities and regions of the country, and the e-commerce `country` column spelled as
    # sources spell it.
    cities = dict(
        db.execute(
            f"select country, list(distinct city) from {truth(out, 'persons')} group by all"
        ).fetchall()
    )
    assert "London" in cities["GB"] and "München" in cities["DE"]
    regions = dict(
        db.execute(
            f"select country, list(distinct state) from {truth(out, 'persons')} group by all"
        ).fetchall()
    )
    provinces = {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
    assert set(regions["CA"]) <= provinces
    assert set(regions["AU"]) <= {"NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"}
    assert "Bayern" in regions["DE"] and not set(regions["DE"]) & set(regions["US"])
    spelled = db.execute(
        f"""
        select p.country, r.country
        from {landing_view(out, "ecommerce_customers")} r
        join {truth(out, "person_links")} l
          on l.source_table = 'ecommerce_customers' and l.source_record_id = r.customer_account_id
        join {truth(out, "persons")} p using (person_id)
        where r._op = 'U'
        """
    ).fetchall()
    us_spellings = {"US", "USA", "United States", "us", "U.S.", ""}
    for true_country, value in spelled:
        allowed = us_spellings if true_country == "US" else set(COUNTRY_SPELLINGS[true_country])
        assert value in allowed, (true_country, value)
    assert {"Deutschland", "United Kingdom"} <= {v for _, v in spelled}


def test_hard_names_abroad_are_not_ascii_and_sources_fold_some(hard, db) -> None:
    _, out = hard
    abroad, non_ascii = db.execute(
        f"""select count(*), count(*) filter (where not regexp_matches(
                first_name || last_name, '^[ -~]*$'))
        from {truth(out, "persons")} where country <> 'US'"""
    ).fetchall()[0]
    assert non_ascii / abroad > 0.05
    names = {
        r[0]
        for r in db.execute(
            f"select first_name from {truth(out, 'persons')} union all "
            f"select last_name from {truth(out, 'persons')}"
        ).fetchall()
    }
    assert {"Müller", "Søren", "Łukasz", "Zoë"} & names
    assert any(ch in "".join(names) for ch in "ßøæł")
    # A folded name is ASCII in the source (Müller -> Mueller, Groß -> Gross).
    folded = db.execute(
        f"""
        select r.last_name
        from {landing_view(out, "loyalty_members")} r
        join {truth(out, "record_noise")} x
          on x.source_table = 'loyalty_members' and x.source_record_id = r.loyalty_id
         and x.field = 'last_name' and x.kind = 'ascii_fold' and x.day = 0
        where r.dt = '2025-01-01'
        """
    ).fetchall()
    assert folded
    assert all(v is None or v.isascii() for (v,) in folded)


# -- names_dob -------------------------------------------------------------------


def test_names_dob_has_names_and_birth_dates_only(names_dob, db) -> None:
    cfg, out = names_dob
    for table, columns in {**CONTACT_COLUMNS}.items():
        for column in columns:
            assert _filled(db, out, table, column) == 0, (table, column)
    for table, columns in ADDRESS_COLUMNS.items():
        for column in columns:
            assert _filled(db, out, table, column) == 0, (table, column)
    for table in ["ecommerce_customers", "loyalty_members", "crm_contacts"]:
        assert _filled(db, out, table, "last_name") > 0.9 * _rows(db, out, table)
    # Birth dates at the default rates: the one difference from the default
    # is which fields exist.
    default = GeneratorConfig()
    rows = _rows(db, out, "loyalty_members")
    present = _filled(db, out, "loyalty_members", "cast(date_of_birth as varchar)")
    expected = default.coverage.field_presence["loyalty"]["dob"]
    assert _within(present / rows, expected, rows), present / rows
    assert cfg.noise.typo == default.noise.typo
    assert cfg.population.international_share == 0


def _rows(db, out: Path, table: str) -> int:
    return db.execute(
        f"select count(*) from {landing_view(out, table)} where _op = 'U'"
    ).fetchall()[0][0]


# -- every profile ---------------------------------------------------------------


def test_a_profile_is_deterministic_and_recorded(tmp_path: Path) -> None:
    def run(profile: str, name: str) -> dict[str, str]:
        cfg = profile_config(profile, customers=1_200, days=1, seed=3, chunk_size=600)
        generate(cfg, tmp_path / name, progress=False)
        return _digest(tmp_path / name)

    first, again, default = run("hard", "a"), run("hard", "b"), run("default", "c")
    assert len(first) > 20
    assert first == again
    landing = [k for k in first if k.startswith("landing/ecommerce_customers")]
    assert all(first[k] != default[k] for k in landing)
    recorded = json.loads((tmp_path / "a" / "truth" / "generator.json").read_text())["config"]
    assert recorded["profile"] == "hard"
    assert recorded["population"]["international_share"] == 0.25
    assert recorded["coverage"]["field_presence"]["crm"]["phone"] == 0.0


def test_cli_generate_takes_a_profile(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    argv = ["generate", "--customers", "300", "--seed", "2", "--profile", "names_dob"]
    assert cli.main([*argv, "--out", str(out), "--no-progress"]) == 0
    recorded = json.loads((out / "truth" / "generator.json").read_text())["config"]
    assert recorded["profile"] == "names_dob"
    assert recorded["coverage"]["field_presence"]["loyalty"]["address"] == 0.0
    with pytest.raises(ValueError, match="unknown generator profile"):
        profile_config("easy")
