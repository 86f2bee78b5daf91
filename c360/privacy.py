"""GDPR and CCPA: erasure, access export, opt-out and opt-in of sale, suppression
and key rotation (docs/privacy.md is the policy; this module carries it out).

Requests arrive in the landing zone (`privacy_requests`) or from the command
line (`c360 privacy ...`, which writes the request into raw.privacy_requests
like a delivery), and are processed in the daily run:

1. `intake` (after the day's first dbt phase, before scoring): resolves each
   new request to one customer and their identity records against the
   warehouse as of the last run, logs it (without PII), and acts:
   - erasure: remembers the person's identifiers as suppression hashes (a
     key of their own, so they join with nothing else), deletes their
     identity records from raw and from the landing files, unlinks their
     activity (the key columns become null), and deletes them from the
     tables the rest of the day reads. The day then runs as if the sources
     had deleted them: the customer id ends as `erased`, with an `erasure`
     event;
   - access: writes a JSON export of everything held on the subject;
   - opt-out / opt-in of sale: a flag on each of the customer's records.
   It also drops records of the day's deliveries that suppression forbids
   (an erased record re-sent, a third party re-sending an erased email or
   phone), counted per table in privacy.suppression_log.
2. `finish` (after the marts and snapshots are published): deletes what the
   day still holds of those records (id assignments, match pairs, scored
   records, snapshot history), then rewrites the DuckDB file so that the
   deleted values are gone from its bytes too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from c360 import warehouse
from c360.contract import ACTIVITY_REFERENCES, IDENTITY_TABLES, TABLES
from c360.tokenization import hmac_sha256_sql, secret_key, token, tokenization_key

SCHEMA = "privacy"
SUPPRESSION_KEY_ENV = "C360_SUPPRESSION_KEY"
SUPPRESSION_KEY_FILE_ENV = "C360_SUPPRESSION_KEY_FILE"
DEVELOPMENT_SUPPRESSION_KEY = "INSECURE-DEVELOPMENT-SUPPRESSION-KEY-DO-NOT-USE-WITH-REAL-DATA"
EXPORT_DIR_ENV = "C360_PRIVACY_EXPORT_DIR"
NEW_KEY_ENV = "C360_TOKENIZATION_KEY_NEW"

REQUEST_TYPES = ("erasure", "access", "opt_out_sale", "opt_in_sale")
THIRD_PARTY_SOURCES = ("enrichment_profiles",)
# The order requests of one batch are acted on: an export shows what was held
# before an erasure of the same day removed it.
_ACTION_ORDER = {"access": 0, "opt_out_sale": 1, "opt_in_sale": 1, "erasure": 2}

# The staging model of each identity and activity table (models/staging/<source>/).
# They are incremental tables merged from new raw rows, so the intake purges
# them like raw; privacy requests stage as a view over raw and need no purge.
STAGING_MODELS = {
    "ecommerce_customers": "stg_ecommerce__customers",
    "mobile_app_devices": "stg_mobile_app__devices",
    "loyalty_members": "stg_loyalty__members",
    "pos_card_holders": "stg_pos__card_holders",
    "crm_contacts": "stg_crm__contacts",
    "enrichment_profiles": "stg_enrichment__profiles",
    "ecommerce_orders": "stg_ecommerce__orders",
    "mobile_app_events": "stg_mobile_app__events",
    "pos_transactions": "stg_pos__transactions",
    "crm_tickets": "stg_crm__tickets",
}
ACTIVITY_FACTS = {
    "orders": "fct_orders",
    "app_events": "fct_app_events",
    "pos_transactions": "fct_pos_transactions",
    "tickets": "fct_tickets",
}
# Quasi-identifiers on activity rows that go with the link when it is cut.
ACTIVITY_QUASI_IDENTIFIERS = {"ecommerce_orders": ["ship_postal_code"]}
# Tables that scoring and the rest of the day read, built before intake runs:
# an erased record leaves them at once, so the day resolves without it.
INTAKE_PURGED_TABLES = [
    ("vault", "vault_identity_pii"),
    ("intermediate", "int_identity_records"),
    ("intermediate", "int_identity_edges__deterministic"),
    # Incremental: an erased record's pairs would otherwise stay.
    ("intermediate", "int_identity_edges__probabilistic"),
    ("intermediate", "int_pii_data_issues"),
]
# Never swept by record: the landing copy (purged at intake), the privacy
# state itself, and the rules in the repo.
_UNSWEPT_SCHEMAS = (warehouse.RAW_SCHEMA, SCHEMA, "seeds")

DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.request_log (
        request_id varchar primary key, request_type varchar, jurisdiction varchar,
        channel varchar not null, received_at timestamp, completed_on date,
        processed_at timestamp not null, status varchar not null, status_reason varchar,
        customers_affected integer not null, records_affected integer not null,
        activity_rows_unlinked bigint not null, customer_ids varchar, export_file varchar)""",
    f"""create table if not exists {SCHEMA}.erased_customers (
        customer_id varchar primary key, request_id varchar not null, erased_on date not null)""",
    f"""create table if not exists {SCHEMA}.suppression_list (
        identifier_kind varchar not null, identifier_hash varchar not null,
        applies_to varchar not null, added_on date not null,
        primary key (identifier_kind, identifier_hash))""",
    f"""create table if not exists {SCHEMA}.sale_preferences (
        source_table varchar not null, source_record_id varchar not null,
        is_opted_out_of_sale boolean not null, decided_on date not null,
        request_id varchar, origin varchar not null,
        primary key (source_table, source_record_id))""",
    f"""create table if not exists {SCHEMA}.suppression_log (
        run_date date not null, table_name varchar not null, reason varchar not null,
        rows_removed bigint not null, rows_unlinked bigint not null)""",
    f"""create table if not exists {SCHEMA}.pending_purge (
        source_table varchar not null, source_record_id varchar not null,
        primary key (source_table, source_record_id))""",
    # The other records of the email, phone and name groups that purged
    # records left (record keys, none of the purged person's values): the
    # next build of int_identity_records recomputes them (block caps,
    # inferred suffixes), as if the sources had deleted the purged records.
    f"""create table if not exists {SCHEMA}.regroup_records (record_key varchar not null)""",
    f"""create table if not exists {SCHEMA}.sweep_state (
        swept_through timestamp, is_compaction_due boolean not null)""",
    # Landing files holding rows of erased records, and what to purge from
    # them (record keys and request ids, none of the person's values). They
    # are rewritten with the batched byte purge (BYTE_PURGE_WITHIN_DAYS), not
    # at intake: a rewrite costs the file's size, and a day's erasures reach
    # a file of nearly every partition the person was ever delivered in.
    f"""create table if not exists {SCHEMA}.landing_purge_files (
        table_name varchar not null, source_file varchar not null,
        primary key (table_name, source_file))""",
    f"""create table if not exists {SCHEMA}.landing_purge_records (
        source_table varchar not null, source_record_id varchar not null,
        primary key (source_table, source_record_id))""",
    f"""create table if not exists {SCHEMA}.landing_purge_requests (
        request_id varchar primary key)""",
]


