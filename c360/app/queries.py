"""Every statement the app runs: reads over the marts and the vault, and the
two writes (stewards' decisions, the audit trail).

Portable SQL with `?` parameters only: reads go through
`warehouse.connect_for_analysis` (DuckDB over either engine's tables), writes
through `warehouse.connect` (the engine's own connection). A connection is
opened per request and closed at its end, so that a `c360 run` in another
process can take the warehouse between requests; a process-wide lock keeps
two requests of this process from opening it in two configurations at once
(DuckDB allows one per process).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from c360 import engine, warehouse
from c360.app.search import SearchTerms
from c360.engine.dbapi import rows

_LOCK = threading.RLock()
# Decoded vault values of the golden record's tokens, by the token column.
TOKEN_ATTRIBUTES = {
    "email_token": "email",
    "phone_token": "phone",
    "name_token": "name",
    "address_token": "address",
}
GOLDEN_ATTRIBUTES = (
    "email_token",
    "phone_token",
    "name_token",
    "address_token",
    "city",
    "state",
    "postal_code",
    "birth_year",
    "gender",
    "household_income_band",
    "loyalty_id",
    "loyalty_tier",
    "loyalty_points",
    "marketing_opt_in",
)
SOURCE_RECORD_PII = (
    "email_normalized",
    "phone_e164",
    "first_name_normalized",
    "last_name_normalized",
    "name_suffix",
    "date_of_birth_normalized",
    "street_address_normalized",
    "city_normalized",
    "state_normalized",
    "postal_code_normalized",
    "loyalty_id",
)


class WarehouseBusy(RuntimeError):
    """A pipeline run holds the warehouse (or it cannot be opened at all)."""


def _busy_errors() -> tuple[type[BaseException], ...]:
    # Reads are DuckDB's whatever the engine; writes are the engine's own.
    return (engine.WarehouseBusy, engine.backend("duckdb").WarehouseBusy)


def _open(opener, path: Path):
    try:
        return opener(path)
    except _busy_errors() as held:
        raise WarehouseBusy(str(held)) from held


def exclusive() -> threading.RLock:
    """Held by whatever opens the warehouse in this process (c360.evaluation
    opens its own connection)."""
    return _LOCK


@contextlib.contextmanager
def reading(path: Path) -> Iterator:
    with _LOCK:
        con = _open(warehouse.connect_for_analysis, path)
        try:
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def writing(path: Path) -> Iterator:
    with _LOCK:
        con = _open(warehouse.connect, path)
        try:
            warehouse.ensure_stewardship_tables(con)
            yield con
        finally:
            con.close()


# --- search and the customer's page -------------------------------------------------

_BY_VAULT = (
    "select xref.customer_id, ? as matched_by from vault.vault_identity_pii as pii "
    "inner join marts.customer_source_xref as xref on xref.source_table = pii.source_table "
    "and xref.source_record_id = pii.source_record_id where pii.{column} = ?"
)


def search(con, terms: SearchTerms) -> list[dict]:
    """The customers any reading of the search text finds, with what found
    them; an issued customer id comes back whatever its status."""
    parts: list[str] = []
    params: list = []
    for label, column, value in (
        ("email", "email_normalized", terms.email),
        ("phone", "phone_e164", terms.phone),
        ("loyalty id", "loyalty_id", terms.loyalty_id),
    ):
        if value:
            parts.append(_BY_VAULT.format(column=column))
            params += [label, value]
    if terms.source_table and terms.source_record_id:
        parts.append(
            "select customer_id, 'source key' as matched_by from marts.customer_source_xref "
            "where source_table = ? and source_record_id = ?"
        )
        params += [terms.source_table, terms.source_record_id]
    elif terms.source_record_id:
        parts.append(
            "select customer_id, 'source record id' as matched_by "
            "from marts.customer_source_xref where source_record_id = ?"
        )
        params.append(terms.source_record_id)
    if terms.customer_id:
        parts.append(
            "select customer_id, 'customer id' as matched_by from marts.customer_id_history "
            "where customer_id = ?"
        )
        params.append(terms.customer_id)
    if not parts:
        return []
    found = rows(
        con,
        "select found.customer_id, found.matched_by, customers.record_count, "
        "customers.source_count from (" + " union ".join(parts) + ") as found "
        "left join marts.dim_customer as customers on customers.customer_id = found.customer_id "
        "order by found.customer_id, found.matched_by",
        params,
    )
    merged: dict[str, dict] = {}
    for row in found:
        entry = merged.setdefault(row["customer_id"], row | {"matched_by": []})
        entry["matched_by"].append(row["matched_by"])
    return list(merged.values())


def id_status(con, customer_id: str) -> dict | None:
    found = rows(
        con,
        "select customer_id, current_customer_id, status, changed_at, issued_on, "
        "merged_into_customer_id from marts.customer_id_history where customer_id = ?",
        [customer_id],
    )
    return found[0] if found else None


def customer(con, customer_id: str) -> dict | None:
    found = rows(con, "select * from marts.dim_customer where customer_id = ?", [customer_id])
    return found[0] if found else None


def decode_tokens(con, tokens: list[str]) -> dict[str, str]:
    """token -> its normalized value, through the vault."""
    wanted = sorted({t for t in tokens if t})
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    return {
        r["token"]: r["pii_value"]
        for r in rows(
            con,
            f"select token, pii_value from vault.vault_pii_tokens where token in ({marks})",
            wanted,
        )
    }


def source_records(con, record_keys: list[tuple[str, str]]) -> list[dict]:
    """The records as the vault holds them (normalized PII), in the order given."""
    if not record_keys:
        return []
    condition = " or ".join(
        "(xref.source_table = ? and xref.source_record_id = ?)" for _ in record_keys
    )
    found = rows(
        con,
        "select xref.source_table, xref.source_record_id, xref.customer_id, xref.is_anonymous, "
        f"{', '.join('pii.' + c for c in SOURCE_RECORD_PII)}, pii.record_updated_at "
        "from marts.customer_source_xref as xref left join vault.vault_identity_pii as pii "
        "on pii.source_table = xref.source_table and pii.source_record_id = xref.source_record_id "
        f"where {condition}",
        [value for key in record_keys for value in key],
    )
    by_key = {(r["source_table"], r["source_record_id"]): r for r in found}
    return [by_key[key] for key in record_keys if key in by_key]


def customer_record_keys(con, customer_id: str) -> list[tuple[str, str]]:
    return [
        (r["source_table"], r["source_record_id"])
        for r in rows(
            con,
            "select source_table, source_record_id from marts.customer_source_xref "
            "where customer_id = ? order by source_table, source_record_id",
            [customer_id],
        )
    ]


TIMELINE_LIMIT = 200


def timeline(con, customer_id: str, limit: int = TIMELINE_LIMIT) -> list[dict]:
    """The latest activity of every kind, newest first."""
    return rows(
        con,
        f"""select * from (
            select 'order' as kind, ordered_at as occurred_at, order_id as reference,
                coalesce(order_status, '') as detail, order_total as amount, currency
            from marts.fct_orders where customer_id = ?
            union all
            select 'app event', event_at, event_id, coalesce(event_type, ''),
                cast(null as decimal(18, 2)), cast(null as varchar(3))
            from marts.fct_app_events where customer_id = ?
            union all
            select 'store transaction', transacted_at, transaction_id,
                'store ' || coalesce(store_id, '?'), amount, cast(null as varchar(3))
            from marts.fct_pos_transactions where customer_id = ?
            union all
            select 'ticket', opened_at, ticket_id,
                coalesce(channel, '') || ' / ' || coalesce(category, '') || ' / '
                    || coalesce(ticket_status, ''),
                cast(null as decimal(18, 2)), cast(null as varchar(3))
            from marts.fct_tickets where customer_id = ?
        ) as activity
        order by occurred_at desc, kind, reference
        limit {int(limit)}""",
        [customer_id] * 4,
    )


def id_history(con, customer_id: str) -> list[dict]:
    """This id and every id merged into it."""
    return rows(
        con,
        "select customer_id, status, current_customer_id, merged_into_customer_id, issued_on, "
        "changed_at from marts.customer_id_history "
        "where customer_id = ? or current_customer_id = ? order by issued_on, customer_id",
        [customer_id, customer_id],
    )


def identity_events(con, customer_ids: list[str]) -> list[dict]:
    conditions, params = [], []
    for customer_id in customer_ids:
        pattern = f"%,{customer_id},%"
        conditions.append(
            "(primary_customer_id = ? "
            "or ',' || replace(coalesce(customer_ids_before, ''), ' ', '') || ',' like ? "
            "or ',' || replace(coalesce(customer_ids_after, ''), ' ', '') || ',' like ?)"
        )
        params += [customer_id, pattern, pattern]
    return rows(
        con,
        "select event_type, run_date, customer_ids_before, customer_ids_after, "
        "primary_customer_id, reason, reason_detail from marts.identity_events "
        f"where {' or '.join(conditions)} order by run_date desc, event_type",
        params,
    )


def privacy_requests(con, customer_ids: list[str]) -> list[dict]:
    """The requests that resolved to these ids (the request log keeps the id
    they acted on; a request still pending names none yet)."""
    # Read from Spark's Parquet, a table no request has written to yet is
    # no table at all.
    logged = rows(
        con,
        "select count(*) as n from information_schema.tables "
        "where table_schema = 'privacy' and table_name = 'request_log'",
    )
    if not logged[0]["n"]:
        return []
    marks = ", ".join("?" for _ in customer_ids)
    return rows(
        con,
        "select request_id, request_type, jurisdiction, status, status_reason, received_at, "
        f"completed_on from privacy.request_log where customer_ids in ({marks}) "
        "order by received_at desc",
        list(customer_ids),
    )


# --- the review queue ---------------------------------------------------------------


@dataclass
class WarehouseState:
    """What the warehouse keeps of its own runs and of the app's decisions."""

    runs: list[dict]  # finished run dates, newest first
    timings: list[dict]  # each run date's stage timings
    pending: list[dict]  # decisions since the last run: the next run applies them

    @property
    def last_run(self) -> dict | None:
        return max(self.runs, key=lambda run: run["completed_at"], default=None)

    def decided_items(self) -> set[str]:
        """Queue items a pending decision settles: the item it was taken on,
        and the pair's own item (the same pair can sit under a customer item)."""
        decided = {d["review_item_id"] for d in self.pending if d["review_item_id"]}
        for d in self.pending:
            low, high = sorted((d["record_key_a"], d["record_key_b"]))
            decided.add(f"pair:{low}|{high}")
        return decided

    def decisions_on(self, review_item_id: str) -> list[dict]:
        return [
            d
            for d in self.pending
            if review_item_id == d["review_item_id"]
            or review_item_id
            == "pair:{}|{}".format(*sorted((d["record_key_a"], d["record_key_b"])))
        ]


