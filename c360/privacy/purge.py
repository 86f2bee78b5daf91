"""Purging erased and suppressed records: from raw and the day's inputs at
intake, from state and snapshot history once the day is published, and from
the bytes of landing files and of the warehouse file in a batched rewrite."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from c360 import engine, landing_files, warehouse
from c360.contract import ACTIVITY_REFERENCES, TABLES
from c360.privacy.tables import (
    ACTIVITY_QUASI_IDENTIFIERS,
    BYTE_PURGE_WITHIN_DAYS,
    CLI_SOURCE,
    INTAKE_PURGED_MODELS,
    PYTHON_STATE_SCHEMAS,
    SCHEMA,
    SCRATCH_MODELS,
    STAGING_MODELS,
    ensure_tables,
)


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


@dataclass
class InputsPurged:
    landing_files_to_purge: int = 0
    activity_rows_unlinked: int = 0


def purge_inputs(con, run_date: dt.date) -> InputsPurged:
    """Delete the records the intake erased or suppressed from raw and from the
    tables the rest of the day reads, unlink their activity, and queue their
    landing files for the byte purge."""
    purged = InputsPurged()
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
    if engine.relation_exists(con, "intermediate", "int_identity_records"):
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
    if not engine.scalar(con, "select count(*) from _purge_records") and not engine.scalar(
        con, "select count(*) from _unlink_keys"
    ):
        return purged
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
    engine.insert_many(
        con, f"insert or ignore into {SCHEMA}.landing_purge_files values (?, ?)", queued
    )
    con.execute(
        f"""insert or ignore into {SCHEMA}.landing_purge_records
        select distinct source_table, source_record_id from _unlink_keys"""
    )
    con.execute(
        f"""insert or ignore into {SCHEMA}.landing_purge_requests
        select distinct request_id from _erased_requests"""
    )
    purged.landing_files_to_purge = len(queued)
    unlinked_by_table = {name: affected_rows[name] for name in ACTIVITY_REFERENCES}
    for name in TABLES:
        for statement in _purge_statements(f"{raw}.{name}", name):
            con.execute(statement)
    purged.activity_rows_unlinked = sum(unlinked_by_table.values())
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
    # What dbt's tables hold of them is dbt's to delete, once this commits
    # (dbt_purge_args; macros/privacy/purge_pending_erasures.sql).
    con.execute(
        f"""insert or ignore into {SCHEMA}.pending_purge
        select source_table, source_record_id from _purge_records"""
    )
    con.execute(
        f"""insert or ignore into {SCHEMA}.pending_unlink
        select distinct source_table, source_record_id from _unlink_keys"""
    )
    due = dt.date.today() + dt.timedelta(days=BYTE_PURGE_WITHIN_DAYS)
    con.execute(
        f"update {SCHEMA}.sweep_state set bytes_purge_due_on = "
        "least(coalesce(bytes_purge_due_on, ?::date), ?::date)",
        [due, due],
    )
    return purged


def _rewrite_landing_file(con, path: Path, table_name: str) -> bool:
    """The landing copy without the purged rows, written beside it and swapped
    in. A file the platform no longer finds (moved, expired) is reported."""
    if not path.exists():
        print(f"privacy: landing file {path} not found; purge it where it now is")
        return False
    dialect = (
        landing_files.csv_dialect(path, TABLES[table_name].column_names)
        if landing_files.is_csv(path)
        else None
    )
    con.execute(
        "create or replace temp table _landing_file as select * from "
        f"{engine.reader_sql(path, dialect)}"
    )
    engine.read_rejects(con)
    for statement in _purge_statements("_landing_file", table_name):
        con.execute(statement)
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    file_format = "csv" if path.suffix.lower() == ".csv" else "parquet"
    engine.write_file(con, "_landing_file", scratch, file_format)
    os.replace(scratch, path)
    warehouse.landing_file_rewritten(con, table_name, path)
    return True


def dbt_purge_args(stage: str, purge_id: str) -> dict:
    """The arguments of dbt's purge_pending_erasures operation for a stage
    ('intake' or 'published'): the contract's knowledge of which staging
    image holds which table's records, and how activity points at them."""
    staging = []
    for name, model in STAGING_MODELS.items():
        table = TABLES[name]
        staging.append(
            {
                "model": model,
                "table": name,
                "kind": table.kind,
                "key": table.key,
                "references": [list(r) for r in ACTIVITY_REFERENCES.get(name, [])],
                "quasi_identifiers": ACTIVITY_QUASI_IDENTIFIERS.get(name, []),
            }
        )
    return {
        "stage": stage,
        "purge_id": purge_id,
        "models": INTAKE_PURGED_MODELS if stage == "intake" else [],
        "staging": staging if stage == "intake" else [],
    }


