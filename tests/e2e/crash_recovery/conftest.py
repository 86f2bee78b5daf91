"""Crash anywhere, rerun, same result (docs/faults.md): a tiny generated
landing zone with a change day that erases a customer, its day 0 built once,
and what an uninterrupted run of the change day publishes. The tests kill
runs of the change day at named points (tests/support/crash.py), one after
another, then rerun it plainly and compare. The folder is one scheduling
unit under `--dist loadfile` (tests/conftest.py), so one worker runs it; the
world is built once, under a lock in case workers ever share it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from filelock import FileLock

from c360 import pipeline
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from tests.support.crash import World, published
from tests.support.landing import deliver_erasure_request
from tests.support.warehouse_files import copy_warehouse

DAY0 = "dt=2025-01-01"
CHANGE_DAY = "2025-01-02"


def _erasure_request(landing: Path) -> None:
    con = duckdb.connect()
    try:
        (email,) = con.execute(
            "select min(email) from read_parquet(?) where email like '%@%'",
            [f"{landing}/ecommerce_customers/{DAY0}/*.parquet"],
        ).fetchall()[0]
    finally:
        con.close()
    deliver_erasure_request(landing, dt.date.fromisoformat(CHANGE_DAY), "PR-CRASH-1", email)


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The generated landing, day 0 and the uninterrupted change day, built
    once for every module (most of these tests' time): the first process
    builds under a lock, any other waits and reads."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    out = shared / "crash_recovery_world"
    with FileLock(str(shared / "crash_recovery_world.lock")):
        if not (out / "built").exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            _build(out)
            (out / "built").touch()
    return out


def _build(out: Path) -> None:
    generate(GeneratorConfig(customers=40, days=1, seed=11, chunk_size=40), out, progress=False)
    landing = out / "landing"
    _erasure_request(landing)
    first = out / "day0_landing"
    for table in landing.iterdir():
        if (table / DAY0).is_dir():
            shutil.copytree(table / DAY0, first / table.name / DAY0)
    day0 = out / "day0.duckdb"
    pipeline.run(first, day0, quiet=True)
    reference = copy_warehouse(day0, out / "reference.duckdb")
    result = pipeline.run(landing, reference, quiet=True)
    assert result.days[0].privacy.records_erased >= 1  # the purges have work to do


@pytest.fixture(scope="module")
def world(built_world: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    """The shared world, with a landing zone of the module's own: a run's
    purge may rewrite landing files, and other workers run at the same time.
    Day 0's warehouse is shared: every test copies it before running."""
    landing = shutil.copytree(
        built_world / "landing", tmp_path_factory.mktemp("crash_recovery") / "landing"
    )
    return World(landing, built_world / "day0.duckdb", published(built_world / "reference.duckdb"))
