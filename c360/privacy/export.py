"""Access export: everything held on a subject, as one JSON file a person can
read, written only once the intake that answered the request commits."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from c360 import engine, warehouse
from c360.contract import TABLES
from c360.privacy.resolution import Decision
from c360.privacy.tables import ACTIVITY_FACTS, SCHEMA, STAGING_MODELS
from c360.settings import settings


def export_dir(warehouse_file: str | os.PathLike | None = None) -> Path:
    configured = settings().privacy_export_dir
    if configured:
        return configured
    return warehouse.warehouse_path(warehouse_file).resolve().parent / "privacy_exports"


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
        engine.insert_many(con, "insert into _export_tokens values (?)", [(t,) for t in tokens])
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
    for row in engine.rows(con, sql):
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
    engine.insert_many(
        con,
        "insert into _export_records values (?, ?, ?)",
        [(s.decision.request_id, t, r) for s in subjects for t, r in s.records],
    )
    con.execute(
        "create or replace temp table _export_customers (request_id varchar, customer_id varchar)"
    )
    engine.insert_many(
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
        for row in engine.rows(
            con,
            "select wanted.request_id as _request_id, wanted.source_record_id as _record_id, "
            "source.* exclude (_source_file, _loaded_at, is_deleted) "
            f"from staging.{STAGING_MODELS[table]} as source {wanted}",
        ):
            delivered[(row.pop("_request_id"), table, row.pop("_record_id"))] = row
        for row in engine.rows(
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
            engine.rows(
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


@dataclass
class FileChanges:
    """Files a transaction writes or deletes, made visible only once it commits:
    each new file is written beside its target first (so a full disk fails the
    transaction, not the commit), and swapped in or discarded afterwards."""

    writes: list[tuple[Path, Path]] = field(default_factory=list)  # (scratch, target)
    deletes: list[Path] = field(default_factory=list)

    def write(self, target: Path, text: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        scratch.write_text(text)
        self.writes.append((scratch, target))

    def publish(self) -> None:
        """After the commit: the new files in place, the deleted ones gone."""
        for scratch, target in self.writes:
            os.replace(scratch, target)
        for path in self.deletes:
            path.unlink(missing_ok=True)
        self.writes, self.deletes = [], []

    def discard(self) -> None:
        """After a rollback: nothing written, nothing deleted."""
        for scratch, _ in self.writes:
            scratch.unlink(missing_ok=True)
        self.writes, self.deletes = [], []


def export_path(request_id: str, target_dir: Path) -> Path:
    return target_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', request_id)}.json"


def stage_exports(
    con, subjects: list[ExportSubject], target_dir: Path, files: FileChanges
) -> dict[str, Path]:
    """Each subject's export as one JSON file, staged in `files`; its path by
    request id."""
    staged = {}
    for request_id, document in build_exports(con, subjects).items():
        target = export_path(request_id, target_dir)
        files.write(
            target, json.dumps(document, indent=2, default=_json_default, ensure_ascii=False)
        )
        staged[request_id] = target
    return staged


def forget_exports_of_erased(con, files: FileChanges) -> None:
    """An access export made earlier for a person now erased is a copy of them:
    the log forgets it, and the file goes when the intake commits."""
    found = con.execute(
        f"""select request_id, export_file from {SCHEMA}.request_log
        where request_type = 'access' and export_file is not null
          and customer_ids in (select customer_id from {SCHEMA}.erased_customers)"""
    ).fetchall()
    for request_id, path in found:
        files.deletes.append(Path(path))
        con.execute(
            f"update {SCHEMA}.request_log set export_file = null, "
            "status_reason = 'export deleted when the subject was erased' where request_id = ?",
            [request_id],
        )