def suppression_key() -> bytes:
    return secret_key(SUPPRESSION_KEY_ENV, SUPPRESSION_KEY_FILE_ENV, DEVELOPMENT_SUPPRESSION_KEY)


def suppression_hash(kind: str, value: str | None, key: bytes | None = None) -> str | None:
    """The suppression entry of an identifier: HMAC-SHA-256 under the suppression
    key, so it never equals the identifier's token (another key, another
    message) and nobody without the key can test a guessed email against it."""
    if value is None:
        return None
    message = f"suppress\x1f{kind}\x1f{value}".encode()
    return hmac.new(key or suppression_key(), message, hashlib.sha256).hexdigest()


# Deleted rows stay in the warehouse file's freed blocks until the file is
# rewritten (compact), and a rewrite costs a copy of the whole file. Erasures
# therefore share one rewrite, due this many days after the first of them:
# well within the 30 days of GDPR and the 45 of CCPA. Until then the values
# are beyond every query, in no table, landing file or export.
BYTE_PURGE_WITHIN_DAYS = 7


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)
    con.execute(
        f"alter table {SCHEMA}.sweep_state add column if not exists bytes_purge_due_on date"
    )
    if not con.execute(f"select count(*) from {SCHEMA}.sweep_state").fetchall()[0][0]:
        con.execute(
            f"insert into {SCHEMA}.sweep_state (swept_through, is_compaction_due) "
            "values (null, false)"
        )


# The suppression hash computed in the engine, like tokens (c360/tokenization.py):
# the key's pads are bound to session variables, never written into SQL.
_SUPPRESSION_PADS = "c360_suppression"


def _suppression_hash_sql(kind_sql: str, value_sql: str) -> str:
    """SQL for suppression_hash(kind, value) over two SQL expressions."""
    return hmac_sha256_sql(
        _SUPPRESSION_PADS, f"'suppress' || chr(31) || {kind_sql} || chr(31) || {value_sql}"
    )


_exists = warehouse.relation_exists


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _insert_many(con: duckdb.DuckDBPyConnection, sql: str, rows: list) -> None:
    if rows:  # DuckDB refuses an empty executemany
        con.executemany(sql, rows)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


# -- resolution --------------------------------------------------------------


@dataclass
class Decision:
    """What one request resolved to."""

    request_id: str
    request_type: str
    status: str  # completed | not_found | needs_review | rejected | withdrawn
    reason: str | None = None
    customer_id: str | None = None
    unassigned_records: list[tuple[str, str]] = field(default_factory=list)


def decide(
    request_id: str,
    request_type: str,
    given: list[str],
    hits: list[tuple[str, str, str, str | None]],
) -> Decision:
    """Resolve one request from its identifier hits.

    `given`: the identifier kinds the request carries in a usable form;
    `hits`: (identifier kind, source_table, source_record_id, customer_id or
    None for a record no customer holds yet). Each identifier names a set of
    customers; the subject is the one customer every identifier that matched
    agrees on. A phone a household shares, or an email and a phone that point
    to different people, resolve to no one: a person must check (needs_review)
    rather than the platform erase or export someone else.
    """
    if request_type not in REQUEST_TYPES:
        return Decision(
            request_id, request_type, "rejected", f"unknown request type {request_type}"
        )
    if not given:
        return Decision(request_id, request_type, "rejected", "no usable subject identifier")
    by_identifier: dict[str, set[str]] = defaultdict(set)
    unassigned: set[tuple[str, str]] = set()
    for kind, table, record_id, customer_id in hits:
        if customer_id is None:
            unassigned.add((table, record_id))
        else:
            by_identifier[kind].add(customer_id)
    if not by_identifier:
        if unassigned:
            return Decision(
                request_id, request_type, "completed", unassigned_records=sorted(unassigned)
            )
        return Decision(request_id, request_type, "not_found", "no record holds the identifiers")
    candidates = set.intersection(*by_identifier.values())
    if len(candidates) == 1:
        return Decision(
            request_id,
            request_type,
            "completed",
            customer_id=candidates.pop(),
            unassigned_records=sorted(unassigned),
        )
    if not candidates:
        reason = "the identifiers point to different customers"
    else:
        reason = f"the identifiers are shared by {len(candidates)} customers"
    return Decision(request_id, request_type, "needs_review", reason)


_PENDING_SQL = f"""
create or replace temp table _pending as
select
    requests.request_id,
    lower(trim(requests.request_type)) as request_type,
    upper(trim(requests.jurisdiction)) as jurisdiction,
    requests.received_at,
    requests.is_deleted,
    requests._source_file,
    requests.subject_email_normalized,
    requests.subject_phone_e164,
    requests.subject_loyalty_id_normalized,
    nullif(trim(requests.subject_customer_id), '') as subject_customer_id
from staging.stg_privacy__requests as requests
where requests.request_id not in (select request_id from {SCHEMA}.request_log)
"""

_HITS_SQL = """
with pii as (
    select source_table, source_record_id, email_normalized, phone_e164, loyalty_id
    from vault.vault_identity_pii
),
members as (
    select source_table, source_record_id, customer_id
    from intermediate.int_customer_memberships
),
hits as (
    select p.request_id, 'email' as identifier, pii.source_table, pii.source_record_id
    from _pending as p inner join pii on pii.email_normalized = p.subject_email_normalized
    union all
    select p.request_id, 'phone', pii.source_table, pii.source_record_id
    from _pending as p inner join pii on pii.phone_e164 = p.subject_phone_e164
    union all
    select p.request_id, 'loyalty_id', pii.source_table, pii.source_record_id
    from _pending as p inner join pii on pii.loyalty_id = p.subject_loyalty_id_normalized
    union all
    select p.request_id, 'account', pii.source_table, pii.source_record_id
    from _pending as p inner join pii
        on pii.source_table = 'ecommerce_customers'
        and pii.source_record_id = p.subject_customer_id
    union all
    select p.request_id, 'customer_id', members.source_table, members.source_record_id
    from _pending as p
    inner join intermediate.int_customer_id_registry as registry
        on registry.customer_id = p.subject_customer_id
    inner join members on members.customer_id = registry.current_customer_id
)
select hits.request_id, hits.identifier, hits.source_table, hits.source_record_id,
    members.customer_id
from hits left join members
    on hits.source_table = members.source_table
    and hits.source_record_id = members.source_record_id
"""


def _given(request: dict) -> list[str]:
    given = []
    if request["subject_email_normalized"]:
        given.append("email")
    if request["subject_phone_e164"]:
        given.append("phone")
    if request["subject_loyalty_id_normalized"]:
        given.append("loyalty_id")
    if request["subject_customer_id"]:
        given.append(
            "customer_id" if request["subject_customer_id"].startswith("cus_") else "account"
        )
    return given


# -- the daily intake ----------------------------------------------------------


@dataclass
class IntakeResult:
    requests: dict[str, int] = field(default_factory=dict)  # status -> requests
    records_erased: int = 0
    records_suppressed: int = 0
    activity_rows_unlinked: int = 0
    # Queued for the batched byte purge, which rewrites them.
    landing_files_to_purge: int = 0
    exports: list[str] = field(default_factory=list)
    deferred: int = 0


