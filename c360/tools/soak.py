"""`make soak`: a month of daily runs, every invariant checked after every day
(docs/benchmarks.md, "Soak").

    python -m c360.tools.soak --customers 20000 --days 30 --out data/soak

The generator writes the sources' deliveries once (OUT/generated: day 0 and
`--days` change days, with the truth). The platform's landing zone
(OUT/landing) then gains one day's partitions at a time and `pipeline.run`
processes it into OUT/warehouse.duckdb, as the daily schedule would. Merges,
splits, deletions and the generator's own privacy requests come with the
data; the soak adds what the generator does not make:

- steward decisions, a must-link and a cannot-link, written into
  stewardship.steward_decisions as the app's review queue writes them (the
  pair chosen from the queue, right by the truth, as a steward would);
- erasure requests delivered in the landing zone: by a current customer id,
  by an id merged away earlier, and by an email typed untidily;
- one rotation of the tokenization key (`pipeline.rotate_tokenization_key`),
  after which the days run under the new key.

The keys come from the environment (C360_TOKENIZATION_KEY, C360_SUPPRESSION_KEY,
C360_TOKENIZATION_KEY_NEW for the rotation); any that is not set is drawn at
random for this process only and never written anywhere.

After every day it checks the invariants (INVARIANTS) and records the day's
figures; at the end it checks them all once more, after the byte purge of
the last erasures. Results go to OUT/soak.json (and OUT/days.jsonl as the
days finish); a failed invariant makes the exit status 1 and is named. No
erased person's values are ever written by the soak: it keeps them in
memory to look for them, and reports counts. To read them before the run
erases them, a day that delivers a privacy request is loaded first; the
run then loads nothing new and builds the date as it would have.

The byte purge of erased values is due 7 days after the first erasure by
the wall clock (privacy.BYTE_PURGE_WITHIN_DAYS), and a soak runs a month of
run dates in well under a day, so the daily runs alone never reach it. The
soak keeps the calendar of run dates instead: on the run date 7 days after
the first erasure still in the bytes it runs `privacy.purge_bytes`, which is
what that day's run does on a real calendar, and looks for every erased
value in the files' bytes then.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from c360 import engine, warehouse
from c360.contract import IDENTITY_TABLES, TABLES
from c360.evaluation import sql_string

# The floors the test suite holds accuracy to on generated data
# (tests/e2e/pipeline_generated/test_accuracy.py, tests/e2e/daily_lifecycle).
PRECISION_FLOOR = 0.99
IDENTIFIABLE_RECALL_FLOOR = 0.93

INVARIANTS = {
    "untouched_churn": "untouched churn 0 every day",
    "records_kept": "no record lost between landing and customer_source_xref",
    "activity_conserved": "activity totals conserved",
    "ids_resolve": "every historical id resolves in one lookup",
    "erased_values_gone": "no erased value in any byte",
    "accuracy_floors": (
        f"pairwise precision >= {PRECISION_FLOOR} and identifiable recall >= "
        f"{IDENTIFIABLE_RECALL_FLOOR} at the end"
    ),
    "steward_decisions_held": "every steward decision holds on every day after it",
    "key_rotation_clean": "the key rotation leaves no old token and changes no link",
}

# Where an erased person's values are delivered and kept: the columns the
# privacy proof looks in (tests/support/privacy_scan.py, person_values).
RAW_PII_COLUMNS = {
    "ecommerce_customers": ("email", "phone", "street_address"),
    "loyalty_members": ("email", "phone", "street_address"),
    "crm_contacts": ("email", "phone"),
    "enrichment_profiles": ("email", "phone", "street_address"),
    "pos_card_holders": ("phone",),
    "mobile_app_devices": ("profile_email",),
}
VAULT_PII_COLUMNS = (
    "email_normalized",
    "phone_e164",
    "street_address_normalized",
    "email_token",
    "phone_token",
    "name_token",
    "address_token",
    "first_name_normalized || ' ' || last_name_normalized",
)
# Shorter values (a first name, a postcode) are other people's too.
MIN_NEEDLE_LENGTH = 8

# Each activity table: its fact, the identity table its link names, the
# link, and the amount summed (None: rows are counted only).
ACTIVITY_FACTS = {
    "ecommerce_orders": ("fct_orders", "ecommerce_customers", "customer_account_id", "order_total"),
    "mobile_app_events": ("fct_app_events", "mobile_app_devices", "device_id", None),
    "pos_transactions": ("fct_pos_transactions", "pos_card_holders", "card_number", "amount"),
    "crm_tickets": ("fct_tickets", "crm_contacts", "contact_id", None),
}
# dim_customer's activity totals against the linked facts they must sum to.
DIM_TOTALS = {
    "order_count": "select count(*) from marts.fct_orders where customer_id is not null",
    "order_revenue": (
        "select coalesce(sum(order_total), 0) from marts.fct_orders "
        "where customer_id is not null and is_revenue"
    ),
    "app_event_count": "select count(*) from marts.fct_app_events where customer_id is not null",
    "pos_transaction_count": (
        "select count(*) from marts.fct_pos_transactions where customer_id is not null"
    ),
    "pos_spend": (
        "select coalesce(sum(amount), 0) from marts.fct_pos_transactions "
        "where customer_id is not null"
    ),
    "ticket_count": "select count(*) from marts.fct_tickets where customer_id is not null",
}


# -- the invariants, each a function of what it reads --------------------------


def landing_images(landing: Path, table: str) -> str | None:
    """SQL: the latest image of each key a landing table delivered (the order
    staging ranks by: partition, extract time, file), or None before any
    delivery. Columns: the contract's, `dt`, `filename`."""
    if not any((landing / table).glob("dt=*/*.parquet")):
        return None
    key = TABLES[table].key
    files = sql_string(landing / table / "*" / "*.parquet")
    return f"""select * exclude (recency) from (
        select *, row_number() over (
            partition by {key}
            order by dt desc, _extracted_at desc nulls last, filename desc) as recency
        from read_parquet({files}, hive_partitioning = true, union_by_name = true,
            filename = true)
        where _op in ('U', 'D') and coalesce(trim({key}), '') <> '')
    where recency = 1"""


@dataclass
class RecordsCheck:
    landing_records: int
    xref_records: int
    awaiting_landing_purge: int
    missing: list[str]
    unexpected: list[str]
    duplicated: int
    without_customer: int

    @property
    def held(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicated or self.without_customer)

    def figures(self) -> dict:
        return {
            "landing_records": self.landing_records,
            "xref_records": self.xref_records,
            "awaiting_landing_purge": self.awaiting_landing_purge,
            "missing": len(self.missing),
            "unexpected": len(self.unexpected),
            "duplicated": self.duplicated,
            "without_customer": self.without_customer,
        }


