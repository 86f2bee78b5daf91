"""Keyed, deterministic tokens for PII: HMAC-SHA-256 over (PII type, value).

The same value of the same type always gives the same token, so tokens join
across sources like the values did; without the key nobody can recompute
them from a guessed value (a plain hash of an email can be reversed by
hashing a list of emails); and the type is part of the message, so an email
token never equals a phone token of the same text.

The key comes from $C360_TOKENIZATION_KEY, or from the file named by
$C360_TOKENIZATION_KEY_FILE (a mounted secret). Without either, a loudly
named development key is used and a warning is printed: fine for a demo,
never for real data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
from functools import lru_cache
from pathlib import Path

KEY_ENV = "C360_TOKENIZATION_KEY"
KEY_FILE_ENV = "C360_TOKENIZATION_KEY_FILE"
DEVELOPMENT_KEY = "INSECURE-DEVELOPMENT-TOKENIZATION-KEY-DO-NOT-USE-WITH-REAL-DATA"


@lru_cache(maxsize=1)
def tokenization_key() -> bytes:
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    if os.environ.get(KEY_FILE_ENV):
        key = Path(os.environ[KEY_FILE_ENV]).read_text().strip()
        if not key:
            raise ValueError(f"{KEY_FILE_ENV} names an empty file")
        return key.encode()
    print(
        f"WARNING: {KEY_ENV} is not set; tokenizing with the insecure development key "
        f"'{DEVELOPMENT_KEY}'. Set {KEY_ENV} or {KEY_FILE_ENV} for real data.",
        file=sys.stderr,
    )
    return DEVELOPMENT_KEY.encode()


def token(pii_type: str, value: str | None, key: bytes | None = None) -> str | None:
    """The token of a normalized value, or None for None."""
    if value is None:
        return None
    mac = hmac.new(key or tokenization_key(), f"{pii_type}\x1f{value}".encode(), hashlib.sha256)
    return mac.hexdigest()
