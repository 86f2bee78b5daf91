"""GDPR and CCPA: erasure, access export, opt-out and opt-in of sale, suppression
and key rotation (docs/privacy.md is the policy; this package carries it out).

One module a concern: `resolution` (which customer a request names),
`intake` (the daily intake and ad hoc requests), `request_log`,
`suppression` (and sale preferences), `export` (access), `purge` (records,
history and bytes) and `rotation` (re-tokenizing history). None of them runs
the pipeline: the rebuild an ad hoc request or a key rotation needs is the
caller's (c360.pipeline, c360.cli).

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

from c360.privacy.export import ExportSubject, build_exports, export_dir
from c360.privacy.intake import IntakeResult, intake, submit
from c360.privacy.purge import (
    FinishResult,
    bytes_purge_due_on,
    dbt_purge_args,
    finish,
    has_pending_purge,
    purge_bytes,
)
from c360.privacy.request_log import request_status
from c360.privacy.resolution import REQUEST_TYPES, Decision, decide
from c360.privacy.rotation import (
    RotationResult,
    old_tokens_left,
    prepare_key_rotation,
    rotate_snapshot_tokens,
    vault_tokens,
)
from c360.privacy.suppression import (
    SUPPRESSION_KEY_ENV,
    SUPPRESSION_KEY_FILE_ENV,
    suppression_hash,
    suppression_hash_sql,
    suppression_key,
)
from c360.privacy.tables import (
    BYTE_PURGE_WITHIN_DAYS,
    CLI_SOURCE,
    SCHEMA,
    STAGING_MODELS,
    ensure_tables,
)

__all__ = [
    "BYTE_PURGE_WITHIN_DAYS",
    "CLI_SOURCE",
    "REQUEST_TYPES",
    "SCHEMA",
    "STAGING_MODELS",
    "SUPPRESSION_KEY_ENV",
    "SUPPRESSION_KEY_FILE_ENV",
    "Decision",
    "ExportSubject",
    "FinishResult",
    "IntakeResult",
    "RotationResult",
    "build_exports",
    "bytes_purge_due_on",
    "dbt_purge_args",
    "decide",
    "ensure_tables",
    "export_dir",
    "finish",
    "has_pending_purge",
    "intake",
    "old_tokens_left",
    "prepare_key_rotation",
    "purge_bytes",
    "request_status",
    "rotate_snapshot_tokens",
    "submit",
    "suppression_hash",
    "suppression_hash_sql",
    "suppression_key",
    "vault_tokens",
]