def export_dir(warehouse_file: str | os.PathLike | None = None) -> Path:
    configured = os.environ.get(EXPORT_DIR_ENV)
    if configured:
        return Path(configured)
    return warehouse.warehouse_path(warehouse_file).resolve().parent / "privacy_exports"


def intake(
    run_date: dt.date,
    warehouse_file: str | os.PathLike | None = None,
) -> IntakeResult:
    """Process the requests not processed yet and the suppression sweep of the
    deliveries loaded since the last one (see the module docstring)."""
    con = warehouse.connect(warehouse_file)
    try:
        ensure_tables(con)
        warehouse.bind_hmac_pads(con, _SUPPRESSION_PADS, suppression_key())
        result = IntakeResult()
        con.execute("begin transaction")
        try:
            decisions, pending = _resolve(con, result)
            _act(con, decisions, pending, run_date, warehouse_file, result)
            _sweep_deliveries(con, run_date, result)
            _propagate_opt_outs(con, run_date)
            _purge_inputs(con, run_date, result)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        return result
    finally:
        con.close()


def _resolve(con, result: IntakeResult) -> tuple[list[Decision], dict[str, dict]]:
    if not _exists(con, "staging", "stg_privacy__requests"):
        return [], {}
    con.execute(_PENDING_SQL)
    pending = {r["request_id"]: r for r in _rows(con, "select * from _pending")}
    if not pending:
        return [], {}
    if not (
        _exists(con, "intermediate", "int_customer_memberships")
        and _exists(con, "vault", "vault_identity_pii")
    ):
        # The first run has no customers to resolve against yet: the
        # requests wait for the next run date.
        result.deferred = len(pending)
        return [], {}
    hits: dict[str, list] = defaultdict(list)
    for request_id, identifier, table, record_id, customer_id in con.execute(_HITS_SQL).fetchall():
        hits[request_id].append((identifier, table, record_id, customer_id))
    decisions = []
    for request_id, request in pending.items():
        if request["is_deleted"]:
            decisions.append(
                Decision(request_id, "", "withdrawn", "the source withdrew the request")
            )
            continue
        decisions.append(
            decide(request_id, request["request_type"] or "", _given(request), hits[request_id])
        )
    order = {rid: (r["received_at"] or dt.datetime.max, rid) for rid, r in pending.items()}
    decisions.sort(key=lambda d: (_ACTION_ORDER.get(d.request_type, 0), order[d.request_id]))
    return decisions, pending


def _subject_records(con, decisions: list[Decision]) -> dict[str, list[tuple[str, str]]]:
    """Each resolved request's records: its customer's, and the records no
    customer holds yet that carry its identifiers. One pass over the
    memberships for the whole batch."""
    resolved = [d for d in decisions if d.status == "completed"]
    if not resolved:
        return {}
    con.execute("create or replace temp table _decided (request_id varchar, customer_id varchar)")
    _insert_many(
        con,
        "insert into _decided values (?, ?)",
        [(d.request_id, d.customer_id) for d in resolved if d.customer_id],
    )
    records: dict[str, set[tuple[str, str]]] = {
        d.request_id: set(d.unassigned_records) for d in resolved
    }
    for request_id, table, record_id in con.execute(
        """select decided.request_id, members.source_table, members.source_record_id
        from _decided as decided
        inner join intermediate.int_customer_memberships as members
            on members.customer_id = decided.customer_id"""
    ).fetchall():
        records[request_id].add((table, record_id))
    return {request_id: sorted(found) for request_id, found in records.items()}


def _act(con, decisions, pending, run_date, warehouse_file, result: IntakeResult) -> None:
    con.execute(
        "create or replace temp table _erase_records (source_table varchar, "
        "source_record_id varchar, request_id varchar)"
    )
    con.execute("create or replace temp table _erased_requests (request_id varchar)")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    subject_records = _subject_records(con, decisions)
    exports = write_exports(
        con,
        [
            ExportSubject(d, subject_records.get(d.request_id, []), pending[d.request_id])
            for d in decisions
            if d.status == "completed" and d.request_type == "access"
        ],
        warehouse_file,
    )
    result.exports += [str(path) for path in exports.values()]
    for decision in decisions:
        request = pending[decision.request_id]
        records = subject_records.get(decision.request_id, [])
        export_file = str(exports[decision.request_id]) if decision.request_id in exports else None
        if decision.status == "completed":
            if decision.request_type in ("opt_out_sale", "opt_in_sale"):
                _set_sale_preference(con, decision, records, run_date)
            elif decision.request_type == "erasure":
                _insert_many(
                    con,
                    "insert into _erase_records values (?, ?, ?)",
                    [(t, r, decision.request_id) for t, r in records],
                )
                con.execute("insert into _erased_requests values (?)", [decision.request_id])
                if decision.customer_id:
                    con.execute(
                        f"insert or ignore into {SCHEMA}.erased_customers values (?, ?, ?)",
                        [decision.customer_id, decision.request_id, run_date],
                    )
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
                now,
                decision.status,
                decision.reason,
                1 if decision.customer_id else 0,
                len(records),
                0,
                decision.customer_id,
                export_file,
            ],
        )
        result.requests[decision.status] = result.requests.get(decision.status, 0) + 1
    if _scalar(con, "select count(*) from _erase_records"):
        _count_linked_activity(con)
        # The subject's earlier requests (an access, an opt-out) name them too.
        con.execute(
            f"""insert into _erased_requests
            select request_id from {SCHEMA}.request_log
            where customer_ids in (select customer_id from {SCHEMA}.erased_customers)
              and request_id not in (select request_id from _erased_requests)"""
        )
        _extend_to_third_party_records(con)
        _add_suppression_entries(con, run_date)
        _delete_exports_of_erased(con)
        result.records_erased = _scalar(
            con,
            "select count(distinct source_table || ':' || source_record_id) from _erase_records",
        )


def _count_linked_activity(con) -> None:
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


def _set_sale_preference(con, decision: Decision, records, run_date: dt.date) -> None:
    opted_out = decision.request_type == "opt_out_sale"
    _insert_many(
        con,
        f"insert or replace into {SCHEMA}.sale_preferences values (?, ?, ?, ?, ?, 'request')",
        [(t, r, opted_out, run_date, decision.request_id) for t, r in records],
    )