def check_records(con: engine.Connection, landing: Path) -> RecordsCheck:
    """Every identity record the landing zone holds as live (its latest image
    an upsert) is in customer_source_xref once, with a customer, and the xref
    holds nothing else. Records an erasure or suppression took out wait in
    privacy.landing_purge_records until the byte purge rewrites their files:
    those are expected gone."""
    parts = []
    for spec in IDENTITY_TABLES:
        images = landing_images(landing, spec.name)
        if images is not None:
            parts.append(
                f"select '{spec.name}' as source_table, {spec.key} as source_record_id "
                f"from ({images}) where _op = 'U'"
            )
    landing_sql = " union all ".join(parts) or (
        "select null::varchar as source_table, null::varchar as source_record_id limit 0"
    )
    purge_queue = "privacy.landing_purge_records"
    con.execute(
        f"""create or replace temp table _soak_landing as
        select * from ({landing_sql}) as delivered
        where not exists (
            select 1 from {purge_queue} as queued
            where queued.source_table = delivered.source_table
              and queued.source_record_id = delivered.source_record_id)"""
    )
    xref = "marts.customer_source_xref"
    missing = con.execute(
        f"""select source_table || ':' || source_record_id from _soak_landing
        except select source_table || ':' || source_record_id from {xref} order by 1"""
    ).fetchall()
    unexpected = con.execute(
        f"""select source_table || ':' || source_record_id from {xref}
        except select source_table || ':' || source_record_id from _soak_landing order by 1"""
    ).fetchall()
    duplicated, without_customer, xref_records = con.execute(
        f"""select
            (select count(*) from (select 1 from {xref} group by source_table, source_record_id
                                   having count(*) > 1)),
            (select count(*) from {xref} where customer_id is null),
            (select count(*) from {xref})"""
    ).fetchall()[0]
    return RecordsCheck(
        landing_records=engine.scalar(con, "select count(*) from _soak_landing"),
        xref_records=xref_records,
        awaiting_landing_purge=engine.scalar(con, f"select count(*) from {purge_queue}"),
        missing=[r[0] for r in missing],
        unexpected=[r[0] for r in unexpected],
        duplicated=duplicated,
        without_customer=without_customer,
    )


def check_activity(con: engine.Connection, landing: Path) -> tuple[dict, list[str]]:
    """Activity is conserved: each fact holds every activity row the landing
    zone holds as live, no more, with the same amounts; each row carries
    the customer that holds its record today (none for an erased record's,
    kept unlinked); and dim_customer's totals are the sums of the linked
    rows. Returns the figures and what did not hold."""
    figures: dict[str, dict] = {}
    failures = []
    for table, (fact, identity, link, amount) in ACTIVITY_FACTS.items():
        key = TABLES[table].key
        images = landing_images(landing, table)
        measure = f"cast({amount} as decimal(18, 2))" if amount else "0"
        landing_sql = (
            f"select {key} as activity_key, {measure} as amount from ({images}) where _op = 'U'"
            if images
            else "select null::varchar as activity_key, 0 as amount limit 0"
        )
        fact_measure = amount or "0"
        row = con.execute(
            f"""with delivered as ({landing_sql}),
            facts as (select {key} as activity_key, {fact_measure} as amount from marts.{fact})
            select
                (select count(*) from delivered),
                (select coalesce(sum(amount), 0) from delivered),
                (select count(*) from facts),
                (select coalesce(sum(amount), 0) from facts),
                (select count(*) from (select activity_key from delivered
                                       except select activity_key from facts)),
                (select count(*) from (select activity_key from facts
                                       except select activity_key from delivered)),
                (select count(*) from marts.{fact} as f
                 left join marts.customer_source_xref as x
                    on x.source_table = '{identity}' and x.source_record_id = f.{link}
                 where f.customer_id is distinct from x.customer_id)"""
        ).fetchall()[0]
        rows, total, fact_rows, fact_total, missing, extra, misattributed = row
        figures[table] = {
            "landing_rows": rows,
            "fact_rows": fact_rows,
            "landing_amount": str(total),
            "fact_amount": str(fact_total),
            "missing_from_fact": missing,
            "not_in_landing": extra,
            "customer_not_the_records": misattributed,
        }
        if rows != fact_rows or Decimal(total) != Decimal(fact_total) or missing or extra:
            failures.append(
                f"{table}: landing {rows:,} rows ({total}), {fact} {fact_rows:,} ({fact_total}); "
                f"{missing:,} missing, {extra:,} not delivered"
            )
        if misattributed:
            failures.append(f"{fact}: {misattributed:,} rows not on their record's customer")
    dim = con.execute(
        "select "
        + ", ".join(f"coalesce(sum({c}), 0)" for c in DIM_TOTALS)
        + " from marts.dim_customer"
    ).fetchall()[0]
    totals = {}
    for (column, sql), in_dim in zip(DIM_TOTALS.items(), dim, strict=True):
        in_facts = engine.scalar(con, sql)
        totals[column] = {"dim_customer": str(in_dim), "facts": str(in_facts)}
        if Decimal(in_dim) != Decimal(in_facts):
            failures.append(
                f"dim_customer.{column} sums to {in_dim}, the linked facts to {in_facts}"
            )
    figures["dim_customer"] = totals
    return figures, failures


def id_resolution_failures(
    history: list[tuple[str, str, str | None, str | None]],
    live_ids: set[str],
    ids_ever_seen: set[str],
) -> dict[str, list[str]]:
    """What breaks "every id ever issued resolves in one lookup" in
    customer_id_history rows (customer_id, status, current_customer_id,
    merged_into_customer_id), given the ids dim_customer holds today and every
    id any earlier day published: an id without its one row; a current id
    that is not live or not itself active (a second lookup); an active id
    that is not live, or not its own current; a live id no row calls active;
    an id with no current id that is not gone (merged into a gone id,
    erased or retired)."""
    rows: dict[str, list[tuple]] = {}
    for row in history:
        rows.setdefault(row[0], []).append(row)
    found: dict[str, list[str]] = {
        "without_history": sorted(ids_ever_seen - set(rows)),
        "duplicated": sorted(c for c, r in rows.items() if len(r) > 1),
        "active_not_live": [],
        "current_not_live": [],
        "current_not_final": [],
        "live_not_active": [],
        "gone_but_live": [],
        "merged_into_nothing_gone": [],
    }
    single = {c: r[0] for c, r in rows.items()}
    for customer_id, status, current, merged_into in single.values():
        if status == "active":
            if current != customer_id or customer_id not in live_ids:
                found["active_not_live"].append(customer_id)
        elif current is not None:
            if current not in live_ids:
                found["current_not_live"].append(customer_id)
            elif single.get(current, (None, None, None, None))[1:3] != ("active", current):
                found["current_not_final"].append(customer_id)
        else:
            if customer_id in live_ids:
                found["gone_but_live"].append(customer_id)
            if status == "merged" and not _chain_ends_gone(customer_id, merged_into, single):
                found["merged_into_nothing_gone"].append(customer_id)
    found["live_not_active"] = sorted(
        c for c in live_ids if single.get(c, (None, None))[1] != "active"
    )
    return {kind: sorted(ids) for kind, ids in found.items() if ids}


def _chain_ends_gone(customer_id: str, merged_into: str | None, rows: dict) -> bool:
    # A merged id with no current id was merged into an id since erased or
    # retired, perhaps through other merges: follow the survivors to it.
    seen = {customer_id}
    while merged_into is not None and merged_into not in seen:
        seen.add(merged_into)
        row = rows.get(merged_into)
        if row is None:
            return False
        if row[1] in ("erased", "retired"):
            return True
        merged_into = row[3]
    return False


