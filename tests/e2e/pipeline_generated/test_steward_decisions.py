"""A steward's decisions in the app's table (stewardship.steward_decisions),
applied by the next run: an accepted review pair becomes one customer, a
rejected one stays two, both leave the review queue, and `c360 explain` tells
why, from the evidence mart, in text and JSON."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from c360 import explain, pipeline
from c360.warehouse import STEWARD_DECISIONS, connect_for_analysis
from tests.support.warehouse_files import copy_warehouse, query, release_dbt_connection

CUSTOMER_OF = (
    "select customer_id from marts.customer_source_xref "
    "where source_table || ':' || source_record_id = ?"
)


def _decide(path: Path, override_type: str, item: tuple[str, str, str]) -> None:
    item_id, key_a, key_b = item
    (table_a, id_a), (table_b, id_b) = key_a.split(":", 1), key_b.split(":", 1)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    query(
        path,
        f"insert into {STEWARD_DECISIONS} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            f"d-{override_type}",
            override_type,
            table_a,
            id_a,
            table_b,
            id_b,
            "test",
            "sam",
            now,
            item_id,
        ],
    )


def _explain_cli(path: Path, *args: str) -> dict:
    release_dbt_connection()
    done = subprocess.run(
        [sys.executable, "-m", "c360.cli", "explain", *args, "--json", "--warehouse", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_decisions_apply_at_the_next_run_and_explain_says_why(warehouse, tmp_path: Path) -> None:
    path = copy_warehouse(warehouse[0], tmp_path / "warehouse.duckdb")
    # Two review pairs across two customers each, with no record in common.
    pairs = query(
        path,
        "select review_item_id, record_key_a, record_key_b from marts.identity_review_queue "
        "where item_type = 'pair' and not is_same_customer order by impact_rank",
    )
    accept = pairs[0]
    reject = next(p for p in pairs if not set(p[1:]) & set(accept[1:]))
    assert query(path, CUSTOMER_OF, [accept[1]]) != query(path, CUSTOMER_OF, [accept[2]])
    before = _explain_cli(path, "--record", accept[1], "--other", accept[2])
    assert before["together"] is False
    assert before["direct"]["match_band"] == "review"
    assert before["vetoes"]

    _decide(path, "must_link", accept)
    _decide(path, "cannot_link", reject)
    pipeline.rebuild(path, quiet=True)

    assert query(path, CUSTOMER_OF, [accept[1]]) == query(path, CUSTOMER_OF, [accept[2]])
    assert query(path, CUSTOMER_OF, [reject[1]]) != query(path, CUSTOMER_OF, [reject[2]])
    queued = {r[0] for r in query(path, "select review_item_id from marts.identity_review_queue")}
    assert accept[0] not in queued and reject[0] not in queued
    (merged_into,) = query(path, CUSTOMER_OF, [accept[1]])[0]
    assert ("merge", "override") in set(
        query(
            path,
            "select event_type, reason from marts.identity_events where primary_customer_id = ?",
            [merged_into],
        )
    )

    after = _explain_cli(path, "--record", accept[1], "--other", accept[2])
    assert after["together"] is True
    assert after["direct"]["override_type"] == "must_link"
    assert "steward_must_link" in after["direct"]["evidence"]
    # The must-link (confidence 2.0) is the widest path: one edge.
    assert [(e["record_key_a"], e["record_key_b"]) for e in after["path"]] == [accept[1:]]
    assert after["strength"] == 2.0
    rejected = _explain_cli(path, "--record", reject[1], "--other", reject[2])
    assert rejected["together"] is False
    assert any("cannot-link" in veto for veto in rejected["vetoes"])

    customer = _explain_cli(path, "--customer-id", merged_into)
    records = {
        r[0]
        for r in query(
            path,
            "select source_table || ':' || source_record_id from marts.customer_source_xref "
            "where customer_id = ?",
            [merged_into],
        )
    }
    assert set(customer["records"]) == records
    # A spanning tree: one edge fewer than records, reaching every record.
    assert len(customer["path"]) == len(records) - 1
    assert {k for e in customer["path"] for k in (e["record_key_a"], e["record_key_b"])} == records
    con = connect_for_analysis(path)
    try:
        text = explain.format_customer(explain.explain_customer(con, merged_into))
    finally:
        con.close()
    assert "steward_must_link" in text