def _pending_records(con) -> int:
    """Record keys waiting to be purged or unlinked."""
    return engine.scalar(
        con,
        f"select (select count(*) from {SCHEMA}.pending_purge) "
        f"+ (select count(*) from {SCHEMA}.pending_unlink)",
    )


def has_pending_purge(warehouse_file: str | os.PathLike | None = None) -> bool:
    """Whether records wait to be purged from dbt's tables and the day's state."""
    con = warehouse.connect(warehouse_file)
    try:
        ensure_tables(con)
        return _pending_records(con) > 0
    finally:
        con.close()


def _delete_python_state(con) -> int:
    """Delete the pending records' rows from the state Python writes (the
    scoring's): by record_key, or by either end of a pair."""
    keys = f"select source_table || ':' || source_record_id from {SCHEMA}.pending_purge"
    deleted = 0
    for schema, name, columns in engine.base_tables(con):
        if schema not in PYTHON_STATE_SCHEMAS:
            continue
        conditions = []
        if "record_key" in columns:
            conditions.append(f"record_key in ({keys})")
        if {"record_key_a", "record_key_b"} <= columns.keys():
            conditions.append(f"record_key_a in ({keys}) or record_key_b in ({keys})")
        if conditions:
            deleted += engine.scalar(
                con,
                f'delete from "{schema}"."{name}" where '
                + " or ".join(f"({c})" for c in conditions),
            )
    return deleted


@dataclass
class FinishResult:
    rows_deleted: int = 0
    compacted: bool = False
    landing_files_rewritten: int = 0
    # When erased values must leave the file's bytes (None: nothing waits).
    bytes_purge_due_on: dt.date | None = None


def finish(
    warehouse_file: str | os.PathLike | None = None,
    *,
    today: dt.date | None = None,
    purge_id: str | None = None,
) -> FinishResult:
    """After the day is published and dbt purged its tables (the 'published'
    stage of dbt_purge_args, tagged `purge_id`): delete what the scoring's
    state still holds of the records purged at intake, and forget them; then,
    if the byte purge of erased values is due (BYTE_PURGE_WITHIN_DAYS after
    the first erasure not yet purged from the file's bytes), rewrite the
    file."""
    path = warehouse.warehouse_path(warehouse_file)
    today = today or dt.date.today()
    con = warehouse.connect(path)
    try:
        ensure_tables(con)
        result = FinishResult()
        if purge_id is not None:
            result.rows_deleted = engine.scalar(
                con,
                f"select coalesce(sum(rows_changed), 0) from {SCHEMA}.purge_log "
                "where purge_id = ? and stage = 'published'",
                [purge_id],
            )
        if _pending_records(con):
            with engine.transaction(con):
                result.rows_deleted += _delete_python_state(con)
                con.execute(f"delete from {SCHEMA}.pending_purge")
                con.execute(f"delete from {SCHEMA}.pending_unlink")
        for schema, name in SCRATCH_MODELS:
            if engine.relation_exists(con, schema, name):
                con.execute(f"delete from {schema}.{name}")
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
        return engine.scalar(con, f"select bytes_purge_due_on from {SCHEMA}.sweep_state")
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
    engine.compact(path)
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
