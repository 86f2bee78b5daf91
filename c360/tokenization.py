"""Keyed, deterministic tokens for PII: HMAC-SHA-256 over (PII type, value).

The same value of the same type always gives the same token, so tokens join
across sources like the values did; without the key nobody can recompute
them from a guessed value (a plain hash of an email can be reversed by
hashing a list of emails); and the type is part of the message, so an email
token never equals a phone token of the same text.

Keys come from the environment or from a file the environment names (a
mounted secret), never from the repo:

    C360_TOKENIZATION_KEY / C360_TOKENIZATION_KEY_FILE   tokens (vault, matching, marts)
    C360_SUPPRESSION_KEY  / C360_SUPPRESSION_KEY_FILE    erased identifiers (c360/privacy/)

Without them, loudly named development keys are used and a warning is
printed: fine for a demo, never for real data.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

KEY_ENV = "C360_TOKENIZATION_KEY"
KEY_FILE_ENV = "C360_TOKENIZATION_KEY_FILE"
# A key rotation's new key (`c360 privacy rotate-key`), if not given as a file.
NEW_KEY_ENV = "C360_TOKENIZATION_KEY_NEW"
DEVELOPMENT_KEY = "INSECURE-DEVELOPMENT-TOKENIZATION-KEY-DO-NOT-USE-WITH-REAL-DATA"

_warned: set[str] = set()


def secret_key(env: str, file_env: str, development_default: str) -> bytes:
    """A key from $env, else from the file $file_env names, else the development
    default (with a warning, once per process). Read on every call, so a key
    rotation in a long-lived process takes effect at once."""
    if os.environ.get(env):
        return os.environ[env].encode()
    if os.environ.get(file_env):
        key = Path(os.environ[file_env]).read_text().strip()
        if not key:
            raise ValueError(f"{file_env} names an empty file")
        return key.encode()
    if env not in _warned:
        _warned.add(env)
        print(
            f"WARNING: {env} is not set; using the insecure development key "
            f"'{development_default}'. Set {env} or {file_env} for real data.",
            file=sys.stderr,
        )
    return development_default.encode()


# The key a key rotation builds under, for as long as it builds: dbt's
# connections (c360.engine.duckdb_dbt_plugin) ask for the key on threads of
# their own, so it is process state, set and restored by `key_in_use` alone.
_key_in_use: bytes | None = None
_key_lock = threading.Lock()


def new_tokenization_key() -> bytes | None:
    """The new key of a key rotation, from $C360_TOKENIZATION_KEY_NEW."""
    value = os.environ.get(NEW_KEY_ENV)
    return value.encode() if value else None


def tokenization_key() -> bytes:
    """The key tokens are computed with: the one `key_in_use` holds, else the
    environment's."""
    held = _key_in_use
    if held is not None:
        return held
    return secret_key(KEY_ENV, KEY_FILE_ENV, DEVELOPMENT_KEY)


@contextlib.contextmanager
def key_in_use(key: bytes) -> Iterator[None]:
    """Tokenize with `key` inside the block; the previous key again after it,
    whether the block finished or failed, so a failed rotation never leaves
    the new key half in use. The environment is never changed."""
    global _key_in_use
    with _key_lock:
        previous, _key_in_use = _key_in_use, key
    try:
        yield
    finally:
        with _key_lock:
            _key_in_use = previous


# HMAC-SHA-256 (RFC 2104) is two plain SHA-256 passes over the key XOR-ed
# with two pads: sha256(opad || sha256(ipad || message)). An engine with a
# sha256 over bytes computes it set-based, far faster than a Python UDF per
# value (macros/tokenize/hmac_sha256.sql); only the pads are handed to the
# engine, as session variables bound as parameters, so the key appears in no
# SQL text, compiled file or log.
_BLOCK = 64


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(inner pad, outer pad) of `key`, as RFC 2104 defines them."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


# The name the tokenization key's pads are bound under (macros/tokenize/).
TOKEN_PADS = "c360_token"


def hmac_sha256_sql(pads: str, message_sql: str) -> str:
    """SQL for the HMAC-SHA-256 (lowercase hex) of a text expression, under the
    key whose pads `bind_hmac_pads` bound as `<pads>_ipad` / `<pads>_opad`.
    The dbt macro hmac_sha256 (macros/tokenize/) is the same expression."""
    return (
        f"sha256(getvariable('{pads}_opad') || "
        f"unhex(sha256(getvariable('{pads}_ipad') || encode({message_sql}))))"
    )


def token(pii_type: str, value: str | None, key: bytes | None = None) -> str | None:
    """The token of a normalized value, or None for None."""
    if value is None:
        return None
    mac = hmac.new(key or tokenization_key(), f"{pii_type}\x1f{value}".encode(), hashlib.sha256)
    return mac.hexdigest()
