"""Key rotation: re-tokenizing what the daily build does not rebuild (the
snapshot history), and counting what the old key left anywhere."""

from __future__ import annotations

import os
from dataclasses import dataclass

from c360 import engine, warehouse
from c360.privacy.tables import UNSWEPT_SCHEMAS
from c360.tokenization import token


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
        with engine.transaction(con):
            rekeyed = _rotate_snapshot_columns(con, mapping, new_key)
        return RotationResult(len(mapping), rekeyed, 0)
    finally:
        con.close()


def _rotate_snapshot_columns(con, mapping: list[tuple[str, str]], new_key: bytes) -> int:
    con.execute("create or replace temp table _token_map (old varchar, new varchar)")
    engine.insert_many(con, "insert into _token_map values (?, ?)", mapping)
    rekeyed = 0
    for schema, name, columns in engine.base_tables(con, UNSWEPT_SCHEMAS):
        # Snapshot history as dbt keeps it, and as it was last published.
        if schema not in ("snapshots", f"snapshots{warehouse.WAP_SUFFIX}"):
            continue
        for column in sorted(c for c in columns if c.endswith("_token")):
            _replace_tokens(con, schema, name, column, "_token_map")
            leftovers = [
                r[0]
                for r in con.execute(
                    f'select distinct t."{column}" from "{schema}"."{name}" as t '
                    f'where t."{column}" is not null and not exists '
                    f'(select 1 from _token_map as m where m.new = t."{column}")'
                ).fetchall()
            ]
            if not leftovers:
                continue
            con.execute("create or replace temp table _rekey (old varchar, new varchar)")
            con.executemany(
                "insert into _rekey values (?, ?)",
                [(v, token("retired_token", v, new_key)) for v in leftovers],
            )
            _replace_tokens(con, schema, name, column, "_rekey")
            rekeyed += len(leftovers)
    return rekeyed


def _replace_tokens(con, schema: str, name: str, column: str, mapping: str) -> None:
    """Each cell of the column that a mapping (old, new; one row per old)
    names is replaced by its new token. Not `update ... from`, which the
    Spark engine does not emulate: a correlated subquery both engines run
    (aggregated, as Spark requires of a scalar subquery)."""
    con.execute(
        f'update "{schema}"."{name}" as t set "{column}" = '
        f'(select max(m.new) from {mapping} as m where m.old = t."{column}") '
        f'where t."{column}" in (select old from {mapping})'
    )


def prepare_key_rotation(
    new_key: bytes, old_key: bytes, warehouse_file: str | os.PathLike | None = None
) -> tuple[RotationResult, set[str]]:
    """The part of a key rotation (docs/privacy.md, "Keys") that the daily build
    does not do: re-tokenize the snapshot history, and ask the next build to
    rebuild every incremental model from raw (they re-tokenize only the
    records that change). Returns the result so far and the tokens of the old
    key, to count afterwards. The rebuild under the new key is the
    pipeline's (c360.pipeline.rotate_tokenization_key)."""
    if new_key == old_key:
        raise ValueError("the new key is the key in use")
    old = vault_tokens(warehouse_file)
    result = rotate_snapshot_tokens(warehouse_file, old_key, new_key)
    con = warehouse.connect(warehouse_file)
    try:
        warehouse.request_full_refresh(con, "tokenization key rotated")
    finally:
        con.close()
    result.old_tokens_left = None
    return result, old


def old_tokens_left(warehouse_file: str | os.PathLike | None, old_tokens: set[str]) -> int:
    """How many cells of any table still hold one of `old_tokens`."""
    con = warehouse.connect(warehouse_file)
    try:
        con.execute("create or replace temp table _old (token varchar)")
        engine.insert_many(con, "insert into _old values (?)", [(t,) for t in old_tokens])
        total = 0
        for schema, name, columns in engine.base_tables(con, ()):
            for column, data_type in sorted(columns.items()):
                # DuckDB's name for text, and Spark's.
                if data_type.upper() in ("VARCHAR", "STRING"):
                    total += engine.scalar(
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
