"""Accounts (the users file, `c360 users`, `c360 serve` without one) and the
masks an analyst sees: no warehouse needed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from c360 import cli
from c360.app import auth, masking
from c360.app.server import local_redirect
from c360.settings import Settings


def test_passwords_are_salted_scrypt_hashes_checked_in_constant_time(tmp_path: Path) -> None:
    path = tmp_path / "c360_users"
    auth.add_user(path, "stu", "steward", "correct horse")
    auth.add_user(path, "ann", "analyst", "battery staple")
    line = path.read_text().splitlines()[0]
    assert line.startswith("stu:steward:scrypt$n=16384,r=8,p=1$") and "correct" not in line
    assert path.stat().st_mode & 0o077 == 0
    assert auth.authenticate(path, "stu", "correct horse").role == "steward"
    assert auth.authenticate(path, "stu", "battery staple") is None
    assert auth.authenticate(path, "nobody", "correct horse") is None
    # The same password twice: two salts, two hashes.
    assert auth.hash_password("same password") != auth.hash_password("same password")
    with pytest.raises(ValueError, match="at least 8"):
        auth.add_user(path, "eve", "analyst", "short")
    with pytest.raises(ValueError, match="role"):
        auth.add_user(path, "eve", "admin", "long enough")
    assert auth.remove_user(path, "ann") and not auth.remove_user(path, "ann")
    assert list(auth.read_users(path)) == ["stu"]


def test_the_users_file_defaults_to_beside_the_warehouse(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh" / "warehouse.duckdb")
    assert auth.users_file(settings) == (tmp_path / "wh" / "c360_users").resolve()
    assert Settings().app_host == "127.0.0.1" and Settings().app_port == 8360


def test_c360_users_adds_lists_and_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "accounts"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    args = ["users", "add", "stu", "--role", "steward", "--password-stdin", "--users", str(path)]
    assert cli.main(args) == 0
    assert auth.authenticate(path, "stu", "a long password")
    assert cli.main(["users", "list", "--users", str(path)]) == 0
    assert "stu\tsteward" in capsys.readouterr().out
    assert cli.main(["users", "remove", "stu", "--users", str(path)]) == 0
    assert cli.main(["users", "remove", "stu", "--users", str(path)]) == 2


def test_c360_serve_without_accounts_says_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    assert cli.main(["serve", "--warehouse", str(warehouse)]) == 2
    message = capsys.readouterr().err
    assert "no accounts" in message and "c360 users add" in message


def test_what_an_analyst_sees_of_each_kind_of_pii() -> None:
    assert masking.mask_email("jane.doe@example.com") == "j***@example.com"
    assert masking.mask_phone("+14155550134") == "***0134"
    assert masking.mask_name("jane doe") == "j*** d***"
    assert masking.mask_address("12 n main st") == "*** st"
    assert masking.mask_birth_date("1980-07-04") == "1980"
    assert masking.mask_identifier("L0004812345") == "***2345"
    assert masking.mask_email(None) is None


def test_a_login_sends_back_only_to_a_page_of_this_site() -> None:
    assert (
        local_redirect("/customers/cus_1?merged_from=cus_2") == "/customers/cus_1?merged_from=cus_2"
    )
    for elsewhere in ("//evil.example", "/\\evil.example", "https://evil.example", "/a\nb", None):
        assert local_redirect(elsewhere) == "/search"
