"""The daily intake: the requests not processed yet, resolved and acted on in
one transaction (after the day's first dbt phase, before scoring), and ad
hoc requests from the command line, which enter like a delivery."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass, field

from c360 import engine, warehouse
from c360.privacy.export import (
    ExportSubject,
    FileChanges,
    export_dir,
    forget_exports_of_erased,
    stage_exports,
)
from c360.privacy.purge import purge_inputs
from c360.privacy.request_log import count_linked_activity, log_decision
from c360.privacy.resolution import resolve, subject_records
from c360.privacy.suppression import (
    SUPPRESSION_PADS,
    add_suppression_entries,
    extend_to_third_party_records,
    propagate_opt_outs,
    set_sale_preference,
    suppression_key,
    sweep_deliveries,
)
from c360.privacy.tables import CLI_SOURCE, SCHEMA, ensure_tables


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


def intake(
    run_date: dt.date,
    warehouse_file: str | os.PathLike | None = None,
) -> IntakeResult:
    """Process the requests not processed yet and the suppression sweep of the
    deliveries loaded since the last one (see the package docstring), in one
    transaction. Export files are written and deleted only once it commits."""
    files = FileChanges()
    con = warehouse.connect(warehouse_file)
    try:
        ensure_tables(con)
        engine.bind_hmac_pads(con, SUPPRESSION_PADS, suppression_key())
        result = IntakeResult()
        with engine.transaction(con):
            decisions, pending, result.deferred = resolve(con)
            _act(con, decisions, pending, run_date, export_dir(warehouse_file), files, result)
            result.records_suppressed = sweep_deliveries(con)
            propagate_opt_outs(con, run_date)
            purged = purge_inputs(con, run_date)
            result.landing_files_to_purge = purged.landing_files_to_purge
            result.activity_rows_unlinked = purged.activity_rows_unlinked
    except BaseException:
        files.discard()
        raise
    finally:
        con.close()
    files.publish()
    return result


def _act(con, decisions, pending, run_date, target_dir, files, result: IntakeResult) -> None:
    con.execute(
        "create or replace temp table _erase_records (source_table varchar, "
        "source_record_id varchar, request_id varchar)"
    )
    con.execute("create or replace temp table _erased_requests (request_id varchar)")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    records_of = subject_records(con, decisions)
    exports = stage_exports(
        con,
        [
            ExportSubject(d, records_of.get(d.request_id, []), pending[d.request_id])
            for d in decisions
            if d.status == "completed" and d.request_type == "access"
        ],
        target_dir,
        files,
    )
    result.exports += [str(path) for path in exports.values()]
    for decision in decisions:
        records = records_of.get(decision.request_id, [])
        if decision.status == "completed":
            if decision.request_type in ("opt_out_sale", "opt_in_sale"):
                set_sale_preference(con, decision, records, run_date)
            elif decision.request_type == "erasure":
                engine.insert_many(
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
        export_file = exports.get(decision.request_id)
        log_decision(
            con,
            decision,
            pending[decision.request_id],
            run_date=run_date,
            processed_at=now,
            records=len(records),
            export_file=str(export_file) if export_file else None,
        )
        result.requests[decision.status] = result.requests.get(decision.status, 0) + 1
    if engine.scalar(con, "select count(*) from _erase_records"):
        count_linked_activity(con)
        # The subject's earlier requests (an access, an opt-out) name them too.
        con.execute(
            f"""insert into _erased_requests
            select logged.request_id from {SCHEMA}.request_log as logged
            where logged.customer_ids in (select customer_id from {SCHEMA}.erased_customers)
              and not exists (
                  select 1 from _erased_requests as erased
                  where erased.request_id = logged.request_id)"""
        )
        extend_to_third_party_records(con)
        add_suppression_entries(con, run_date)
        forget_exports_of_erased(con, files)
        result.records_erased = engine.scalar(
            con,
            "select count(*) from (select distinct source_table, source_record_id "
            "from _erase_records)",
        )


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