def check_ids(con: engine.Connection, ids_ever_seen: set[str]) -> tuple[dict, dict]:
    history = [
        tuple(r)
        for r in con.execute(
            "select customer_id, status, current_customer_id, merged_into_customer_id "
            "from marts.customer_id_history"
        ).fetchall()
    ]
    live = {r[0] for r in con.execute("select customer_id from marts.dim_customer").fetchall()}
    issued = {
        r[0]
        for r in con.execute(
            "select distinct customer_id from intermediate.int_customer_id_assignments"
        ).fetchall()
    }
    failures = id_resolution_failures(history, live, ids_ever_seen | issued)
    statuses: dict[str, int] = {}
    for _, status, _, _ in history:
        statuses[status] = statuses.get(status, 0) + 1
    figures = {
        "ids_in_history": len(history),
        "ids_ever_published": len(ids_ever_seen),
        "by_status": dict(sorted(statuses.items())),
    }
    return figures, failures


def moved_outside_reclustering(
    before: dict[str, str], after: dict[str, str], reclustered: set[str]
) -> list[str]:
    """Records whose customer id changed from one day to the next although the
    day did not cluster them again: churn the day's own work cannot explain
    (docs/customer_ids.md: only a touched component is clustered again, and
    no other record's id can change)."""
    return sorted(
        record
        for record, customer in after.items()
        if record in before and before[record] != customer and record not in reclustered
    )


def steward_failures(
    memberships: dict[str, str], decisions: list[tuple[str, str, str]]
) -> list[str]:
    """Decisions (override type, record key, record key) the customers do not
    honour: a must-link pair apart, a cannot-link pair together. A pair a
    record of which has left (erased, deleted) holds nothing."""
    failed = []
    for override, a, b in decisions:
        if a not in memberships or b not in memberships:
            continue
        together = memberships[a] == memberships[b]
        if together != (override == "must_link"):
            failed.append(f"{override} {a} {b}")
    return failed


def day_events(con: engine.Connection, day: dt.date) -> dict[str, int]:
    """A run date's identity events, counted by type and reason."""
    return {
        f"{kind} ({reason})": n
        for kind, reason, n in con.execute(
            "select event_type, reason, count(*) from marts.identity_events "
            "where run_date = ? and event_type <> 'new' group by all order by all",
            [day],
        ).fetchall()
    }


def xref_memberships(con: engine.Connection) -> dict[str, str]:
    return dict(
        con.execute(
            "select source_table || ':' || source_record_id, customer_id "
            "from marts.customer_source_xref"
        ).fetchall()
    )


# -- erased values --------------------------------------------------------------


def needle_pattern(needles: Iterable[str]) -> str:
    """One RE2 alternation matching any needle in lower-cased text."""
    special = set("\\.^$|?*+()[]{}")
    escaped = sorted(
        "".join("\\" + ch if ch in special else ch for ch in n.lower()) for n in set(needles)
    )
    return "|".join(escaped)


def text_columns(con: engine.Connection) -> list[tuple[str, str, list[str]]]:
    """(schema, relation, text columns) of every table and view of the file."""
    return [
        (schema, name, list(columns))
        for schema, name, columns in con.execute(
            """select table_schema, table_name, list(column_name order by column_name)
            from information_schema.columns
            where table_catalog = current_database()
              and (data_type like '%VARCHAR%' or data_type = 'JSON')
            group by 1, 2 order by 1, 2"""
        ).fetchall()
    ]


def needles_in_tables(con: engine.Connection, needles: set[str]) -> list[tuple[str, str, int]]:
    """(relation, column, cells) of every text cell of every table and view
    that contains a needle, case-insensitively. The needles travel as a
    parameter, never in a table: a temporary table can spill to disk."""
    if not needles:
        return []
    pattern = needle_pattern(needles)
    found = []
    for schema, relation, columns in text_columns(con):
        counts = ", ".join(
            f'count(*) filter (where regexp_matches(lower(cast("{c}" as varchar)), $1))'
            for c in columns
        )
        hits = con.execute(f'select {counts} from "{schema}"."{relation}"', [pattern]).fetchall()
        found += [
            (f"{schema}.{relation}", column, n)
            for column, n in zip(columns, hits[0], strict=True)
            if n
        ]
    return found


def needles_in_files(files: Iterable[Path], needles: set[str]) -> dict[str, int]:
    """{file: needles found} over the files' raw bytes, lower-cased (so that a
    value is found in any case it was stored in)."""
    wanted = {n.lower().encode() for n in needles}
    found = {}
    for path in files:
        if not path.is_file():
            continue
        blob = path.read_bytes().lower()
        hits = sum(1 for n in wanted if n in blob)
        if hits:
            found[str(path)] = hits
    return found


def needles_in_landing(con: engine.Connection, landing: Path, needles: set[str]) -> dict[str, int]:
    """{landing file: rows holding a needle in any column}. Parquet compresses
    its pages, so the files are read, not their bytes."""
    if not needles:
        return {}
    pattern = needle_pattern(needles)
    found: dict[str, int] = {}
    for table, spec in TABLES.items():
        if not any((landing / table).glob("dt=*/*.parquet")):
            continue
        row = " || '|' || ".join(
            f"coalesce(cast(\"{c}\" as varchar), '')" for c in spec.column_names
        )
        files = sql_string(landing / table / "*" / "*.parquet")
        for file, rows in con.execute(
            f"""select filename, count(*) from read_parquet({files}, union_by_name = true,
                filename = true)
            where regexp_matches(lower({row}), $1) group by 1 order by 1""",
            [pattern],
        ).fetchall():
            found[file] = rows
    return found


@dataclass
class ErasedSubject:
    """An erasure the soak watches: the request, the records it was expected
    to erase, and the person's values (in memory only)."""

    request_id: str
    customer_id: str | None
    records: list[tuple[str, str]]
    needles: set[str] = field(repr=False)
    run_date: dt.date | None = None
    visible_in_bytes_before: int = 0


def record_values(con: engine.Connection, records: set[tuple[str, str]], *, mine: bool) -> set[str]:
    """The delivered PII values (every version in raw) and the vault's
    normalized values and tokens of these records (`mine`), or of every
    other record."""
    con.execute("create or replace temp table _soak_keys (source_table varchar, record_id varchar)")
    engine.insert_many(con, "insert into _soak_keys values (?, ?)", sorted(records))
    membership = "in" if mine else "not in"
    values: set[str] = set()
    for table, columns in RAW_PII_COLUMNS.items():
        key = TABLES[table].key
        for column in columns:
            values |= {
                r[0]
                for r in con.execute(
                    f"""select distinct trim("{column}") from raw.{table}
                    where "{key}" {membership} (select record_id from _soak_keys
                                                where source_table = '{table}')
                      and trim("{column}") <> ''"""
                ).fetchall()
                if r[0]
            }
    if engine.relation_exists(con, "vault", "vault_identity_pii"):
        for column in VAULT_PII_COLUMNS:
            values |= {
                r[0]
                for r in con.execute(
                    f"""select distinct {column} from vault.vault_identity_pii as pii
                    where source_table || ':' || source_record_id {membership}
                        (select source_table || ':' || record_id from _soak_keys)"""
                ).fetchall()
                if r[0]
            }
    con.execute("drop table _soak_keys")
    return values


def person_needles(con: engine.Connection, records: set[tuple[str, str]]) -> set[str]:
    """The values of these records that no other record holds (a household's
    shared address stays: it is the others' too)."""
    shared = {v.lower() for v in record_values(con, records, mine=False)}
    return {
        v
        for v in record_values(con, records, mine=True)
        if v.lower() not in shared and len(v) >= MIN_NEEDLE_LENGTH
    }


