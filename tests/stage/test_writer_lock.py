"""One writer at a time (c360/writer_lock.py): a second run fails at once
naming the first; a lock left by a killed run is taken over, saying so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from c360 import pipeline, writer_lock
from tests.support.cli import c360

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_LANDING = ROOT / "tests" / "fixtures" / "landing_min"

_HOLDER = """
import sys, time
from c360 import writer_lock
with writer_lock.hold(sys.argv[1], "c360 run --landing /somewhere"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture()
def held(tmp_path: Path):
    """Another process holding the lock of `tmp_path/warehouse.duckdb`."""
    path = tmp_path / "warehouse.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout.readline().strip() == "held"
    yield path, child
    if child.poll() is None:
        child.kill()
    child.wait()


def test_a_second_run_fails_at_once_naming_the_first(held) -> None:
    path, child = held
    started = time.monotonic()
    with pytest.raises(writer_lock.WarehouseInUse) as refused:
        pipeline.run(FIXTURE_LANDING, path, quiet=True)
    assert time.monotonic() - started < 5
    message = str(refused.value)
    assert "c360 run --landing /somewhere" in message and f"process {child.pid}" in message
    # Nothing was written: the run stopped before it opened the warehouse.
    assert not path.exists()
    assert writer_lock.holder(path)["pid"] == child.pid


def test_the_command_line_says_the_warehouse_is_in_use(held) -> None:
    path, child = held
    done = c360("run", "--landing", str(FIXTURE_LANDING), "--warehouse", str(path))
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert f"the warehouse is in use: {path} is being written by c360 run" in done.stderr


def test_a_lock_left_by_a_killed_run_is_taken_over(held) -> None:
    path, child = held
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # The file still names the killed run; the kernel dropped its lock.
    assert writer_lock.lock_path(path).read_text()
    assert writer_lock.holder(path) is None
    said: list[str] = []
    with writer_lock.hold(path, "c360 run", log=said.append):
        assert writer_lock.holder(path)["pid"] == os.getpid()
        # Re-entrant within the process (a run that rebuilds).
        with writer_lock.hold(path, "c360 rebuild"):
            pass
        assert writer_lock.holder(path)["pid"] == os.getpid()
    assert len(said) == 1 and "stale writer lock" in said[0] and str(child.pid) in said[0]
    # Released cleanly: the next holder finds nothing stale.
    said.clear()
    with writer_lock.hold(path, "c360 run", log=said.append):
        pass
    assert said == []
    assert writer_lock.holder(path) is None
