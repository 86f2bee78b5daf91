"""The app's local accounts: an htpasswd-style file, one user a line,

    username:role:scrypt$n=16384,r=8,p=1$<salt>$<hash>

(salt and hash base64). Roles: an analyst sees masked PII; a steward (who is
also the privacy officer) sees it decoded, and decides review items. The file
is read at every check, so `c360 users add/remove` takes effect at once, in a
running server too. There is no default account and no default password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from c360.settings import Settings

ROLES = ("analyst", "steward")
USERS_FILE_NAME = "c360_users"
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# scrypt at n=2**14, r=8 costs 16 MiB and some 50 ms a check: slow enough to
# make guessing from a stolen file expensive, quick enough for a login.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str


def users_file(settings: Settings) -> Path:
    """--users / $C360_USERS_FILE, else beside the warehouse."""
    if settings.users_file:
        return Path(settings.users_file)
    return Path(settings.warehouse).resolve().parent / USERS_FILE_NAME


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=32
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, **_SCRYPT)
    params = ",".join(f"{k}={v}" for k, v in _SCRYPT.items())
    return "$".join(
        ["scrypt", params, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    )


def check_password(password: str, password_hash: str) -> bool:
    try:
        scheme, params, salt, digest = password_hash.split("$")
        cost = {k: int(v) for k, v in (term.split("=") for term in params.split(","))}
        if scheme != "scrypt" or set(cost) != set(_SCRYPT):
            return False
        computed = _scrypt(password, base64.b64decode(salt), **cost)
    except ValueError:
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


# Checked against when the user is unknown, so that a wrong name costs as
# long as a wrong password and timing does not tell which names exist.
_DECOY = hash_password(secrets.token_urlsafe(16))


def read_users(path: Path) -> dict[str, User]:
    users: dict[str, User] = {}
    if not path.is_file():
        return users
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, role, password_hash = (line.split(":", 2) + ["", ""])[:3]
        if not _USERNAME.match(name) or role not in ROLES or not password_hash:
            raise ValueError(f"{path}:{number}: not a 'username:role:hash' line")
        users[name] = User(name, role, password_hash)
    return users


def _write_users(path: Path, users: dict[str, User]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{u.name}:{u.role}:{u.password_hash}\n" for u in users.values())
    # Written beside and renamed over, owner-only: a hash is still a secret.
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def add_user(path: Path, name: str, role: str, password: str) -> None:
    """Add the user, or replace their role and password."""
    if not _USERNAME.match(name):
        raise ValueError(f"a user name is letters, digits and _.@- (1-64), not {name!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    users = read_users(path)
    users[name] = User(name, role, hash_password(password))
    _write_users(path, users)


def remove_user(path: Path, name: str) -> bool:
    users = read_users(path)
    if users.pop(name, None) is None:
        return False
    _write_users(path, users)
    return True


def authenticate(path: Path, name: str, password: str) -> User | None:
    user = read_users(path).get(name)
    if user is None:
        check_password(password, _DECOY)
        return None
    return user if check_password(password, user.password_hash) else None
