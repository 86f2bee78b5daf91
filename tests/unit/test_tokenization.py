"""Keyed tokens: deterministic, separated by type, useless without the key."""

from __future__ import annotations

import hashlib

import pytest

from c360 import tokenization
from c360.tokenization import DEVELOPMENT_KEY, token, tokenization_key


@pytest.fixture(autouse=True)
def warn_again():
    tokenization._warned.clear()
    yield


def test_tokens_are_deterministic_and_typed() -> None:
    key = b"k1"
    assert token("email", "a@b.com", key) == token("email", "a@b.com", key)
    assert token("email", "a@b.com", key) != token("phone", "a@b.com", key)
    assert token("email", "a@b.com", key) != token("email", "a@b.co", key)
    assert token("email", None, key) is None
    assert len(token("email", "a@b.com", key)) == 64


def test_tokens_depend_on_the_key_and_are_not_a_plain_hash() -> None:
    value = "a@b.com"
    assert token("email", value, b"k1") != token("email", value, b"k2")
    plain = {hashlib.sha256(v.encode()).hexdigest() for v in (value, f"email\x1f{value}")}
    assert token("email", value, b"k1") not in plain


def test_key_from_environment_then_file_then_loud_default(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(tokenization.KEY_ENV, raising=False)
    monkeypatch.delenv(tokenization.KEY_FILE_ENV, raising=False)
    assert tokenization_key() == DEVELOPMENT_KEY.encode()
    assert "WARNING" in capsys.readouterr().err
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    monkeypatch.setenv(tokenization.KEY_FILE_ENV, str(secret))
    assert tokenization_key() == b"from-file"
    monkeypatch.setenv(tokenization.KEY_ENV, "from-env")
    assert tokenization_key() == b"from-env"
    assert capsys.readouterr().err == ""


def test_a_changed_key_takes_effect_in_a_running_process(monkeypatch) -> None:
    """Key rotation switches the key under a live process (c360 privacy rotate-key)."""
    monkeypatch.setenv(tokenization.KEY_ENV, "old")
    before = token("email", "a@b.com")
    monkeypatch.setenv(tokenization.KEY_ENV, "new")
    assert token("email", "a@b.com") != before
    assert token("email", "a@b.com") == token("email", "a@b.com", b"new")