def erasures_about_to_run(con: engine.Connection) -> dict[str, ErasedSubject]:
    """The erasure requests the next run will act on, resolved as its intake
    resolves them (against the last run's customers), with each subject's
    records and values read before the run deletes them."""
    from c360.privacy import resolution

    decisions, _, _ = resolution.resolve(con)
    erasures = [d for d in decisions if d.request_type == "erasure" and d.status == "completed"]
    if not erasures:
        return {}
    records = resolution.subject_records(con, erasures)
    return {
        d.request_id: ErasedSubject(
            d.request_id,
            d.customer_id,
            records[d.request_id],
            person_needles(con, set(records[d.request_id])),
        )
        for d in erasures
    }


def erased_id_versions(con: engine.Connection) -> dict[str, int]:
    """{snapshot: versions} of customer ids customer_id_history calls erased,
    in the published snapshots and where dbt builds them (`snapshots__wap`).
    An erasure deletes every version of the customer's golden record and
    memberships (docs/privacy.md), whatever ids it went by: an id merged into
    the erased one was the same person's, and is erased with it."""
    found = {}
    for schema, name in con.execute(
        """select table_schema, table_name from information_schema.columns
        where table_catalog = current_database() and table_schema like 'snapshots%'
          and column_name = 'customer_id'
        order by all"""
    ).fetchall():
        versions = engine.scalar(
            con,
            f"""select count(*) from "{schema}"."{name}" where customer_id in (
                select customer_id from marts.customer_id_history where status = 'erased')""",
        )
        if versions:
            found[f"{schema}.{name}"] = versions
    return found


def readmitted(con: engine.Connection, needles: set[str], erased: set[tuple[str, str]]) -> set[str]:
    """Needles a record other than an erased one holds today: a person who
    signed up again (docs/privacy.md, "Suppression": a first-party sign-up is
    admitted), or someone else given the same value since."""
    held = {v.lower() for v in record_values(con, erased, mine=False)}
    return {n for n in needles if n.lower() in held}


# -- what the soak plants ----------------------------------------------------------


@dataclass
class Plan:
    """On which day index (0 = the first run date) each planted event comes."""

    erase_by_id: int
    must_link: int
    cannot_link: int
    erase_by_merged_id: int
    rotate_key: int
    erase_by_email: int

    @classmethod
    def for_days(cls, days: int) -> Plan:
        def at(share: float) -> int:
            return min(days, max(1, round(days * share)))

        return cls(at(0.2), at(0.25), at(0.45), at(0.55), at(0.65), at(0.85))