def _extend_to_third_party_records(con) -> None:
    """A third party's profile that carries an erased person's email or phone is
    theirs too, linked or not; identifiers a first-party record of someone
    else also holds (a family email, a household phone) are that person's as
    well and are neither suppressed nor followed."""
    con.execute(
        """
        create or replace temp table _erased_identifiers as
        with erased as (
            select pii.* from vault.vault_identity_pii as pii
            inner join _erase_records as e
                on pii.source_table = e.source_table and pii.source_record_id = e.source_record_id
        ),
        others as (
            select pii.* from vault.vault_identity_pii as pii
            where pii.source_table not in (select unnest(?::varchar[]))
              and pii.source_table || ':' || pii.source_record_id not in (
                  select source_table || ':' || source_record_id from _erase_records)
        ),
        identifiers as (
            select distinct 'email' as kind, email_normalized as value from erased
            where email_normalized is not null
            union
            select distinct 'phone', phone_e164 from erased where phone_e164 is not null
        )
        select * from identifiers
        where not exists (
            select 1 from others
            where (identifiers.kind = 'email' and others.email_normalized = identifiers.value)
               or (identifiers.kind = 'phone' and others.phone_e164 = identifiers.value)
        )
        """,
        [list(THIRD_PARTY_SOURCES)],
    )
    con.execute(
        """
        insert into _erase_records
        select distinct pii.source_table, pii.source_record_id, null
        from vault.vault_identity_pii as pii
        inner join _erased_identifiers as ids
            on (ids.kind = 'email' and pii.email_normalized = ids.value)
            or (ids.kind = 'phone' and pii.phone_e164 = ids.value)
        where pii.source_table in (select unnest(?::varchar[]))
          and pii.source_table || ':' || pii.source_record_id not in (
              select source_table || ':' || source_record_id from _erase_records)
        """,
        [list(THIRD_PARTY_SOURCES)],
    )


def _add_suppression_entries(con, run_date: dt.date) -> None:
    con.execute(
        f"""
        insert or ignore into {SCHEMA}.suppression_list
        select distinct 'source_record',
            {_suppression_hash_sql("'source_record'", "source_table || '|' || source_record_id")},
            'all_sources', ?::date
        from _erase_records
        union all
        select distinct kind, {_suppression_hash_sql("kind", "value")}, 'third_party', ?::date
        from _erased_identifiers
        """,
        [run_date, run_date],
    )


def _delete_exports_of_erased(con) -> None:
    """An access export made earlier for a person now erased is a copy of them."""
    rows = con.execute(
        f"""select request_id, export_file from {SCHEMA}.request_log
        where request_type = 'access' and export_file is not null
          and customer_ids in (select customer_id from {SCHEMA}.erased_customers)"""
    ).fetchall()
    for request_id, path in rows:
        Path(path).unlink(missing_ok=True)
        con.execute(
            f"update {SCHEMA}.request_log set export_file = null, "
            "status_reason = 'export deleted when the subject was erased' where request_id = ?",
            [request_id],
        )


def _sweep_deliveries(con, run_date: dt.date, result: IntakeResult) -> None:
    """Rows loaded since the last sweep that suppression forbids: an erased
    record sent again (any source), a third party's record carrying an erased
    email or phone, activity pointing at an erased record (unlinked)."""
    watermark = _scalar(con, f"select swept_through from {SCHEMA}.sweep_state")
    latest = _scalar(con, f"select max(loaded_at) from {warehouse.LOAD_LOG}")
    con.execute(
        "create or replace temp table _suppressed_records (source_table varchar, "
        "source_record_id varchar, reason varchar)"
    )
    con.execute(
        "create or replace temp table _unlink_keys (source_table varchar, source_record_id varchar)"
    )
    has_entries = _scalar(con, f"select count(*) from {SCHEMA}.suppression_list") > 0
    if has_entries and latest is not None:
        since = watermark or dt.datetime.min
        for table in IDENTITY_TABLES:
            record_hash = _suppression_hash_sql(
                "'source_record'", f"'{table.name}|' || \"{table.key}\""
            )
            con.execute(
                f"""insert into _suppressed_records
                select distinct '{table.name}', "{table.key}", 'erased record delivered again'
                from {warehouse.RAW_SCHEMA}.{table.name}
                where _loaded_at > ? and {record_hash} in (
                    select identifier_hash from {SCHEMA}.suppression_list
                    where identifier_kind = 'source_record')""",
                [since],
            )
        for third_party in THIRD_PARTY_SOURCES:
            model = STAGING_MODELS[third_party]
            key = TABLES[third_party].key
            if not _exists(con, "staging", model):
                continue
            con.execute(
                f"""insert into _suppressed_records
                select distinct '{third_party}', "{key}",
                    'third party delivered an erased identifier'
                from staging.{model}
                where _loaded_at > ? and not is_deleted and (
                    {_suppression_hash_sql("'email'", "email_normalized")} in (
                        select identifier_hash from {SCHEMA}.suppression_list
                        where identifier_kind = 'email')
                    or {_suppression_hash_sql("'phone'", "phone_e164")} in (
                        select identifier_hash from {SCHEMA}.suppression_list
                        where identifier_kind = 'phone'))
                  and '{third_party}:' || "{key}" not in (
                      select source_table || ':' || source_record_id from _suppressed_records)""",
                [since],
            )
        for activity, references in ACTIVITY_REFERENCES.items():
            for column, identity in references:
                record_hash = _suppression_hash_sql(
                    "'source_record'", f"'{identity}|' || \"{column}\""
                )
                con.execute(
                    f"""insert into _unlink_keys
                    select distinct '{identity}', "{column}"
                    from {warehouse.RAW_SCHEMA}.{activity}
                    where _loaded_at > ? and "{column}" is not null
                      and {record_hash} in (
                          select identifier_hash from {SCHEMA}.suppression_list
                          where identifier_kind = 'source_record')""",
                    [since],
                )
    con.execute(f"update {SCHEMA}.sweep_state set swept_through = ?", [latest])
    result.records_suppressed = _scalar(con, "select count(*) from _suppressed_records")


def _propagate_opt_outs(con, run_date: dt.date) -> None:
    """Every record of a customer who is opted out is opted out, so a later
    split leaves every part opted out (a merge already is: the most
    restrictive record wins in int_customer_sale_preferences)."""
    if not _exists(con, "intermediate", "int_customer_memberships"):
        return
    con.execute(
        f"""
        insert or replace into {SCHEMA}.sale_preferences
        with flagged as (
            select members.customer_id, min(prefs.request_id) as request_id
            from intermediate.int_customer_memberships as members
            inner join {SCHEMA}.sale_preferences as prefs
                on members.source_table = prefs.source_table
                and members.source_record_id = prefs.source_record_id
            where prefs.is_opted_out_of_sale
            group by members.customer_id
        )
        select members.source_table, members.source_record_id, true, ?::date,
            flagged.request_id, 'inherited'
        from intermediate.int_customer_memberships as members
        inner join flagged on members.customer_id = flagged.customer_id
        left join {SCHEMA}.sale_preferences as prefs
            on members.source_table = prefs.source_table
            and members.source_record_id = prefs.source_record_id
        where prefs.is_opted_out_of_sale is null or not prefs.is_opted_out_of_sale
        """,
        [run_date],
    )


# -- purging -------------------------------------------------------------------


