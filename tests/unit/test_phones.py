"""Phone numbers outside the NANP under their plan (c360/phones.py), the SQL
function the engine registers for them, and how far the hand-written rules
they replace agreed with the plan on the generator's international numbers."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from c360 import phones, warehouse
from tests.support.generated_data import landing_view

PHONE_TABLES = [
    "ecommerce_customers",
    "loyalty_members",
    "pos_card_holders",
    "crm_contacts",
    "enrichment_profiles",
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("number", "region", "expected"),
    [
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("030 123456", "DE", "+4930123456"),
        ("0151 2345 6789", "DE", "+4915123456789"),
        ("(02) 9374 4000", "AU", "+61293744000"),
        ("0412 345 678", "AU", "+61412345678"),
        ("613-555-0123", "CA", "+16135550123"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+33 6 12 34 56 78", "GB", "+33612345678"),
        # Italy keeps its leading 0 after the country code.
        ("+39 06 1234 5678", "US", "+390612345678"),
    ],
)
def test_numbers_of_each_plan_to_e164(number: str, region: str, expected: str) -> None:
    assert phones.e164(number, region) == expected


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+44 20 7946 09", "US"),  # too short for the UK
        ("+33 6 12 34 56 78 90", "US"),  # too long for France
        ("+999 123 456 789", "US"),  # no such country code
        ("12", "DE"),
        ("not a number", "GB"),
        ("", "GB"),
        (None, "GB"),
    ],
)
def test_numbers_their_plan_cannot_dial_are_none(number: str | None, region: str) -> None:
    assert phones.e164(number, region) is None


def test_sql_function_on_every_engine_connection(tmp_path: Path) -> None:
    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        # More rows than one vector, nulls among them: the function is vectorised
        # and an invalid or null input is a null, not an error.
        rows = con.execute(
            f"""select {phones.SQL_FUNCTION}(number, region)
            from (values ('020 7946 0958', 'GB'), ('123', 'GB'), (null, 'GB'), ('030 123456', null))
                as t(number, region), range(1500)"""
        ).fetchall()
    finally:
        con.close()
    assert Counter(r[0] for r in rows) == {"+442079460958": 1500, None: 4500}


def test_connections_sharing_a_file_register_the_function_once(tmp_path: Path) -> None:
    # One process's connections to one file share its catalog (dbt's and the
    # pipeline's, in `c360 run`): a second registration must not fail.
    first = warehouse.connect(tmp_path / "w.duckdb")
    second = warehouse.connect(tmp_path / "w.duckdb")
    try:
        first.close()
        sql = f"select {phones.SQL_FUNCTION}('030 123456', 'DE')"
        assert second.execute(sql).fetchall() == [("+4930123456",)]
    finally:
        second.close()


def _international_digits(value: str) -> str:
    """What follows the '+' or '00', as normalize_phone.sql reads it."""
    digits = re.sub(r"[^0-9]", "", value)
    if not value.strip().startswith("+") and digits.startswith("00"):
        return digits[2:]
    return digits


def _hand_written_e164(value: str) -> str | None:
    """The SQL rules before the library (git history of normalize_phone.sql):
    '+' or '00' gives the country code, then any 8 to 15 digits pass."""
    digits = _international_digits(value)
    return f"+{digits}" if re.fullmatch(r"[1-9][0-9]{7,14}", digits) else None


def test_hand_written_rules_against_the_plan_on_generated_numbers(day0, db) -> None:
    """How often the length-only SQL rules agreed with libphonenumber on the
    generator's international numbers (docs/architecture.md, "Normalization
    rules", quotes the figure: run with -s to see it)."""
    _, out = day0
    values = [
        row[0]
        for table in PHONE_TABLES
        for row in db.execute(
            f"select phone from {landing_view(out, table)} "
            "where regexp_matches(trim(phone), '^(\\+|00)') "
            "and not regexp_matches(regexp_replace(phone, '[^0-9]', '', 'g'), '^(00)?1')"
            "and regexp_replace(phone, '[^0-9]', '', 'g') not similar to '0+'"
        ).fetchall()
    ]
    assert len(values) > 300
    outcomes = Counter()
    for value in values:
        # As the SQL hands it to the library: '+' and the international digits.
        plan = phones.e164(f"+{_international_digits(value)}", "US")
        rule = _hand_written_e164(value)
        outcomes["agree" if rule == plan else "rule_only" if plan is None else "differ"] += 1
    agreement = outcomes["agree"] / len(values)
    print(f"\n{len(values)} international numbers: {dict(outcomes)}, agreement {agreement:.3f}")
    # Where both give a number it is the same number: the rules' fault was
    # accepting lengths the country does not dial, never a wrong E.164.
    assert outcomes["differ"] == 0
    assert outcomes["agree"] > 0


def test_spark_accent_map_strips_what_strip_accents_strips() -> None:
    """spark__remove_accents spells out by hand what DuckDB's strip_accents
    does: every pair must be the letter and its base letter."""
    macro = (ROOT / "macros" / "normalize" / "fold_letters.sql").read_text()
    spark = macro[macro.index("spark__remove_accents") :]
    accented, plain = re.findall(r"'([^']+)'", spark)[:2]
    assert len(accented) == len(plain) > 60
    for letter, base in zip(accented, plain, strict=True):
        decomposed = unicodedata.normalize("NFD", letter)
        assert "".join(c for c in decomposed if not unicodedata.combining(c)) == base, letter