def deliver_request(
    landing: Path, day: dt.date, request_id: str, *, customer_id=None, email=None
) -> None:
    """An erasure request delivered in the landing zone, beside the day's
    other files, as the contract says a source delivers one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from c360.tools.generator.render import conform, with_op

    received = dt.datetime.combine(day, dt.time(7))
    rows = {
        "request_id": [request_id],
        "request_type": ["erasure"],
        "jurisdiction": ["GDPR"],
        "subject_email": [email],
        "subject_customer_id": [customer_id],
        "received_at": [received],
    }
    extracted = received + dt.timedelta(hours=1)
    table = with_op(
        conform("privacy_requests", {k: pa.array(v) for k, v in rows.items()}),
        "U",
        int(extracted.replace(tzinfo=dt.UTC).timestamp() * 1_000_000),
    )
    target = landing / "privacy_requests" / f"dt={day.isoformat()}"
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target / f"soak-{request_id}.parquet")


def erasure_subject(con: engine.Connection, kind: str, avoid: set[str]) -> dict | None:
    """A subject for a planted erasure: `customer_id` the customer in the most
    sources; `merged_id` an id merged away earlier (its survivor is erased);
    `email` an email only one customer holds, typed in capitals with spaces."""
    avoid_sql = "and not list_contains($1::varchar[], xref.customer_id)"
    if kind == "customer_id":
        rows = con.execute(
            f"""select xref.customer_id from marts.customer_source_xref as xref
            where true {avoid_sql}
            group by 1 order by count(distinct source_table) desc, count(*) desc, 1 limit 1""",
            [sorted(avoid)],
        ).fetchall()
        return {"customer_id": rows[0][0]} if rows else None
    if kind == "merged_id":
        rows = con.execute(
            f"""select history.customer_id, history.current_customer_id
            from marts.customer_id_history as history
            inner join marts.customer_source_xref as xref
                on xref.customer_id = history.current_customer_id
            where history.status = 'merged' {avoid_sql}
            group by 1, 2 order by count(*) desc, 1 limit 1""",
            [sorted(avoid)],
        ).fetchall()
        return {"customer_id": rows[0][0], "survivor": rows[0][1]} if rows else None
    rows = con.execute(
        f"""with emails as (
            select pii.email_normalized, min(xref.customer_id) as customer_id
            from vault.vault_identity_pii as pii
            inner join marts.customer_source_xref as xref
                on xref.source_table = pii.source_table
                and xref.source_record_id = pii.source_record_id
            where pii.email_normalized is not null
            group by 1 having count(distinct xref.customer_id) = 1)
        select emails.email_normalized, emails.customer_id
        from emails inner join marts.customer_source_xref as xref using (customer_id)
        where true {avoid_sql}
        group by 1, 2 order by count(*) desc, 1 limit 1""",
        [sorted(avoid)],
    ).fetchall()
    if not rows:
        return None
    return {"email": f"  {rows[0][0].upper()} ", "survivor": rows[0][1]}


def steward_pair(con: engine.Connection, truth: Path, override: str) -> dict | None:
    """The review-queue pair a steward decides first: for a must-link, a pair
    of two customers that the truth says is one person; for a cannot-link,
    one customer's two records that the truth says are two people (from the
    queue if it holds one, else any such pair: a steward who saw it)."""
    links = sql_string(truth / "person_links.parquet")
    same = "=" if override == "must_link" else "<>"
    together = "not" if override == "must_link" else ""
    rows = con.execute(
        f"""with truth as (
            select source_table || ':' || source_record_id as record_key, person_id
            from read_parquet({links}))
        select queue.review_item_id, queue.record_key_a, queue.record_key_b
        from marts.identity_review_queue as queue
        inner join truth as truth_a on truth_a.record_key = queue.record_key_a
        inner join truth as truth_b on truth_b.record_key = queue.record_key_b
        where queue.item_type = 'pair' and {together} queue.is_same_customer
          and truth_a.person_id {same} truth_b.person_id
        order by queue.impact_rank, queue.review_item_id limit 1"""
    ).fetchall()
    if rows:
        return {
            "review_item_id": rows[0][0],
            "record_key_a": rows[0][1],
            "record_key_b": rows[0][2],
        }
    if override == "must_link":
        return None
    rows = con.execute(
        f"""with records as (
            select xref.customer_id, t.person_id,
                xref.source_table || ':' || xref.source_record_id as record_key
            from marts.customer_source_xref as xref
            inner join read_parquet({links}) as t
                on t.source_table = xref.source_table
                and t.source_record_id = xref.source_record_id)
        select a.record_key, b.record_key from records as a
        inner join records as b
            on a.customer_id = b.customer_id and a.person_id < b.person_id
        order by a.customer_id, a.record_key, b.record_key limit 1"""
    ).fetchall()
    if not rows:
        return None
    return {"review_item_id": None, "record_key_a": rows[0][0], "record_key_b": rows[0][1]}


# -- the run ----------------------------------------------------------------------


class Soak:
    def __init__(self, out: Path, customers: int, days: int, seed: int, evaluate_every: int):
        self.out = out
        self.customers, self.days, self.seed = customers, days, seed
        self.evaluate_every = evaluate_every
        self.generated = out / "generated"
        self.landing = out / "landing"
        self.warehouse = out / "warehouse.duckdb"
        self.truth = self.generated / "truth"
        self.plan = Plan.for_days(days)
        self.failures: dict[str, list[str]] = {name: [] for name in INVARIANTS}
        self.checked: dict[str, int] = dict.fromkeys(INVARIANTS, 0)
        self.measured: dict[str, object] = {}
        self.day_rows: list[dict] = []
        self.events: list[dict] = []
        self.erased: dict[str, ErasedSubject] = {}
        self.ids_ever_seen: set[str] = set()
        self.decisions: list[tuple[str, str, str]] = []
        self.first_erasure_in_bytes: dt.date | None = None
        self.byte_purges: list[dict] = []

    # -- bookkeeping

    def fail(self, invariant: str, day: str, detail: str) -> None:
        self.failures[invariant].append(f"{day}: {detail}")
        print(f"soak: INVARIANT FAILED {invariant} on {day}: {detail}", file=sys.stderr, flush=True)

    def check(self, invariant: str, day: str, failures: list[str] | dict) -> None:
        self.checked[invariant] += 1
        items = (
            [f"{kind}: {len(ids)} ({', '.join(ids[:3])})" for kind, ids in failures.items()]
            if isinstance(failures, dict)
            else failures
        )
        for item in items:
            self.fail(invariant, day, item)

    def event(self, day: dt.date, what: str, **detail) -> None:
        self.events.append({"run_date": day.isoformat(), "event": what, **detail})
        print(f"soak: {day} {what} {json.dumps(detail, default=str)}", file=sys.stderr, flush=True)

    # -- setup

    def generate(self) -> dict:
        from c360.tools.generator.config import GeneratorConfig
        from c360.tools.generator.core import generate

        for stale in (self.generated, self.landing, self.out / "privacy_exports"):
            shutil.rmtree(stale, ignore_errors=True)
        from c360.tools.bench import remove_leftover

        for suffix in ("", ".wal", ".tmp", ".compacting"):
            remove_leftover(Path(f"{self.warehouse}{suffix}"))
        clock = time.perf_counter()
        summary = generate(
            GeneratorConfig(customers=self.customers, days=self.days, seed=self.seed),
            self.generated,
            progress=False,
        )
        rows = summary["rows_by_table"]
        return {
            "seconds": round(time.perf_counter() - clock, 1),
            "landing_rows": sum(rows.values()),
            "rows_by_table": rows,
        }

    def run_dates(self) -> list[dt.date]:
        dates = {
            dt.date.fromisoformat(p.name.removeprefix("dt="))
            for p in (self.generated / "landing").glob("*/dt=*")
        }
        return sorted(dates)

    def deliver_day(self, day: dt.date) -> bool:
        """Copy the sources' partitions of a day into the platform's landing
        zone; whether a privacy request came with them."""
        for partition in sorted((self.generated / "landing").glob(f"*/dt={day.isoformat()}")):
            shutil.copytree(partition, self.landing / partition.parent.name / partition.name)
        return (self.landing / "privacy_requests" / f"dt={day.isoformat()}").exists()

    # -- a day

    def plant(self, index: int, day: dt.date) -> None:
        plan = self.plan
        con = warehouse.connect(self.warehouse)
        try:
            memberships = xref_memberships(con)
            # The steward's pairs stay, so that their decisions can be held to.
            avoid = {
                memberships[key]
                for _, a, b in self.decisions
                for key in (a, b)
                if key in memberships
            }
            for kind, at in (
                ("customer_id", plan.erase_by_id),
                ("merged_id", plan.erase_by_merged_id),
                ("email", plan.erase_by_email),
            ):
                if index != at:
                    continue
                subject = erasure_subject(con, kind, avoid)
                if subject is None:
                    self.event(day, "planted erasure skipped", kind=kind, reason="no subject")
                    continue
                request_id = f"PR-SOAK-{kind.upper()}-{index}"
                deliver_request(
                    self.landing,
                    day,
                    request_id,
                    customer_id=subject.get("customer_id"),
                    email=subject.get("email"),
                )
                shown = {k: v for k, v in subject.items() if k != "email"}
                self.event(
                    day, "erasure request delivered", request_id=request_id, by=kind, **shown
                )
            for override, at, reason in (
                ("must_link", plan.must_link, "same person: confirmed with the customer"),
                ("cannot_link", plan.cannot_link, "two people: different signatures on file"),
            ):
                if index != at:
                    continue
                pair = steward_pair(con, self.truth, override)
                if pair is None:
                    self.event(day, "steward decision skipped", override=override)
                    continue
                # As the app's review queue records it: with its audit row.
                warehouse.record_steward_decision(
                    con,
                    override_type=override,
                    record_key_a=pair["record_key_a"],
                    record_key_b=pair["record_key_b"],
                    reason=reason,
                    username="soak-steward",
                    role="steward",
                    review_item_id=pair["review_item_id"],
                )
                self.decisions.append((override, pair["record_key_a"], pair["record_key_b"]))
                memberships = xref_memberships(con)
                self.event(
                    day,
                    "steward decision",
                    override=override,
                    **pair,
                    customers_before=[
                        memberships.get(pair["record_key_a"]),
                        memberships.get(pair["record_key_b"]),
                    ],
                )
        finally:
            con.close()

    def run_day(self, index: int, day: dt.date, peak) -> dict:
        from c360 import pipeline

        requests_today = self.deliver_day(day)
        if index:
            self.plant(index, day)
            requests_today = (
                requests_today
                or (self.landing / "privacy_requests" / f"dt={day.isoformat()}").exists()
            )
        preload = 0.0
        watched: dict[str, ErasedSubject] = {}
        before: dict[str, str] = {}
        if index:
            # The day's requests are in raw before the run only if loaded
            # first: then the subjects' values can be read before the run
            # erases them. The run's own load finds nothing left to load.
            if requests_today:
                clock = time.perf_counter()
                pipeline.load(self.landing, self.warehouse, through=day)
                preload = time.perf_counter() - clock
            con = warehouse.connect(self.warehouse)
            try:
                watched = erasures_about_to_run(con)
                before = xref_memberships(con)
            finally:
                con.close()
            if watched:
                self.look_before_erasure(watched)
        peak.reset()
        clock = time.perf_counter()
        result = pipeline.run(self.landing, self.warehouse, quiet=True)
        wall = time.perf_counter() - clock
        if [d.run_date for d in result.days] != [day]:
            raise RuntimeError(
                f"run over {day} processed {[str(d.run_date) for d in result.days]}, not that day"
            )
        processed = result.days[0]
        seconds = dict(processed.seconds)
        seconds["load"] = round(seconds.get("load", 0.0) + preload, 1)
        row = self.day_figures(index, processed, seconds, wall + preload, peak.gib)
        self.after_erasures(day, watched, row)
        clock = time.perf_counter()
        self.check_day(index, day, before, row)
        self.calendar_byte_purge(day, row)
        row["check_seconds"] = round(time.perf_counter() - clock, 1)
        return row

    def look_before_erasure(self, watched: dict[str, ErasedSubject]) -> None:
        """How many of the subjects' values the byte scan can see before the
        erasure: a scan that sees none would prove nothing after it."""
        for subject in watched.values():
            subject.visible_in_bytes_before = sum(
                needles_in_files(self.warehouse_files(), subject.needles).values()
            )

    def day_figures(self, index: int, day, seconds: dict, wall: float, peak_gib: float) -> dict:
        m = day.metrics
        intake = day.privacy
        return {
            "day_index": index,
            "run_date": day.run_date.isoformat(),
            "seconds": seconds,
            "total_seconds": round(sum(seconds.values()), 1),
            "wall_seconds": round(wall, 1),
            "peak_rss_gib": peak_gib,
            "trained": day.trained is not None,
            "records_live": m.get("records_live"),
            "records_added": m.get("records_added"),
            "records_changed": m.get("records_changed"),
            "records_deleted": m.get("records_deleted"),
            "records_rescored": m.get("records_rescored"),
            "comparisons_scored": m.get("comparisons_scored"),
            "customers_live": m.get("customers_live"),
            "ids_kept": m.get("ids_kept"),
            "ids_minted": m.get("ids_minted"),
            "ids_merged": m.get("ids_merged"),
            "ids_split": m.get("ids_split"),
            "ids_retired": m.get("ids_retired"),
            "ids_erased": m.get("ids_erased"),
            "untouched_ids_changed": m.get("untouched_ids_changed"),
            "privacy_requests": dict(intake.requests) if intake else {},
            "records_erased": intake.records_erased if intake else 0,
            "records_suppressed": intake.records_suppressed if intake else 0,
            "activity_rows_unlinked": intake.activity_rows_unlinked if intake else 0,
            "warehouse_mib": round(self.warehouse.stat().st_size / 2**20, 1),
            # Other work on the machine slows the day: its figures say so.
            "load_average_1m": round(os.getloadavg()[0], 1),
        }

    def after_erasures(self, day: dt.date, watched: dict[str, ErasedSubject], row: dict) -> None:
        """Keep the values of the subjects the run erased as resolved; a
        request that resolved otherwise in the run (a record delivered that
        day changed its answer) is counted, its values not watched."""
        con = warehouse.connect(self.warehouse)
        try:
            logged = {
                r[0]: (r[1], r[2])
                for r in con.execute(
                    "select request_id, status, customer_ids from privacy.request_log "
                    "where request_type = 'erasure' and completed_on = ?",
                    [day],
                ).fetchall()
            }
        finally:
            con.close()
        unwatched = []
        for request_id, (status, customer_ids) in logged.items():
            subject = watched.get(request_id)
            if status != "completed":
                continue
            if subject is None or (subject.customer_id or None) != (customer_ids or None):
                unwatched.append(request_id)
                continue
            subject.run_date = day
            self.erased[request_id] = subject
            self.first_erasure_in_bytes = self.first_erasure_in_bytes or day
        row["erasures"] = {
            "completed": sum(1 for s, _ in logged.values() if s == "completed"),
            "other": sorted({s for s, _ in logged.values() if s != "completed"}),
            "watched": sum(1 for s in self.erased.values() if s.run_date == day),
            "values_watched": sum(
                len(s.needles) for s in self.erased.values() if s.run_date == day
            ),
            "not_watched": unwatched,
        }
        if unwatched:
            self.event(day, "erasure not watched", requests=unwatched)

    @property
    def erased_records(self) -> set[tuple[str, str]]:
        return {tuple(r) for s in self.erased.values() for r in s.records}

    def watched_needles(self, con: engine.Connection) -> tuple[set[str], int]:
        """Every erased value, less those a live record holds again."""
        needles = {n for s in self.erased.values() for n in s.needles}
        if not needles:
            return set(), 0
        again = readmitted(con, needles, self.erased_records)
        return needles - again, len(again)

    def check_day(
        self, index: int, day: dt.date, before: dict[str, str], row: dict, label: str = ""
    ) -> None:
        label = label or day.isoformat()
        churn = row["untouched_ids_changed"]
        con = warehouse.connect(self.warehouse)
        try:
            after = xref_memberships(con)
            reclustered = {
                r[0]
                for r in con.execute(
                    "select record_key from intermediate.int_identity_clusters "
                    "where reclustered_on = ?",
                    [day],
                ).fetchall()
            }
            moved = moved_outside_reclustering(before, after, reclustered)
            row["moved_outside_reclustering"] = len(moved)
            self.check(
                "untouched_churn",
                label,
                ([f"identity_run_metrics.untouched_ids_changed = {churn}"] if churn else [])
                + (
                    [f"{len(moved)} record(s) changed customer unclustered: {moved[:3]}"]
                    if moved
                    else []
                ),
            )
            records = check_records(con, self.landing)
            row["records"] = records.figures()
            self.check(
                "records_kept",
                label,
                []
                if records.held
                else [
                    f"{len(records.missing)} missing {records.missing[:3]}, "
                    f"{len(records.unexpected)} unexpected {records.unexpected[:3]}, "
                    f"{records.duplicated} duplicated, {records.without_customer} without customer"
                ],
            )
            row["activity"], activity_failures = check_activity(con, self.landing)
            self.check("activity_conserved", label, activity_failures)
            self.ids_ever_seen |= set(after.values())
            row["ids"], id_failures = check_ids(con, self.ids_ever_seen)
            self.check("ids_resolve", label, id_failures)
            if self.decisions:
                self.check("steward_decisions_held", label, steward_failures(after, self.decisions))
            needles, again = self.watched_needles(con)
            if needles:
                found = needles_in_tables(con, needles)
                row["erased_values"] = {
                    "watched": len(needles),
                    "held_again_by_live_records": again,
                    "cells_in_tables": sum(n for _, _, n in found),
                }
                self.check(
                    "erased_values_gone",
                    label,
                    [f"{n} cell(s) of {rel}.{col}" for rel, col, n in found],
                )
            versions = erased_id_versions(con)
            row["erased_id_versions"] = sum(versions.values())
            self.check(
                "erased_values_gone",
                label,
                [f"{n} version(s) of erased ids in {rel}" for rel, n in versions.items()],
            )
        finally:
            con.close()
        if self.evaluate_every and (index % self.evaluate_every == 0 or index == self.days):
            row["accuracy"] = self.accuracy()

    def accuracy(self) -> dict:
        from c360.evaluation import evaluate

        clock = time.perf_counter()
        result = evaluate(self.warehouse, self.truth)
        return {
            "pairwise_precision": result["pairwise"]["precision"],
            "pairwise_recall": result["pairwise"]["recall"],
            "identifiable_precision": result["identifiable"]["pairwise"]["precision"],
            "identifiable_recall": result["identifiable"]["pairwise"]["recall"],
            "bcubed": result["bcubed"],
            "records": result["records"],
            "lifecycle": result.get("lifecycle"),
            "seconds": round(time.perf_counter() - clock, 1),
        }

    # -- bytes

    def warehouse_files(self) -> list[Path]:
        """The warehouse's file, its WAL and anything it spilled."""
        files = [self.warehouse, Path(f"{self.warehouse}.wal")]
        spill = Path(f"{self.warehouse}.tmp")
        if spill.is_dir():
            files += sorted(p for p in spill.rglob("*") if p.is_file())
        return files

    def platform_files(self) -> list[Path]:
        """Every file the platform wrote outside its landing zone (read as
        tables, below): the warehouse and its spill, the access exports, the
        lock file. Not the sources' own deliveries (OUT/generated) nor the
        soak's results, which hold counts only."""
        skip = {self.generated, self.landing}
        files = []
        for path in sorted(self.out.rglob("*")):
            if not path.is_file() or any(parent in skip for parent in path.parents):
                continue
            if path.name in ("soak.json", "days.jsonl"):
                continue
            files.append(path)
        return files

    def scan_bytes(self, label: str, watched: tuple[set[str], int]) -> dict:
        """Every erased value (`watched`: the needles and how many are held again
        by live records), in the bytes of every file the platform keeps and in
        every landing file."""
        from c360 import privacy

        needles, again = watched
        con = warehouse.connect(self.warehouse)
        try:
            in_tables = needles_in_tables(con, needles)
            in_landing = needles_in_landing(con, self.landing, needles)
            versions = erased_id_versions(con)
            due = engine.scalar(con, f"select bytes_purge_due_on from {privacy.SCHEMA}.sweep_state")
        finally:
            con.close()
        files = self.platform_files()
        in_files = needles_in_files(files, needles)
        figures = {
            "values_watched": len(needles),
            "held_again_by_live_records": again,
            "files_scanned": len(files),
            "cells_in_tables": sum(n for _, _, n in in_tables),
            "values_in_file_bytes": sum(in_files.values()),
            "landing_rows_holding_one": sum(in_landing.values()),
            "bytes_purge_due_on": str(due) if due else None,
        }
        figures["erased_id_versions"] = sum(versions.values())
        failures = [f"{n} cell(s) of {rel}.{col}" for rel, col, n in in_tables]
        failures += [f"{n} version(s) of erased ids in {rel}" for rel, n in versions.items()]
        failures += [f"{n} value(s) in the bytes of {path}" for path, n in in_files.items()]
        failures += [f"{n} row(s) of landing file {path}" for path, n in in_landing.items()]
        self.check("erased_values_gone", label, failures)
        return figures

    def byte_purge(self, label: str) -> dict:
        """`privacy.purge_bytes`, with what waited for it before (erased values
        still in the landing files and in the file's freed blocks: the scans
        see them) and every byte looked through after."""
        from c360 import privacy

        # The purge rewrites files, not table contents: the values watched
        # before it are those watched after.
        con = warehouse.connect(self.warehouse)
        try:
            watched = self.watched_needles(con)
            needles = watched[0]
            landing_before = needles_in_landing(con, self.landing, needles)
        finally:
            con.close()
        bytes_before = needles_in_files(self.warehouse_files(), needles)
        clock = time.perf_counter()
        rewritten = privacy.purge_bytes(self.warehouse)
        seconds = round(time.perf_counter() - clock, 1)
        return {
            "seconds": seconds,
            "landing_files_rewritten": rewritten,
            "before": {
                "landing_rows_holding_one": sum(landing_before.values()),
                "values_in_file_bytes": sum(bytes_before.values()),
            },
            "after": self.scan_bytes(label, watched),
        }

    def calendar_byte_purge(self, day: dt.date, row: dict) -> None:
        """The byte purge a real calendar would have run on this run date."""
        from c360 import privacy

        first = self.first_erasure_in_bytes
        if first is None or day < first + dt.timedelta(days=privacy.BYTE_PURGE_WITHIN_DAYS):
            return
        self.first_erasure_in_bytes = None
        purge = {"run_date": day.isoformat(), **self.byte_purge(f"{day} (byte purge)")}
        self.byte_purges.append(purge)
        row["byte_purge"] = purge

    # -- the key rotation

    def rotate_key(self, index: int, day: dt.date, row: dict) -> None:
        from c360 import pipeline
        from c360.tokenization import KEY_ENV, new_tokenization_key

        new_key = new_tokenization_key() or secrets.token_hex(32).encode()
        con = warehouse.connect(self.warehouse)
        try:
            before = sorted(con.execute("select * from marts.customer_source_xref").fetchall())
            memberships = xref_memberships(con)
            events_before = day_events(con, day)
        finally:
            con.close()
        clock = time.perf_counter()
        result = pipeline.rotate_tokenization_key(new_key, self.warehouse)
        seconds = round(time.perf_counter() - clock, 1)
        # From here on the days run under the new key, as an operator sets it.
        os.environ[KEY_ENV] = new_key.decode()
        con = warehouse.connect(self.warehouse)
        try:
            after = sorted(con.execute("select * from marts.customer_source_xref").fetchall())
            events_after = day_events(con, day)
            now = xref_memberships(con)
            churn = engine.scalar(
                con,
                "select untouched_ids_changed from marts.identity_run_metrics where run_date = ?",
                [day],
            )
        finally:
            con.close()
        changed = len(set(before) ^ set(after))
        rotation = {
            "seconds": seconds,
            "tokens_mapped": result.tokens_mapped,
            "history_values_rekeyed": result.history_values_rekeyed,
            "old_tokens_left": result.old_tokens_left,
            "xref_rows_changed": changed,
            "records_moved": sum(1 for k, c in memberships.items() if now.get(k, c) != c),
            "untouched_ids_changed": churn,
            # What the rebuild of the day did beyond the day's own run.
            "events_added": {
                k: n - events_before.get(k, 0)
                for k, n in events_after.items()
                if n != events_before.get(k, 0)
            },
        }
        row["key_rotation"] = rotation
        self.measured["key_rotation"] = {"run_date": day.isoformat(), **rotation}
        self.event(day, "key rotated", **rotation)
        failures = []
        if result.old_tokens_left != 0:
            failures.append(f"{result.old_tokens_left} old token(s) left")
        if changed:
            failures.append(f"customer_source_xref changed in {changed} row(s)")
        self.check("key_rotation_clean", f"{day} (rotation)", failures)
        # The rebuild published the day again: every invariant once more.
        again = {"untouched_ids_changed": churn}
        self.check_day(index, day, memberships, again, label=f"{day} (after the key rotation)")
        row["after_key_rotation"] = again

    # -- the whole soak

    def run(self) -> int:
        from c360.tools.bench import PeakMemory, machine, versions

        started = time.perf_counter()
        keys = ensure_keys()
        print(f"soak: generating {self.customers:,} customers, {self.days} days", file=sys.stderr)
        generated = self.generate()
        dates = self.run_dates()
        self.landing.mkdir(parents=True, exist_ok=True)
        print(f"soak: {len(dates)} run dates, plan {self.plan}", file=sys.stderr, flush=True)
        with PeakMemory() as peak:
            for index, day in enumerate(dates):
                row = self.run_day(index, day, peak)
                if index == self.plan.rotate_key:
                    self.rotate_key(index, day, row)
                self.day_rows.append(row)
                with (self.out / "days.jsonl").open("a") as days_file:
                    days_file.write(json.dumps(row, default=str) + "\n")
                print(format_day(row), file=sys.stderr, flush=True)
            self.finish()
            peak_gib = peak.gib
        report = {
            "benchmark": "soak",
            "date": dt.date.today().isoformat(),
            "command": (
                f"python -m c360.tools.soak --customers {self.customers} --days {self.days} "
                f"--seed {self.seed} --out {self.out}"
            ),
            "customers": self.customers,
            "days": self.days,
            "seed": self.seed,
            "run_dates": len(dates),
            "plan": self.plan.__dict__,
            "keys": keys,
            "generated": generated,
            "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_gib": peak_gib,
            "machine": machine(),
            "versions": versions(),
            "events": self.events,
            "byte_purges": self.byte_purges,
            "measured": self.measured,
            "invariants": {
                name: {
                    "requirement": text,
                    "held": not self.failures[name],
                    "checks": self.checked[name],
                    "failures": self.failures[name],
                }
                for name, text in INVARIANTS.items()
            },
            "days_run": self.day_rows,
        }
        (self.out / "soak.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(format_summary(report))
        failed = [name for name in INVARIANTS if self.failures[name]]
        if failed:
            print(f"soak: invariants failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0

    def finish(self) -> None:
        """The end: the last erasures' byte purge (what `c360 privacy
        purge-bytes` does at once), then every erased value looked for in
        every byte, and accuracy against the floors."""
        final = {"byte_purge": self.byte_purge("end")}
        final["erasures_watched"] = len(self.erased)
        final["records_erased_watched"] = len(self.erased_records)
        final["values_visible_in_bytes_before_erasure"] = sum(
            s.visible_in_bytes_before for s in self.erased.values()
        )
        con = warehouse.connect(self.warehouse)
        try:
            records = check_records(con, self.landing)
            self.check(
                "records_kept",
                "end",
                [] if records.held else [f"after the final purge: {records.figures()}"],
            )
            final["records"] = records.figures()
            final["ids"], id_failures = check_ids(con, self.ids_ever_seen)
            self.check("ids_resolve", "end", id_failures)
            final["churn_every_day"] = [
                r[0]
                for r in con.execute(
                    "select untouched_ids_changed from marts.identity_run_metrics order by run_date"
                ).fetchall()
            ]
        finally:
            con.close()
        accuracy = self.day_rows[-1].get("accuracy") or self.accuracy()
        final["accuracy"] = accuracy
        self.check(
            "accuracy_floors",
            "end",
            (
                [f"pairwise precision {accuracy['pairwise_precision']} < {PRECISION_FLOOR}"]
                if accuracy["pairwise_precision"] < PRECISION_FLOOR
                else []
            )
            + (
                [
                    f"identifiable recall {accuracy['identifiable_recall']} < "
                    f"{IDENTIFIABLE_RECALL_FLOOR}"
                ]
                if accuracy["identifiable_recall"] < IDENTIFIABLE_RECALL_FLOOR
                else []
            ),
        )
        # The truth's view of the same: live records absent from the xref that
        # no erasure explains, beyond those the intake refused on delivery (a
        # third party re-sending an erased email under a new profile).
        missing = accuracy["records"].get("missing_from_xref", 0)
        suppressed = sum(r["records_suppressed"] for r in self.day_rows)
        final["truth_records_missing_from_xref"] = missing
        final["records_suppressed_on_delivery"] = suppressed
        if missing > suppressed:
            self.fail("records_kept", "end", f"{missing} live truth record(s) not in the xref")
        self.measured["end"] = final


def ensure_keys() -> dict[str, str]:
    """The keys from the environment; any missing is drawn at random for this
    process (never written down), so no development key is ever used."""
    from c360.privacy import SUPPRESSION_KEY_ENV, SUPPRESSION_KEY_FILE_ENV
    from c360.tokenization import KEY_ENV, KEY_FILE_ENV, NEW_KEY_ENV

    where = {}
    for env, file_env in ((KEY_ENV, KEY_FILE_ENV), (SUPPRESSION_KEY_ENV, SUPPRESSION_KEY_FILE_ENV)):
        if os.environ.get(env) or os.environ.get(file_env):
            where[env] = "environment"
        else:
            os.environ[env] = secrets.token_hex(32)
            where[env] = "random, this process only"
    where[NEW_KEY_ENV] = (
        "environment" if os.environ.get(NEW_KEY_ENV) else "random, this process only"
    )
    return where


# -- output ------------------------------------------------------------------------


def _ids(row: dict) -> str:
    return "/".join(
        str(row.get(k) or 0) for k in ("ids_minted", "ids_merged", "ids_split", "ids_erased")
    )


def format_day(row: dict) -> str:
    accuracy = row.get("accuracy") or {}
    quality = (
        f"P {accuracy['pairwise_precision']:.4f} R(id) {accuracy['identifiable_recall']:.4f}"
        if accuracy
        else ""
    )
    stages = " ".join(f"{k} {v}" for k, v in row["seconds"].items())
    return (
        f"soak: {row['run_date']} {row['total_seconds']} s ({stages}); records "
        f"{row['records_live']:,} +{row['records_added']}/~{row['records_changed']}/"
        f"-{row['records_deleted']}; ids minted/merged/split/erased {_ids(row)}; churn "
        f"{row['untouched_ids_changed']}; checks {row['check_seconds']} s {quality}"
    )


def format_summary(report: dict) -> str:
    lines = [
        f"Soak: {report['customers']:,} customers, {report['run_dates']} run dates "
        f"(day 0 + {report['days']}), seed {report['seed']}, {report['seconds'] / 60:.1f} min, "
        f"peak RSS {report['peak_rss_gib']} GiB; {report['machine']}",
        "",
        "| run date | total s | records live | +/~/- | ids minted/merged/split/erased | churn "
        "| P | R identifiable | events |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    events: dict[str, list[str]] = {}
    for event in report["events"]:
        events.setdefault(event["run_date"], []).append(event["event"])
    for row in report["days_run"]:
        accuracy = row.get("accuracy") or {}
        lines.append(
            f"| {row['run_date']} | {row['total_seconds']} | {row['records_live']:,} "
            f"| {row['records_added']}/{row['records_changed']}/{row['records_deleted']} "
            f"| {_ids(row)} | {row['untouched_ids_changed']} "
            f"| {accuracy.get('pairwise_precision', '')} "
            f"| {accuracy.get('identifiable_recall', '')} "
            f"| {'; '.join(events.get(row['run_date'], []))} |"
        )
    lines += ["", "| invariant | held | checks | failures |", "|---|---|---|---|"]
    for invariant in report["invariants"].values():
        first = invariant["failures"][:2]
        lines.append(
            f"| {invariant['requirement']} | {'yes' if invariant['held'] else 'NO'} "
            f"| {invariant['checks']} | {len(invariant['failures'])} {'; '.join(first)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument(
        "--days", type=int, default=30, help="change days after day 0 (as `c360 generate --days`)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("data/soak"))
    parser.add_argument(
        "--evaluate-every",
        type=int,
        default=1,
        metavar="N",
        help="score accuracy against the truth every N days (0: at the end only)",
    )
    args = parser.parse_args(argv)
    if args.days < 2:
        parser.error("--days must be at least 2: the soak plants events on change days")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "days.jsonl").unlink(missing_ok=True)
    soak = Soak(args.out, args.customers, args.days, args.seed, args.evaluate_every)
    return soak.run()


if __name__ == "__main__":
    sys.exit(main())