def _purge_statements(relation: str, table_name: str) -> list[str]:
    """What purging does to one landing table's rows (raw, or a landing file
    loaded into a temp table): erased identity records deleted, activity
    unlinked, erasure requests stripped of their subject."""
    table = TABLES[table_name]
    if table.kind == "identity":
        return [
            f"""delete from {relation} where "{table.key}" in (
                select source_record_id from _purge_records where source_table = '{table_name}')"""
        ]
    if table.kind == "activity":
        statements = []
        for column, identity in ACTIVITY_REFERENCES[table_name]:
            extra = "".join(
                f', "{c}" = null' for c in ACTIVITY_QUASI_IDENTIFIERS.get(table_name, [])
            )
            statements.append(
                f"""update {relation} set "{column}" = null{extra} where "{column}" in (
                    select source_record_id from _unlink_keys where source_table = '{identity}')"""
            )
        return statements
    return [
        f"""update {relation} set subject_email = null, subject_phone = null,
            subject_loyalty_id = null, subject_customer_id = null
        where request_id in (select request_id from _erased_requests)"""
    ]


def _affected_filter(table_name: str) -> str:
    table = TABLES[table_name]
    if table.kind == "identity":
        return f""""{table.key}" in (select source_record_id from _purge_records
            where source_table = '{table_name}')"""
    if table.kind == "activity":
        return " or ".join(
            f""""{column}" in (select source_record_id from _unlink_keys
                where source_table = '{identity}')"""
            for column, identity in ACTIVITY_REFERENCES[table_name]
        )
    return "request_id in (select request_id from _erased_requests)"


def _purge_inputs(con, run_date: dt.date, result: IntakeResult) -> None:
    con.execute(
        """create or replace temp table _purge_records as
        select distinct source_table, source_record_id from _erase_records
        union
        select distinct source_table, source_record_id from _suppressed_records"""
    )
    con.execute(
        "insert into _unlink_keys select source_table, source_record_id from _purge_records"
    )
    # Yesterday's were recomputed by today's build, before this intake.
    con.execute(f"delete from {SCHEMA}.regroup_records")
    if _exists(con, "intermediate", "int_identity_records"):
        con.execute(
            f"""insert into {SCHEMA}.regroup_records
            with purged as (
                select * from intermediate.int_identity_records
                where record_key in (
                    select source_table || ':' || source_record_id from _purge_records)
            )
            select mates.record_key
            from intermediate.int_identity_records as mates
            inner join purged on mates.email_token = purged.email_token
            union
            select mates.record_key
            from intermediate.int_identity_records as mates
            inner join purged on mates.phone_token = purged.phone_token
            union
            select mates.record_key
            from intermediate.int_identity_records as mates
            inner join purged on mates.loyalty_id = purged.loyalty_id
            union
            select mates.record_key
            from intermediate.int_identity_records as mates
            inner join purged
                on mates.first_name_canonical = purged.first_name_canonical
                and mates.last_name_normalized = purged.last_name_normalized
            union
            -- A device signed in to a purged account loses a login.
            select 'mobile_app_devices:' || events.device_id
            from staging.stg_mobile_app__events as events
            inner join purged
                on purged.source_table = 'ecommerce_customers'
                and events.customer_account_id = purged.source_record_id
            except
            select record_key from purged"""
        )
    if not _scalar(con, "select count(*) from _purge_records") and not _scalar(
        con, "select count(*) from _unlink_keys"
    ):
        return
    raw = warehouse.RAW_SCHEMA
    # One scan of each raw table finds both the files holding affected rows
    # and how many rows they are.
    files: dict[str, set[str]] = defaultdict(set)
    affected_rows: dict[str, int] = defaultdict(int)
    for name in TABLES:
        for path, rows in con.execute(
            f"select _source_file, count(*) from {raw}.{name} "
            f"where {_affected_filter(name)} group by _source_file"
        ).fetchall():
            files[name].add(path)
            affected_rows[name] += rows
    queued = [
        (name, path)
        for name, paths in files.items()
        for path in sorted(paths)
        if not path.startswith(CLI_SOURCE)  # an ad hoc request: it has no landing file
    ]
    _insert_many(con, f"insert or ignore into {SCHEMA}.landing_purge_files values (?, ?)", queued)
    con.execute(
        f"""insert or ignore into {SCHEMA}.landing_purge_records
        select distinct source_table, source_record_id from _unlink_keys"""
    )
    con.execute(
        f"""insert or ignore into {SCHEMA}.landing_purge_requests
        select distinct request_id from _erased_requests"""
    )
    result.landing_files_to_purge = len(queued)
    unlinked_by_table = {name: affected_rows[name] for name in ACTIVITY_REFERENCES}
    for name in TABLES:
        for statement in _purge_statements(f"{raw}.{name}", name):
            con.execute(statement)
    for name, model in STAGING_MODELS.items():
        if _exists(con, "staging", model):
            for statement in _purge_statements(f"staging.{model}", name):
                con.execute(statement)
    result.activity_rows_unlinked = sum(unlinked_by_table.values())
    for name, reason, rows in con.execute(
        "select source_table, reason, count(*) from _suppressed_records group by 1, 2"
    ).fetchall():
        con.execute(
            f"insert into {SCHEMA}.suppression_log values (?, ?, ?, ?, 0)",
            [run_date, name, reason, rows],
        )
    for name, rows in unlinked_by_table.items():
        if rows:
            con.execute(
                f"insert into {SCHEMA}.suppression_log values (?, ?, ?, 0, ?)",
                [run_date, name, "activity of an erased record unlinked", rows],
            )
    con.execute(
        f"""insert or ignore into {SCHEMA}.pending_purge
        select source_table, source_record_id from _purge_records"""
    )
    _delete_records(con, [(s, t) for s, t in INTAKE_PURGED_TABLES if _exists(con, s, t)])
    _delete_orphan_vault_tokens(con)
    due = dt.date.today() + dt.timedelta(days=BYTE_PURGE_WITHIN_DAYS)
    con.execute(
        f"update {SCHEMA}.sweep_state set bytes_purge_due_on = "
        "least(coalesce(bytes_purge_due_on, ?::date), ?::date)",
        [due, due],
    )


def _rewrite_landing_file(con, path: Path, table_name: str) -> bool:
    """The landing copy without the purged rows, written beside it and swapped
    in. A file the platform no longer finds (moved, expired) is reported."""
    if not path.exists():
        print(f"privacy: landing file {path} not found; purge it where it now is")
        return False
    con.execute(
        f"create or replace temp table _landing_file as select * from {warehouse.reader_sql(path)}"
    )
    for statement in _purge_statements("_landing_file", table_name):
        con.execute(statement)
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    quoted = str(scratch).replace("'", "''")
    if path.suffix.lower() == ".csv":
        con.execute(f"copy _landing_file to '{quoted}' (format csv, header, nullstr '\\N')")
    else:
        con.execute(f"copy _landing_file to '{quoted}' (format parquet)")
    os.replace(scratch, path)
    return True


def _tables(con, schemas_excluded=_UNSWEPT_SCHEMAS) -> list[tuple[str, str, dict[str, str]]]:
    """(schema, table, {column: data type}) of every base table outside the
    excluded schemas."""
    rows = con.execute(
        """select c.table_schema, c.table_name, map(list(c.column_name), list(c.data_type))
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_schema = t.table_schema and c.table_name = t.table_name
        where t.table_type = 'BASE TABLE' and c.table_schema not in (select unnest(?::varchar[]))
          and t.table_catalog = current_database()
        group by 1, 2 order by 1, 2""",
        [list(schemas_excluded)],
    ).fetchall()
    return [(s, t, dict(columns)) for s, t, columns in rows]


