"""One writer at a time: the lock a run holds on its warehouse.

Two runs on one warehouse would interleave their stages (each date builds on
the one before), and DuckDB's own file lock only makes the second fail at
whichever stage first opens the file, with an engine's error. So a run
takes this lock first: a file beside the warehouse, locked with `flock`,
holding who holds it (command, process, host, start). A second run fails at
once, naming the first. The kernel drops a `flock` when its process ends,
however it ends: a run killed with SIGKILL leaves the file with its holder
written in it but unlocked, and the next run takes it over, saying whose
stale lock it released. Nothing to clean up by hand, and no guessing from
process ids (which are reused) whether the holder still lives.

Within one process the lock is re-entrant (`c360 demo` runs, then rebuilds;
a key rotation rebuilds).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = "c360-writer.lock"


class WarehouseInUse(RuntimeError):
    """Another run holds the warehouse's writer lock."""


# Locks this process holds: path -> file descriptor.
_held: dict[Path, int] = {}


def lock_path(warehouse: str | os.PathLike) -> Path:
    """The lock file: inside a Spark warehouse's directory, beside a DuckDB file."""
    target = Path(warehouse).resolve()
    if target.is_dir():
        return target / f"_{LOCK_NAME}"
    return target.with_name(f"{target.name}.{LOCK_NAME}")


def _describe(holder: dict) -> str:
    if not holder:
        return "another process (it did not say which)"
    return (
        f"{holder.get('command', '?')} (process {holder.get('pid', '?')} on "
        f"{holder.get('host', '?')}, since {holder.get('started_at', '?')})"
    )


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 1 << 16).decode(errors="replace").strip()
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {"command": text[:200]}


def holder(warehouse: str | os.PathLike) -> dict | None:
    """Who holds the warehouse's lock now (None: nobody)."""
    path = lock_path(warehouse)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def hold(
    warehouse: str | os.PathLike, command: str, *, log: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block, or raise WarehouseInUse
    at once, naming the holder. `command` says who this is, for the message
    another run gets."""
    path = lock_path(warehouse)
    if path in _held:
        # Held by this process already: the outer hold releases it.
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        running = _read(fd)
        os.close(fd)
        raise WarehouseInUse(
            f"{Path(warehouse)} is being written by {_describe(running)}; "
            "one run at a time: wait for it to finish, then run again"
        ) from None
    stale = _read(fd)
    if stale:
        (log or _stderr)(
            f"released a stale writer lock on {Path(warehouse)}: {_describe(stale)} "
            "ended without releasing it (killed?); its work is redone from where it stopped"
        )
    me = {
        "command": command,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(me).encode())
    os.fsync(fd)
    _held[path] = fd
    try:
        yield
    finally:
        del _held[path]
        # Emptied before it is unlocked: an empty file is a clean release.
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
