"""The request log (privacy.request_log): one row per request, without PII:
what it was, how it resolved, when it was completed, what it touched."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict

from c360 import engine, warehouse
from c360.contract import ACTIVITY_REFERENCES
from c360.privacy.resolution import Decision
from c360.privacy.tables import CLI_SOURCE, SCHEMA


def log_decision(
    con,
    decision: Decision,
    request: dict,
    *,
    run_date: dt.date,
    processed_at: dt.datetime,
    records: int,
    export_file: str | None,
) -> None:
    """The request's row: completed on the run date (or the day it was received,
    if later) unless a person must still review it."""
    received = request["received_at"]
    completed_on = None
    if decision.status in ("completed", "not_found", "rejected", "withdrawn"):
        completed_on = max(run_date, received.date()) if received else run_date
    con.execute(
        f"insert into {SCHEMA}.request_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            decision.request_id,
            request["request_type"],
            request["jurisdiction"],
            "cli" if str(request["_source_file"]).startswith(CLI_SOURCE) else "landing",
            received,
            completed_on,
            processed_at,
            decision.status,
            decision.reason,
            1 if decision.customer_id else 0,
            records,
            0,
            decision.customer_id,
            export_file,
        ],
    )


def count_linked_activity(con) -> None:
    """Per erasure request, the activity rows it unlinks (one pass per table)."""
    counts: dict[str, int] = defaultdict(int)
    for activity, references in ACTIVITY_REFERENCES.items():
        for column, identity in references:
            for request_id, rows in con.execute(
                f"""select erased.request_id, count(*)
                from {warehouse.RAW_SCHEMA}.{activity} as activity
                inner join _erase_records as erased
                    on erased.source_table = '{identity}'
                    and activity."{column}" = erased.source_record_id
                group by erased.request_id"""
            ).fetchall():
                counts[request_id] += rows
    for request_id, rows in counts.items():
        con.execute(
            f"update {SCHEMA}.request_log set activity_rows_unlinked = ? where request_id = ?",
            [rows, request_id],
        )


def request_status(request_id: str, warehouse_file: str | os.PathLike | None = None) -> dict:
    con = warehouse.connect(warehouse_file)
    try:
        rows = engine.rows(
            con, f"select * from {SCHEMA}.request_log where request_id = ?", [request_id]
        )
        return rows[0] if rows else {}
    finally:
        con.close()