def _delete_records(con, only: list[tuple[str, str]] | None = None) -> int:
    """Delete every row that names a purged record, in every table (or in `only`):
    by (source_table, source_record_id), by record_key, by either end of an
    edge or pair, by graph node; and, in snapshot history, every version of
    an erased customer."""
    keys = f"select source_table || ':' || source_record_id from {SCHEMA}.pending_purge"
    deleted = 0
    for schema, name, columns in _tables(con):
        if only is not None and (schema, name) not in only:
            continue
        relation = f'"{schema}"."{name}"'
        conditions = []
        if {"source_table", "source_record_id"} <= columns.keys():
            # An equi-join on both columns: concatenating them would build a
            # string for every row of the table.
            conditions.append(
                f"exists (select 1 from {SCHEMA}.pending_purge as purged "
                f"where purged.source_table = {relation}.source_table "
                f"and purged.source_record_id = {relation}.source_record_id)"
            )
        if "record_key" in columns:
            conditions.append(f"record_key in ({keys})")
        if {"record_key_a", "record_key_b"} <= columns.keys():
            conditions.append(f"record_key_a in ({keys}) or record_key_b in ({keys})")
        if "node" in columns:
            conditions.append(f"node in ({keys})")
        if schema == "snapshots" and "customer_id" in columns:
            conditions.append(f"customer_id in (select customer_id from {SCHEMA}.erased_customers)")
        if conditions:
            deleted += con.execute(
                f"delete from {relation} where " + " or ".join(f"({c})" for c in conditions)
            ).fetchall()[0][0]
    return deleted


def _delete_orphan_vault_tokens(con) -> None:
    if not (
        _exists(con, "vault", "vault_pii_tokens") and _exists(con, "vault", "vault_identity_pii")
    ):
        return
    held = " union ".join(
        f"select {c} from vault.vault_identity_pii where {c} is not null"
        for c in ("email_token", "phone_token", "address_token", "house_number_token", "name_token")
    )
    con.execute(f"delete from vault.vault_pii_tokens where token not in ({held})")


@dataclass
class FinishResult:
    rows_deleted: int = 0
    compacted: bool = False
    landing_files_rewritten: int = 0
    # When erased values must leave the file's bytes (None: nothing waits).
    bytes_purge_due_on: dt.date | None = None


def finish(
    warehouse_file: str | os.PathLike | None = None, *, today: dt.date | None = None
) -> FinishResult:
    """After the day is published: delete what state and history still hold of
    the records purged at intake; then, if the byte purge of erased values is
    due (BYTE_PURGE_WITHIN_DAYS after the first erasure not yet purged from
    the file's bytes), rewrite the file."""
    path = warehouse.warehouse_path(warehouse_file)
    today = today or dt.date.today()
    con = warehouse.connect(path)
    try:
        ensure_tables(con)
        result = FinishResult()
        if _scalar(con, f"select count(*) from {SCHEMA}.pending_purge"):
            con.execute("begin transaction")
            result.rows_deleted = _delete_records(con)
            con.execute(f"delete from {SCHEMA}.pending_purge")
            con.execute("commit")
        due_on, was_due = con.execute(
            f"select bytes_purge_due_on, is_compaction_due from {SCHEMA}.sweep_state"
        ).fetchall()[0]
    finally:
        con.close()
    # is_compaction_due: a warehouse from before the rewrite was batched.
    if was_due or (due_on is not None and due_on <= today):
        result.landing_files_rewritten = purge_bytes(path)
        result.compacted = True
    else:
        result.bytes_purge_due_on = due_on
    return result


def bytes_purge_due_on(warehouse_file: str | os.PathLike | None = None) -> dt.date | None:
    """When the file must next be rewritten to purge erased values from its
    bytes; None when nothing erased awaits it."""
    con = warehouse.connect(warehouse_file)
    try:
        ensure_tables(con)
        return _scalar(con, f"select bytes_purge_due_on from {SCHEMA}.sweep_state")
    finally:
        con.close()


def purge_bytes(warehouse_file: str | os.PathLike | None = None) -> int:
    """Rewrite the landing files holding erased rows, then the warehouse file
    (`c360 privacy purge-bytes`, or when due), so that no deleted value is
    left in a landing file or in the file's freed blocks. Returns the number
    of landing files rewritten."""
    path = warehouse.warehouse_path(warehouse_file)
    con = warehouse.connect(path)
    try:
        ensure_tables(con)
        rewritten = _purge_landing_files(con)
    finally:
        con.close()
    compact(path)
    con = warehouse.connect(path)
    try:
        con.execute(
            f"update {SCHEMA}.sweep_state set is_compaction_due = false, bytes_purge_due_on = null"
        )
    finally:
        con.close()
    return rewritten


def _purge_landing_files(con) -> int:
    """Rewrite every queued landing file without what the erasures purged from
    raw at intake. A rerun after a crash rewrites again: purging is idempotent."""
    files = con.execute(
        f"select table_name, source_file from {SCHEMA}.landing_purge_files order by all"
    ).fetchall()
    if not files:
        return 0
    for temp in ("_purge_records", "_unlink_keys"):
        con.execute(
            f"""create or replace temp table {temp} as
            select source_table, source_record_id from {SCHEMA}.landing_purge_records"""
        )
    con.execute(
        f"""create or replace temp table _erased_requests as
        select request_id from {SCHEMA}.landing_purge_requests"""
    )
    rewritten = sum(_rewrite_landing_file(con, Path(path), name) for name, path in files)
    for table in ("landing_purge_files", "landing_purge_records", "landing_purge_requests"):
        con.execute(f"delete from {SCHEMA}.{table}")
    return rewritten