def warehouse_state(path: Path) -> WarehouseState:
    """Read through the engine's own connection: a Spark warehouse keeps
    these tables (or, before any decision, no file of them) where the
    analysis connection does not look."""
    with _LOCK:
        con = _open(warehouse.connect_for_reading, path)
        try:
            runs = rows(
                con,
                f"select run_date, completed_at from {warehouse.RUN_LOG} order by run_date desc",
            )
            timings = rows(
                con,
                f"select run_date, stage, seconds from {warehouse.STAGE_TIMINGS} "
                "order by run_date, stage_position",
            )
            since = max((r["completed_at"] for r in runs), default=dt.datetime(1970, 1, 1))
            pending = rows(
                con,
                "select override_type, source_table_a || ':' || source_record_id_a "
                "as record_key_a, source_table_b || ':' || source_record_id_b as record_key_b, "
                "reason, decided_by, decided_at, review_item_id "
                f"from {warehouse.STEWARD_DECISIONS} where decided_at > ? "
                "order by decided_at desc",
                [since],
            )
        finally:
            con.close()
    return WarehouseState(runs, timings, pending)


def review_queue(con, decided: set[str], *, limit: int, offset: int) -> tuple[list[dict], int]:
    """Open items (not `decided`), largest impact first, and how many are open."""
    excluded = sorted(decided)
    where = f"where review_item_id not in ({', '.join('?' for _ in excluded)})" if excluded else ""
    total = rows(con, f"select count(*) as n from marts.identity_review_queue {where}", excluded)[
        0
    ]["n"]
    items = rows(
        con,
        f"select * from marts.identity_review_queue {where} "
        f"order by impact_rank, review_item_id limit {int(limit)} offset {int(offset)}",
        excluded,
    )
    return items, int(total)


