"""Request resolution: which customer, and which of their records, a request
names. An identifier that points to more than one customer resolves to no
one: a person must check rather than the platform act on someone else."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from c360 import engine
from c360.privacy.tables import SCHEMA

REQUEST_TYPES = ("erasure", "access", "opt_out_sale", "opt_in_sale")
# The order requests of one batch are acted on: an export shows what was held
# before an erasure of the same day removed it.
_ACTION_ORDER = {"access": 0, "opt_out_sale": 1, "opt_in_sale": 1, "erasure": 2}


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
where not exists (
    select 1 from {SCHEMA}.request_log as logged where logged.request_id = requests.request_id
)
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


def resolve(con) -> tuple[list[Decision], dict[str, dict], int]:
    """The decisions on the requests not logged yet, in the order to act on
    them; the requests by id; and how many wait for the first customers."""
    if not engine.relation_exists(con, "staging", "stg_privacy__requests"):
        return [], {}, 0
    con.execute(_PENDING_SQL)
    pending = {r["request_id"]: r for r in engine.rows(con, "select * from _pending")}
    if not pending:
        return [], {}, 0
    if not (
        engine.relation_exists(con, "intermediate", "int_customer_memberships")
        and engine.relation_exists(con, "vault", "vault_identity_pii")
    ):
        # The first run has no customers to resolve against yet: the
        # requests wait for the next run date.
        return [], {}, len(pending)
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
    return decisions, pending, 0


def subject_records(con, decisions: list[Decision]) -> dict[str, list[tuple[str, str]]]:
    """Each resolved request's records: its customer's, and the records no
    customer holds yet that carry its identifiers. One pass over the
    memberships for the whole batch."""
    resolved = [d for d in decisions if d.status == "completed"]
    if not resolved:
        return {}
    con.execute("create or replace temp table _decided (request_id varchar, customer_id varchar)")
    engine.insert_many(
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
