"""The app over a real generated warehouse, through its HTTP interface:
logins and roles, masking, audit, search, decisions, the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest

import c360.warehouse
from c360 import engine
from c360.app import queries
from tests.app.conftest import make_client
from tests.app.support import (
    ANALYST,
    STEWARD,
    csrf_of,
    customer_with_own_email,
    login,
)
from tests.support.warehouse_files import query

AUDIT_LOG, STEWARD_DECISIONS = c360.warehouse.AUDIT_LOG, c360.warehouse.STEWARD_DECISIONS


def audit_rows(path: Path) -> list[tuple]:
    return query(
        path,
        f"select username, user_role, action, subject, detail from {AUDIT_LOG} "
        "order by occurred_at",
    )


def test_without_a_login_nothing_is_served(client, warehouse: Path) -> None:
    subject = customer_with_own_email(warehouse)
    for url in ("/search", f"/customers/{subject['customer_id']}", "/review", "/runs"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        assert subject["email"] not in response.text
    page = client.get(f"/customers/{subject['customer_id']}")
    assert "Log in" in page.text and "Golden record" not in page.text
    for url in ("/search", "/review/decide"):
        assert client.post(url, data={"q": subject["email"]}).status_code == 401


def test_a_wrong_password_is_refused_and_audited(client, warehouse: Path) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "stu", "password": "guess-guess", "csrf": token}
    )
    assert response.status_code == 401 and "Wrong name or password" in response.text
    assert client.get("/search", follow_redirects=False).status_code == 303
    assert audit_rows(warehouse)[-1][:4] == ("stu", "none", "login_failed", "stu")


def test_a_form_without_the_session_token_is_refused(client) -> None:
    login(client, STEWARD)
    response = client.post("/search", data={"q": "x@y.com", "csrf": "forged"})
    assert response.status_code == 403


def test_an_analyst_finds_a_customer_by_an_odd_email_and_sees_it_masked(
    client, warehouse: Path
) -> None:
    subject = customer_with_own_email(warehouse)
    login(client, ANALYST)
    token = csrf_of(client.get("/search").text)
    odd = f"  {subject['email'].upper()}  "
    found = client.post("/search", data={"q": odd, "csrf": token}, follow_redirects=False)
    assert found.headers["location"] == f"/customers/{subject['customer_id']}"
    page = client.get(found.headers["location"])
    assert page.status_code == 200 and "Golden record" in page.text
    assert subject["masked"] in page.text
    assert subject["email"] not in page.text
    assert page.headers["cache-control"] == "no-store"
    # An analyst's views hold no decoded PII: nothing to audit but the login.
    assert [row[2] for row in audit_rows(warehouse)] == ["login"]


def test_a_steward_sees_decoded_pii_and_the_view_is_audited(client, warehouse: Path) -> None:
    subject = customer_with_own_email(warehouse)
    login(client, STEWARD)
    page = client.get(f"/customers/{subject['customer_id']}")
    assert subject["email"] in page.text
    last = audit_rows(warehouse)[-1]
    assert last[:4] == ("stu", "steward", "view_pii", subject["customer_id"])
    assert "email" in last[4]


def test_decoded_pii_is_withheld_when_the_audit_cannot_be_written(
    client, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = customer_with_own_email(warehouse)
    login(client, STEWARD)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(queries, "audit", fail)
    page = client.get(f"/customers/{subject['customer_id']}")
    assert page.status_code == 503
    assert subject["email"] not in page.text and "audit log could not be written" in page.text


def test_a_busy_warehouse_is_a_clear_503(client, monkeypatch: pytest.MonkeyPatch) -> None:
    login(client, ANALYST)

    def held(path):
        raise engine.WarehouseBusy("a run holds it")

    monkeypatch.setattr(c360.warehouse, "connect_for_analysis", held)
    page = client.get("/review")
    assert page.status_code == 503 and "pipeline run holds the warehouse" in page.text


@pytest.mark.parametrize("kind", ["phone", "loyalty id", "source key", "record id"])
def test_search_by_each_kind_of_key(client, warehouse: Path, kind: str) -> None:
    table, record_id, customer_id, phone, loyalty = query(
        warehouse,
        """select pii.source_table, pii.source_record_id, xref.customer_id, pii.phone_e164,
            pii.loyalty_id
        from vault.vault_identity_pii as pii inner join marts.customer_source_xref as xref
            on xref.source_table = pii.source_table and xref.source_record_id = pii.source_record_id
        where pii.phone_e164 like '+1%' and pii.loyalty_id is not null
          and (select count(*) from vault.vault_identity_pii as other
               where other.phone_e164 = pii.phone_e164 or other.loyalty_id = pii.loyalty_id) = 1
        order by 1, 2 limit 1""",
    )[0]
    typed = {
        # As a person types them: national format, the loyalty id without its zeros.
        "phone": f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}",
        "loyalty id": loyalty.lstrip("L").lstrip("0").lower(),
        "source key": f"{table}:{record_id}",
        "record id": record_id,
    }[kind]
    login(client, ANALYST)
    token = csrf_of(client.get("/search").text)
    found = client.post("/search", data={"q": typed, "csrf": token}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/customers/{customer_id}"


def test_a_merged_id_redirects_and_an_erased_one_shows_only_the_erasure(
    client, warehouse: Path
) -> None:
    subject = customer_with_own_email(warehouse)
    query(
        warehouse,
        "insert into marts.customer_id_history values "
        "('cus_merged', ?, 'merged', timestamp '2025-01-02 00:00:00', date '2025-01-01', ?), "
        "('cus_erased', null, 'erased', timestamp '2025-01-02 00:00:00', date '2025-01-01', null)",
        [subject["customer_id"], subject["customer_id"]],
    )
    login(client, STEWARD)
    merged = client.get("/customers/cus_merged", follow_redirects=False)
    assert merged.status_code == 303
    assert merged.headers["location"].startswith(f"/customers/{subject['customer_id']}")
    assert "cus_merged was merged into this customer" in client.get(merged.headers["location"]).text
    erased = client.get("/customers/cus_erased")
    assert "erased by a privacy request" in erased.text and "Golden record" not in erased.text
    assert audit_rows(warehouse)[-1][2:4] == ("view_erased", "cus_erased")
    assert client.get("/customers/cus_never").status_code == 404


def test_a_steward_accepts_a_pair_and_it_leaves_the_open_queue(client, warehouse: Path) -> None:
    item = query(
        warehouse,
        "select review_item_id, record_key_a, record_key_b from marts.identity_review_queue "
        "where item_type = 'pair' order by impact_rank limit 1",
    )[0]
    login(client, ANALYST)
    page = client.get("/review/item", params={"id": item[0]})
    assert "plotly-graph-div" in page.text and "Accept" not in page.text
    form = {
        "review_item_id": item[0],
        "record_key_a": item[1],
        "record_key_b": item[2],
        "decision": "accept",
        "reason": "same person",
        "csrf": csrf_of(page.text),
    }
    assert client.post("/review/decide", data=form).status_code == 403

    client.post("/logout", data={"csrf": csrf_of(page.text)})
    login(client, STEWARD)
    page = client.get("/review/item", params={"id": item[0]})
    assert "Accept: same person" in page.text
    assert audit_rows(warehouse)[-1][2:4] == ("view_pii", item[0])
    wrong = form | {"record_key_b": "crm_contacts:nobody", "csrf": csrf_of(page.text)}
    assert client.post("/review/decide", data=wrong).status_code == 403
    decided = client.post(
        "/review/decide", data=form | {"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert decided.status_code == 303
    decisions = query(
        warehouse,
        "select override_type, source_table_a || ':' || source_record_id_a, "
        "source_table_b || ':' || source_record_id_b, decided_by, review_item_id, reason "
        f"from {STEWARD_DECISIONS}",
    )
    assert decisions == [("must_link", item[1], item[2], "stu", item[0], "same person")]
    assert audit_rows(warehouse)[-1][2:4] == ("decision", item[0])
    assert "Decided, applies at the next run" in client.get(decided.headers["location"]).text
    queue = client.get("/review").text
    assert f'data-item="{item[0]}"' not in queue and "applies at the next run" in queue


def test_the_run_dashboard_shows_each_run_date_and_the_accuracy(
    warehouse: Path, users: Path, generated: Path
) -> None:
    client = make_client(warehouse, users, truth=generated / "truth")
    login(client, ANALYST)
    page = client.get("/runs")
    assert page.status_code == 200
    for text in ("2025-01-01", "2025-01-02", "Ids minted", "Churn among untouched", "B-cubed"):
        assert text in page.text
    assert page.text.count("plotly-graph-div") == 4
    day0 = client.get("/runs", params={"date": "2025-01-01"}).text
    assert '<option value="2025-01-01" selected>' in day0
    script = client.get("/assets/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000


def test_a_flagged_customer_is_explained_and_its_vetoed_pairs_decided(
    client, warehouse: Path
) -> None:
    """The guard flagged no customer in this data set: plant the queue's row
    of one whose records a vetoed review pair ties to another customer."""
    customer_id, key_a, key_b = query(
        warehouse,
        "select customer_id_a, record_key_a, record_key_b from marts.identity_review_queue "
        "where item_type = 'pair' and not is_same_customer order by impact_rank limit 1",
    )[0]
    item_id = f"customer:{customer_id}"
    query(
        warehouse,
        "insert into marts.identity_review_queue (review_item_id, item_type, impact_rank, "
        "customer_id_a, customers_affected, records_affected, revenue_affected) "
        "values (?, 'customer', 0, ?, 1, 3, 0)",
        [item_id, customer_id],
    )
    login(client, STEWARD)
    assert f'data-item="{item_id}"' in client.get("/review").text
    page = client.get("/review/item", params={"id": item_id})
    assert "Customer flagged by the over-merge guard" in page.text
    assert f'data-pair="{key_a}|{key_b}"' in page.text and "plotly-graph-div" in page.text
    form = {
        "review_item_id": item_id,
        "record_key_a": key_a,
        "record_key_b": key_b,
        "decision": "reject",
        "reason": "two people",
        "csrf": csrf_of(page.text),
    }
    assert client.post("/review/decide", data=form, follow_redirects=False).status_code == 303
    assert query(warehouse, f"select override_type, review_item_id from {STEWARD_DECISIONS}") == [
        ("cannot_link", item_id)
    ]
    queue = client.get("/review").text
    # The customer item and the pair item of the same pair both leave the open list.
    assert f'data-item="{item_id}"' not in queue
    assert f'data-item="pair:{key_a}|{key_b}"' not in queue


def test_a_truth_folder_that_is_not_one_costs_only_the_accuracy(
    warehouse: Path, users: Path, tmp_path: Path
) -> None:
    client = make_client(warehouse, users, truth=tmp_path / "no_truth")
    login(client, ANALYST)
    page = client.get("/runs")
    assert page.status_code == 200 and "Accuracy not available" in page.text
