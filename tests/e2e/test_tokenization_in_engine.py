"""Tokens and suppression hashes are computed in the engine (SQL), equal the
reference HMAC, and the key never reaches SQL text, compiled files or logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c360 import tokenization
from c360.dbt import run_dbt
from c360.engine.duckdb import bind_hmac_pads
from c360.privacy import suppression_hash, suppression_hash_sql
from c360.tokenization import hmac_pads, token
from c360.warehouse import connect

# Test vectors: ASCII, accents and other scripts, an empty string, quotes,
# the separator itself, and a long value.
VALUES = [
    "jane.doe@example.com",
    "+14155550123",
    "josé müller",
    "渡辺 さくら",
    "",
    "o'brien",
    "a\x1fb",
    "x" * 500,
]
# A short key, one of exactly one SHA-256 block, and one longer than a block
# (which RFC 2104 hashes first).
KEYS = ["k", "B" * 64, "a-deployment-key-longer-than-one-sha256-block-" * 3]


def _values_sql() -> str:
    rows = ", ".join("(" + "'" + v.replace("'", "''") + "')" for v in VALUES)
    return f"select * from (values {rows}, (null)) as t(v)"


@pytest.mark.parametrize("key", KEYS)
def test_sql_suppression_hash_equals_the_reference(tmp_path: Path, key: str) -> None:
    con = connect(tmp_path / "w.duckdb")
    try:
        bind_hmac_pads(con, "c360_suppression", key.encode())
        rows = con.execute(
            f"select v, {suppression_hash_sql(repr('email'), 'v')} from ({_values_sql()})"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(VALUES) + 1
    for value, digest in rows:
        assert digest == suppression_hash("email", value, key.encode())


def test_dbt_tokens_equal_the_reference_and_the_key_stays_out_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "c360-test-key-" + "7" * 70  # longer than a block: hashed, then padded
    monkeypatch.setenv(tokenization.KEY_ENV, key)
    target, logs = tmp_path / "target", tmp_path / "logs"
    sql = (
        "select v, {{ pii_token('email', 'v') }} as email_token, "
        "{{ pii_token('phone', 'v') }} as phone_token from (" + _values_sql() + ")"
    )
    result = run_dbt(
        [
            "show",
            "--inline",
            sql,
            "--limit",
            "-1",
            "--output",
            "json",
            "--target-path",
            str(target),
            "--log-path",
            str(logs),
        ],
        warehouse=tmp_path / "w.duckdb",
    )
    table = result.results[0].agate_table
    rows = [dict(zip(table.column_names, row, strict=True)) for row in table.rows]
    assert len(rows) == len(VALUES) + 1
    for row in rows:
        assert row["email_token"] == token("email", row["v"], key.encode())
        assert row["phone_token"] == token("phone", row["v"], key.encode())
    assert rows[0]["email_token"] != rows[0]["phone_token"]
    # Neither the key nor its pads, in any encoding a file might hold.
    secrets = [key, key.encode().hex(), *(pad.hex() for pad in hmac_pads(key.encode()))]
    files = [p for p in (*target.rglob("*"), *logs.rglob("*")) if p.is_file()]
    assert any("hmac" in p.read_text(errors="ignore") or p.suffix == ".log" for p in files)
    for path in files:
        text = path.read_text(errors="ignore")
        for secret in secrets:
            assert secret not in text, f"{path} holds the tokenization key"
    assert json.dumps(rows[0])  # the output is plain data
