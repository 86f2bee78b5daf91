"""Write-audit-publish (docs/faults.md): a day's marts and snapshots become
visible together or not at all. A mart test that fails leaves what readers
see as it was, though dbt had rebuilt some of the day's marts; a reader
polling during a run sees the last day published or this one, whole."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from c360 import dbt, pipeline
from c360.settings import settings
from tests.support.crash import ROOT, World, published
from tests.support.dbt_project import copy_project
from tests.support.warehouse_files import copy_warehouse, query

CHANGE_DAY = dt.date(2025, 1, 2)
PLANTED_TEST = "fails_on_the_change_day"

# What a BI client does: open the file read-only when it can, read every
# published relation, let go. One line of JSON a read: relation -> digest.
_READER = """
import hashlib, json, os, sys, time
import duckdb
path, out, stop = sys.argv[1:4]
with open(out, "w") as seen:
    while not os.path.exists(stop):
        try:
            con = duckdb.connect(path, read_only=True)
        except duckdb.Error:
            time.sleep(0.02)
            continue
        try:
            names = con.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema in ('marts', 'snapshots') order by 1"
            ).fetchall()
            state = {
                name: hashlib.sha256(
                    repr(con.execute(f"select * from {name} order by all").fetchall()).encode()
                ).hexdigest()
                for (name,) in names
            }
        finally:
            con.close()
        seen.write(json.dumps(state) + "\\n")
        seen.flush()
        time.sleep(0.1)
"""


def _digests(path: Path) -> dict[str, str]:
    state = published(path)
    state.pop("raw._pipeline_run_log")
    return {name: hashlib.sha256(repr(rows).encode()).hexdigest() for name, rows in state.items()}


def test_a_failing_mart_test_publishes_nothing_of_the_day(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(tmp_path)
    planted = project / "data_tests" / f"{PLANTED_TEST}.sql"
    planted.write_text(
        "-- Planted by the test: fails once the change day's run metrics are built.\n"
        f"select run_date from {{{{ ref('identity_run_metrics') }}}} "
        f"where run_date = date '{CHANGE_DAY}'\n"
    )
    monkeypatch.setenv("C360_DBT_PROJECT_DIR", str(project))
    settings.cache_clear()
    path = copy_warehouse(world.day0, tmp_path / "warehouse.duckdb")
    yesterday = published(path)

    with pytest.raises(dbt.DbtNodesFailed, match=PLANTED_TEST):
        pipeline.run(world.landing, path, quiet=True)
    assert published(path) == yesterday
    # dbt had rebuilt some of the day's marts: without the audit, readers
    # would have seen today's run metrics beside yesterday's customers.
    built = query(
        path,
        "select count(*) from marts__wap.identity_run_metrics where run_date = ?",
        [CHANGE_DAY],
    )
    assert built == [(1,)]
    assert query(
        path, "select count(*) from marts.identity_run_metrics where run_date = ?", [CHANGE_DAY]
    ) == [(0,)]

    planted.unlink()
    pipeline.run(world.landing, path, quiet=True)
    assert published(path) == world.published


def test_a_reader_during_the_run_sees_one_whole_day(world: World, tmp_path: Path) -> None:
    path = copy_warehouse(world.day0, tmp_path / "warehouse.duckdb")
    yesterday = _digests(path)
    seen_file, stop = tmp_path / "seen.jsonl", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(path), str(seen_file), str(stop)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        pipeline.run(world.landing, path, quiet=True)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    today = _digests(path)
    assert today != yesterday
    seen = [json.loads(line) for line in seen_file.read_text().splitlines()]
    # Between the stages of the run, the reader got in (DuckDB lets a file
    # have readers or one writer; the run waits for them).
    assert len(seen) >= 3
    assert all(state in (yesterday, today) for state in seen)
    assert yesterday in seen
