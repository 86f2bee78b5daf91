"""The search box normalizes as the pipeline's SQL macros do: checked on the
macros' own dbt unit-test rows, read from the model YAML, so the two cannot
drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from c360.app import search
from c360.settings import PROJECT_DIR

PRIVACY_REQUESTS = PROJECT_DIR / "models/staging/privacy/stg_privacy__requests.yml"
VAULT = PROJECT_DIR / "models/vault/vault_identity_pii.yml"


def unit_test(path: Path, name: str) -> dict:
    tests = yaml.safe_load(path.read_text())["unit_tests"]
    return next(t for t in tests if t["name"] == name)


def given_and_expected(test: dict, key: str) -> list[tuple[dict, dict]]:
    given = {row[key]: row for source in test["given"] for row in source.get("rows") or []}
    return [(given[row[key]], row) for row in test["expect"]["rows"] if row[key] in given]


def test_subject_identifiers_as_the_privacy_requests_model_normalizes_them() -> None:
    test = unit_test(PRIVACY_REQUESTS, "stg_privacy__requests__subject_identifiers_normalized")
    config = search.project_vars(PROJECT_DIR)
    pairs = given_and_expected(test, "request_id")
    assert pairs
    for given, expected in pairs:
        assert (
            search.normalize_email(given["subject_email"]) == expected["subject_email_normalized"]
        )
        assert (
            search.normalize_phone(given["subject_phone"], config["default_phone_region"])
            == expected["subject_phone_e164"]
        )
        assert (
            search.normalize_loyalty_number(
                given["subject_loyalty_id"],
                config["loyalty_id_prefix"],
                int(config["loyalty_id_digits"]),
            )
            == expected["subject_loyalty_id_normalized"]
        )


def test_loyalty_numbers_as_the_vault_normalizes_them() -> None:
    test = unit_test(VAULT, "vault_identity_pii__loyalty_numbers_and_address_parts")
    config = search.project_vars(PROJECT_DIR)
    cards = next(g for g in test["given"] if g["input"] == "ref('stg_pos__card_holders')")
    typed = {row["card_number"]: row["loyalty_number"] for row in cards["rows"]}
    expected = [r for r in test["expect"]["rows"] if r["source_table"] == "pos_card_holders"]
    assert len(expected) >= 4
    for row in expected:
        assert (
            search.normalize_loyalty_number(
                typed[row["source_record_id"]],
                config["loyalty_id_prefix"],
                int(config["loyalty_id_digits"]),
            )
            == row["loyalty_id"]
        )


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("  Jane.Doe+shop@GoogleMail.com ", "janedoe@gmail.com"),
        ("J.Smith@Example.org", "j.smith@example.org"),
        ("noreply@shop.com", None),
        ("a@example.com", None),
        ("not an email", None),
    ],
)
def test_emails_fold_as_the_macro_folds_them(text: str, email: str | None) -> None:
    assert search.normalize_email(text) == email


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("1-415-555-0134", "+14155550134"),
        ("555-555-5555", None),
        ("(015) 555-0134", None),
    ],
)
def test_phones_reach_e164_as_the_macro_does(text: str, phone: str | None) -> None:
    assert search.normalize_phone(text, "US") == phone


def test_the_search_text_is_read_every_way_it_could_name_a_customer() -> None:
    assert search.parse(" CUS_abc ", PROJECT_DIR).customer_id == "cus_abc"
    assert search.parse("Ann@Shop.com", PROJECT_DIR).email == "ann@shop.com"
    key = search.parse("ecommerce_customers: A123", PROJECT_DIR)
    assert (key.source_table, key.source_record_id) == ("ecommerce_customers", "A123")
    bare = search.parse("4812345", PROJECT_DIR)
    assert (bare.loyalty_id, bare.phone, bare.source_record_id) == ("L0004812345", None, "4812345")
