"""The privacy decisions that need no warehouse: whom a request names, and
suppression entries that join with nothing else."""

from __future__ import annotations

import pytest

from c360 import privacy
from c360.privacy import decide, suppression_hash
from c360.tokenization import token


def test_one_customer_all_identifiers_agree_on_is_the_subject() -> None:
    hits = [
        ("email", "ecommerce_customers", "A1", "cus_a"),
        ("phone", "crm_contacts", "C1", "cus_a"),
        ("phone", "crm_contacts", "C2", "cus_b"),  # the household shares the phone
    ]
    decision = decide("R1", "erasure", ["email", "phone"], hits)
    assert (decision.status, decision.customer_id) == ("completed", "cus_a")


def test_a_shared_phone_alone_names_no_one() -> None:
    hits = [
        ("phone", "crm_contacts", "C1", "cus_a"),
        ("phone", "crm_contacts", "C2", "cus_b"),
    ]
    decision = decide("R1", "erasure", ["phone"], hits)
    assert decision.status == "needs_review" and decision.customer_id is None
    assert "2 customers" in decision.reason


def test_identifiers_of_two_different_people_name_no_one() -> None:
    hits = [("email", "t", "1", "cus_a"), ("loyalty_id", "t", "2", "cus_b")]
    decision = decide("R1", "access", ["email", "loyalty_id"], hits)
    assert decision.status == "needs_review" and "different customers" in decision.reason


def test_records_no_customer_holds_yet_are_the_subjects_too() -> None:
    hits = [("email", "t", "1", "cus_a"), ("email", "t", "9", None)]
    decision = decide("R1", "erasure", ["email"], hits)
    assert decision.customer_id == "cus_a" and decision.unassigned_records == [("t", "9")]
    only_new = decide("R2", "erasure", ["email"], [("email", "t", "9", None)])
    assert only_new.status == "completed" and only_new.customer_id is None


@pytest.mark.parametrize(
    ("request_type", "given", "status"),
    [
        ("erasure", ["email"], "not_found"),
        ("forget_me", ["email"], "rejected"),
        ("erasure", [], "rejected"),
    ],
)
def test_requests_that_cannot_be_acted_on_say_why(request_type, given, status) -> None:
    decision = decide("R1", request_type, given, [])
    assert decision.status == status and decision.reason


def test_suppression_entries_join_with_no_token(monkeypatch) -> None:
    monkeypatch.setenv(privacy.SUPPRESSION_KEY_ENV, "suppression-key")
    entry = suppression_hash("email", "jane@example.org")
    assert entry == suppression_hash("email", "jane@example.org")
    assert entry != suppression_hash("phone", "jane@example.org")
    # Not the token under any key it might share: another key, another message.
    assert entry != token("email", "jane@example.org", b"suppression-key")
    assert entry != token("email", "jane@example.org")
    assert suppression_hash("email", None) is None


def test_the_suppression_key_comes_from_a_secret_file(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(privacy.SUPPRESSION_KEY_ENV, raising=False)
    secret = tmp_path / "suppression.key"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv(privacy.SUPPRESSION_KEY_FILE_ENV, str(secret))
    assert privacy.suppression_key() == b"from-the-file"