def review_item(con, review_item_id: str) -> dict | None:
    found = rows(
        con,
        "select * from marts.identity_review_queue where review_item_id = ?",
        [review_item_id],
    )
    return found[0] if found else None


# --- the run dashboard --------------------------------------------------------------


def run_metrics(con) -> list[dict]:
    return rows(con, "select * from marts.identity_run_metrics order by run_date")


def match_weight_bins(con) -> list[dict]:
    """Scored pairs (from the review band up) per whole match weight and band."""
    return rows(
        con,
        """select floor(pairs.match_weight) as weight_bin, pairs.match_band, count(*) as pairs
        from (select distinct record_key_a, record_key_b, match_weight, match_band
              from marts.customer_match_evidence where match_weight is not null) as pairs
        group by floor(pairs.match_weight), pairs.match_band
        order by weight_bin, pairs.match_band""",
    )


def cluster_sizes(con) -> list[dict]:
    return rows(
        con,
        "select record_count, count(*) as customers from marts.dim_customer "
        "group by record_count order by record_count",
    )


# --- writes: decisions and the audit trail ------------------------------------------


# The writes live beside their tables (c360/warehouse.py): the app, the soak
# and any tool record a decision and its audit row alike.
audit = warehouse.record_audit_event
record_decision = warehouse.record_steward_decision