def compact(warehouse_file: str | os.PathLike | None = None) -> None:
    """Rewrite the DuckDB file table by table into a new one and swap it in.

    DuckDB does not zero freed blocks: a deleted row can still be read from
    the file's bytes after DELETE and CHECKPOINT. A copy holds live rows only.
    """
    path = warehouse.warehouse_path(warehouse_file).resolve()
    _release_in_process_connections(path)
    scratch = path.with_name(path.name + ".compacting")
    for stale in (scratch, scratch.with_name(scratch.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("checkpoint")
        name = _scalar(con, "select current_database()")
        quoted = str(scratch).replace("'", "''")
        con.execute(f"attach '{quoted}' as c360_compacted")
        con.execute(f'copy from database "{name}" to c360_compacted')
        con.execute("detach c360_compacted")
    finally:
        con.close()
    os.replace(scratch, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def _release_in_process_connections(path: Path) -> None:
    """Swapping the file under a DuckDB instance this process still holds would
    send every later write to the old, unlinked file. dbt run in-process
    (c360/dbt.py) keeps its connection open: close it, then make sure no
    instance of the file is left (DuckDB refuses a read-only connection to a
    file it holds open read-write)."""
    import gc

    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt is a dependency
        DuckDBConnectionManager = None
    if DuckDBConnectionManager is not None and DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager._ENV = None
    gc.collect()
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.ConnectionException as held:
        raise RuntimeError(
            f"cannot rewrite {path}: a connection in this process still holds it ({held})"
        ) from held


# -- access export -------------------------------------------------------------


def _json_default(value):
    return str(value)


def _decode_tokens(con, rows: list[dict]) -> list[dict]:
    """The rows with each `<attribute>_token` column replaced by `<attribute>`,
    its value decoded through the vault: one lookup for every token of the batch."""
    tokens = sorted(
        {v for row in rows for c, v in row.items() if c.endswith("_token") and v is not None}
    )
    values = {}
    if tokens:
        con.execute("create or replace temp table _export_tokens (token varchar)")
        _insert_many(con, "insert into _export_tokens values (?)", [(t,) for t in tokens])
        values = dict(
            con.execute(
                "select vault.token, vault.pii_value from vault.vault_pii_tokens as vault "
                "inner join _export_tokens as wanted on vault.token = wanted.token"
            ).fetchall()
        )
    decoded = []
    for row in rows:
        out = {}
        for column, value in row.items():
            if column.endswith("_token"):
                out[column.removesuffix("_token")] = values.get(value) if value else None
            else:
                out[column] = value
        decoded.append(out)
    return decoded


def _rows_by_request(con, sql: str) -> dict[str, list[dict]]:
    """The query's rows grouped by their `_request_id` column, which is dropped;
    each group keeps the query's order."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in _rows(con, sql):
        grouped[row.pop("_request_id")].append(row)
    return grouped


@dataclass
class ExportSubject:
    """One access request to answer: its decision, records and request row."""

    decision: Decision
    records: list[tuple[str, str]]
    request: dict


def build_exports(con, subjects: list[ExportSubject]) -> dict[str, dict]:
    """Everything held on each subject, readable by a person: each identity
    record as its source delivers it now and every version it delivered, the
    golden record with where each value came from, the activity, and the
    identity events. Each table is read once for the whole batch, not once a
    subject: requests come in proportion to customers, so per-subject scans
    would cost the square of the warehouse."""
    if not subjects:
        return {}
    con.execute(
        "create or replace temp table _export_records "
        "(request_id varchar, source_table varchar, source_record_id varchar)"
    )
    _insert_many(
        con,
        "insert into _export_records values (?, ?, ?)",
        [(s.decision.request_id, t, r) for s in subjects for t, r in s.records],
    )
    con.execute(
        "create or replace temp table _export_customers (request_id varchar, customer_id varchar)"
    )
    _insert_many(
        con,
        "insert into _export_customers values (?, ?)",
        [
            (s.decision.request_id, s.decision.customer_id)
            for s in subjects
            if s.decision.customer_id
        ],
    )
    delivered: dict[tuple[str, str, str], dict] = {}
    versions: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for table in sorted({t for s in subjects for t, _ in s.records}):
        key = TABLES[table].key
        wanted = (
            "inner join _export_records as wanted "
            f"on wanted.source_table = '{table}' and wanted.source_record_id = source.\"{key}\""
        )
        for row in _rows(
            con,
            "select wanted.request_id as _request_id, wanted.source_record_id as _record_id, "
            "source.* exclude (_source_file, _loaded_at, is_deleted) "
            f"from staging.{STAGING_MODELS[table]} as source {wanted}",
        ):
            delivered[(row.pop("_request_id"), table, row.pop("_record_id"))] = row
        for row in _rows(
            con,
            "select wanted.request_id as _request_id, wanted.source_record_id as _record_id, "
            "source.* exclude (_source_file, _loaded_at) "
            f"from {warehouse.RAW_SCHEMA}.{table} as source {wanted} "
            "order by _request_id, _record_id, source._dt, source._extracted_at",
        ):
            versions[(row.pop("_request_id"), table, row.pop("_record_id"))].append(row)

    # One vault lookup decodes every subject's golden record.
    golden = {
        row.pop("_request_id"): row
        for row in _decode_tokens(
            con,
            _rows(
                con,
                "select wanted.request_id as _request_id, customer.* "
                "from marts.dim_customer as customer inner join _export_customers as wanted "
                "on customer.customer_id = wanted.customer_id",
            ),
        )
    }
    # An id merged into the subject's names it as its current id.
    con.execute(
        """create or replace temp table _export_ids as
        select wanted.request_id, history.customer_id
        from marts.customer_id_history as history
        inner join _export_customers as wanted on history.current_customer_id = wanted.customer_id
        union
        select wanted.request_id, history.customer_id
        from marts.customer_id_history as history
        inner join _export_customers as wanted on history.customer_id = wanted.customer_id"""
    )
    ids_ever: dict[str, list[str]] = defaultdict(list)
    for request_id, customer_id in con.execute(
        "select request_id, customer_id from _export_ids order by request_id, customer_id"
    ).fetchall():
        ids_ever[request_id].append(customer_id)
    activity = {
        name: _rows_by_request(
            con,
            f"select wanted.request_id as _request_id, fact.* from marts.{fact} as fact "
            "inner join _export_customers as wanted on fact.customer_id = wanted.customer_id "
            "order by all",
        )
        for name, fact in ACTIVITY_FACTS.items()
    }
    events = _rows_by_request(
        con,
        """with named as (
            select
                event_id,
                unnest(string_split(
                    coalesce(customer_ids_before, '') || ',' || coalesce(customer_ids_after, ''),
                    ','
                )) as customer_id
            from marts.identity_events
        ),
        touching as (
            select distinct ids.request_id, named.event_id
            from named
            inner join _export_ids as ids on named.customer_id = ids.customer_id
        )
        select touching.request_id as _request_id, event.* exclude (event_id)
        from marts.identity_events as event
        inner join touching on event.event_id = touching.event_id
        order by _request_id, event.run_date, event.event_type""",
    )

    documents = {}
    for subject in subjects:
        decision, request = subject.decision, subject.request
        rid = decision.request_id
        identity = [
            {
                "source_system": TABLES[table].source,
                "source_table": table,
                "source_record_id": record_id,
                "as_delivered": delivered.get((rid, table, record_id)),
                "every_version_delivered": versions.get((rid, table, record_id), []),
            }
            for table, record_id in subject.records
        ]
        has_customer = bool(decision.customer_id)
        documents[rid] = {
            "request": {
                "request_id": rid,
                "request_type": "access",
                "jurisdiction": request.get("jurisdiction"),
                "received_at": request.get("received_at"),
            },
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "customer_id": decision.customer_id,
            "customer_ids_ever_issued": ids_ever.get(rid, []),
            "identity_records": identity,
            "golden_record": golden.get(rid),
            "activity": (
                {name: rows.get(rid, []) for name, rows in activity.items()} if has_customer else {}
            ),
            "identity_events": events.get(rid, []),
        }
    return documents


def write_exports(con, subjects: list[ExportSubject], warehouse_file) -> dict[str, Path]:
    """Each subject's export as one JSON file; its path by request id."""
    target_dir = export_dir(warehouse_file)
    target_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for request_id, document in build_exports(con, subjects).items():
        target = target_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', request_id)}.json"
        target.write_text(json.dumps(document, indent=2, default=_json_default, ensure_ascii=False))
        written[request_id] = target
    return written


# -- ad hoc requests (c360 privacy ...) ----------------------------------------

CLI_SOURCE = "c360 privacy"


def submit(
    request_type: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    loyalty_id: str | None = None,
    customer_id: str | None = None,
    jurisdiction: str = "GDPR",
    warehouse_file: str | os.PathLike | None = None,
) -> str:
    """Write an ad hoc request into raw.privacy_requests, as a delivery would be,
    and return its id; the next intake (which `c360 privacy` runs at once)
    processes it like any other."""
    if not any((email, phone, loyalty_id, customer_id)):
        raise ValueError("give the subject: --email, --phone, --loyalty-id or --customer-id")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    request_id = f"cli-{now:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    con = warehouse.connect(warehouse_file)
    try:
        warehouse.ensure_raw_tables(con)
        con.execute(
            f"""insert into {warehouse.RAW_SCHEMA}.privacy_requests
            (request_id, request_type, jurisdiction, subject_email, subject_phone,
             subject_loyalty_id, subject_customer_id, received_at, _op, _extracted_at,
             _dt, _source_file, _loaded_at)
            values (?, ?, ?, ?, ?, ?, ?, ?, 'U', ?, ?, ?, ?)""",
            [
                request_id,
                request_type,
                jurisdiction,
                email,
                phone,
                loyalty_id,
                customer_id,
                now.isoformat(),
                now.isoformat(),
                now.date(),
                f"{CLI_SOURCE} ({now:%Y-%m-%d %H:%M:%S})",
                now,
            ],
        )
    finally:
        con.close()
    return request_id


def request_status(request_id: str, warehouse_file: str | os.PathLike | None = None) -> dict:
    con = warehouse.connect(warehouse_file)
    try:
        rows = _rows(con, f"select * from {SCHEMA}.request_log where request_id = ?", [request_id])
        return rows[0] if rows else {}
    finally:
        con.close()


# -- key rotation --------------------------------------------------------------


@dataclass
class RotationResult:
    tokens_mapped: int
    history_values_rekeyed: int
    old_tokens_left: int | None  # None until the rebuild under the new key ran


def rotate_snapshot_tokens(
    warehouse_file: str | os.PathLike | None, old_key: bytes, new_key: bytes
) -> RotationResult:
    """Re-tokenize what the daily build does not rebuild: the snapshot history.

    A token of a value the vault still holds becomes that value's new token,
    so history joins the rebuilt marts as before. A token of a value no
    longer held (an email a customer has since changed) cannot be recomputed
    and is re-keyed instead: HMAC(new key, old token). Equal old tokens stay
    equal, and nothing joins the old key any more.
    """
    con = warehouse.connect(warehouse_file)
    try:
        mapping = [
            (old, token(pii_type, value, new_key))
            for pii_type, old, value in con.execute(
                "select pii_type, token, pii_value from vault.vault_pii_tokens"
            ).fetchall()
            if token(pii_type, value, old_key) == old
        ]
        con.execute("begin transaction")
        con.execute("create or replace temp table _token_map (old varchar, new varchar)")
        _insert_many(con, "insert into _token_map values (?, ?)", mapping)
        rekeyed = 0
        for schema, name, columns in _tables(con, (warehouse.RAW_SCHEMA, SCHEMA, "seeds")):
            if schema != "snapshots":
                continue
            for column in sorted(c for c in columns if c.endswith("_token")):
                con.execute(
                    f'update "{schema}"."{name}" as t set "{column}" = m.new '
                    f'from _token_map as m where t."{column}" = m.old'
                )
                leftovers = [
                    r[0]
                    for r in con.execute(
                        f'select distinct "{column}" from "{schema}"."{name}" '
                        f'where "{column}" is not null and "{column}" not in '
                        "(select new from _token_map)"
                    ).fetchall()
                ]
                if not leftovers:
                    continue
                con.execute("create or replace temp table _rekey (old varchar, new varchar)")
                con.executemany(
                    "insert into _rekey values (?, ?)",
                    [(v, token("retired_token", v, new_key)) for v in leftovers],
                )
                con.execute(
                    f'update "{schema}"."{name}" as t set "{column}" = r.new '
                    f'from _rekey as r where t."{column}" = r.old'
                )
                rekeyed += len(leftovers)
        con.execute("commit")
        return RotationResult(len(mapping), rekeyed, 0)
    finally:
        con.close()


def rotate_tokenization_key(
    new_key: bytes, warehouse_file: str | os.PathLike | None = None, *, rebuild: bool = True
) -> RotationResult:
    """Key rotation (docs/privacy.md, "Keys"): re-tokenize the snapshot history,
    then build the last run date again under the new key, which re-tokenizes
    everything else from the vault's values; finally count the old tokens left
    anywhere (none, or the rotation failed). With rebuild=False the next daily
    run does the rebuild, under the new key it must then be given. Links are
    by record and customer
    id, never by token, so no link changes; the rebuild scores every record
    once more, since the tokens are among the features the model reads."""
    from c360 import pipeline
    from c360.tokenization import KEY_ENV, KEY_FILE_ENV

    old_key = tokenization_key()
    if new_key == old_key:
        raise ValueError("the new key is the key in use")
    old = vault_tokens(warehouse_file)
    result = rotate_snapshot_tokens(warehouse_file, old_key, new_key)
    # Incremental models re-tokenize only the records that change: the next
    # build (at once, or the next daily run) rebuilds every one from raw.
    con = warehouse.connect(warehouse_file)
    try:
        warehouse.request_full_refresh(con, "tokenization key rotated")
    finally:
        con.close()
    if not rebuild:
        result.old_tokens_left = None
        return result
    os.environ[KEY_ENV] = new_key.decode()
    os.environ.pop(KEY_FILE_ENV, None)
    pipeline.rebuild(warehouse_file, quiet=True)
    result.old_tokens_left = old_tokens_left(warehouse_file, old)
    return result


def old_tokens_left(warehouse_file: str | os.PathLike | None, old_tokens: set[str]) -> int:
    """How many cells of any table still hold one of `old_tokens`."""
    con = warehouse.connect(warehouse_file)
    try:
        con.execute("create or replace temp table _old (token varchar)")
        _insert_many(con, "insert into _old values (?)", [(t,) for t in old_tokens])
        total = 0
        for schema, name, columns in _tables(con, ()):
            for column, data_type in sorted(columns.items()):
                if data_type == "VARCHAR":
                    total += _scalar(
                        con,
                        f'select count(*) from "{schema}"."{name}" '
                        f'where "{column}" in (select token from _old)',
                    )
        return total
    finally:
        con.close()


def vault_tokens(warehouse_file: str | os.PathLike | None = None) -> set[str]:
    con = warehouse.connect(warehouse_file)
    try:
        return {r[0] for r in con.execute("select token from vault.vault_pii_tokens").fetchall()}
    finally:
        con.close()
