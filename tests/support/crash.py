"""A `c360 run` that kills itself with SIGKILL at a named point: at a stage
boundary, or inside a stage (between two committed partitions, after some
of a dbt phase's nodes, inside an open transaction). Run in a child
process (`python -m tests.support.crash POINT LANDING WAREHOUSE`); the test
then runs the pipeline again, plainly, and compares what it published with
an uninterrupted run (tests/e2e/crash_recovery).

The kill is injected by wrapping the pipeline's own functions in this
process only: nothing in the product knows about it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from c360 import dbt, pipeline, warehouse
from c360 import engine as engine_facade
from splink_models import runtime
from tests.support.warehouse_files import copy_warehouse, query

ROOT = Path(__file__).resolve().parents[2]


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _before(module, name: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Die on entering `module.name` (when `when` holds for its arguments)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        if when(*args, **kwargs):
            _die()
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def _after_calls(module, name: str, calls: int) -> None:
    """Die once `module.name` has returned `calls` times."""
    original = getattr(module, name)
    seen = 0

    def wrapper(*args, **kwargs):
        nonlocal seen
        result = original(*args, **kwargs)
        seen += 1
        if seen == calls:
            _die()
        return result

    setattr(module, name, wrapper)


def _inside_dbt_phase(selector: str, nodes: int) -> None:
    """Die after `nodes` of the phase's models, snapshots or tests have finished."""
    original = dbt.run

    def run(invocation, *, selection=None, callbacks=()):
        if invocation.selector != selector:
            return original(invocation, selection=selection, callbacks=callbacks)
        finished = 0

        def count(event) -> None:
            nonlocal finished
            if event.info.name == "NodeFinished":
                finished += 1
                if finished == nodes:
                    _die()

        return original(invocation, selection=selection, callbacks=[*callbacks, count])

    dbt.run = run


def _inside_scoring_transaction() -> None:
    """Die inside the scoring's write transaction, its writes not committed."""
    original_score = runtime.score
    original_transaction = engine_facade.transaction
    scoring = False

    @contextlib.contextmanager
    def transaction(con):
        with original_transaction(con) as inner:
            yield inner
            if scoring:
                _die()

    def score(*args, **kwargs):
        nonlocal scoring
        scoring = True
        return original_score(*args, **kwargs)

    runtime.score = score
    engine_facade.transaction = transaction


def _after_stage(stage: str) -> None:
    """Die once the run date's `stage` is recorded finished: a stage boundary."""
    original = pipeline.record_stage

    def record_stage(run_date, name, *args, **kwargs):
        original(run_date, name, *args, **kwargs)
        if name == stage:
            _die()

    pipeline.record_stage = record_stage


KILL_POINTS: dict[str, Callable[[], None]] = {
    # Loading: between two partitions, each committed with its log row.
    "inside_load": lambda: _after_calls(warehouse, "load_partition", 2),
    "after_load": lambda: _before(pipeline, "build_before_scoring"),
    "inside_dbt_before_scoring": lambda: _inside_dbt_phase("before_scoring", 12),
    # The intake committed; dbt's purge of what it erased did not run.
    "inside_privacy_intake": lambda: _before(
        pipeline, "purge_dbt_tables", lambda stage, *a, **k: stage == "intake"
    ),
    "inside_scoring": _inside_scoring_transaction,
    "inside_dbt_after_scoring": lambda: _inside_dbt_phase("after_scoring", 10),
    "inside_publish": lambda: _inside_dbt_phase("publish", 8),
    # dbt purged the day's erased from the marts and snapshots it built; not published yet.
    "before_publication": lambda: _before(pipeline, "publish"),
    # Published; the scoring's state purge and the run log wait.
    "after_publication": lambda: _before(pipeline.privacy, "finish"),
    # The boundaries after each stage the run date records finished.
    **{
        f"after_{stage}": (lambda stage=stage: _after_stage(stage)) for stage in pipeline.DAY_STAGES
    },
}


@dataclass(frozen=True)
class World:
    landing: Path
    day0: Path  # the warehouse after day 0
    published: dict[str, list[tuple]]  # what the uninterrupted change day publishes


def published(path: Path) -> dict[str, list[tuple]]:
    """Every mart and snapshot, and the finished run dates: what a rerun must
    reproduce (marts include the id history, the events and the run metrics)."""
    relations = query(
        path,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('marts', 'snapshots') order by 1",
    )
    state = {name: query(path, f"select * from {name} order by all") for (name,) in relations}
    state["raw._pipeline_run_log"] = query(path, "select run_date from raw._pipeline_run_log")
    return state


def killed_in_turn_then_rerun(world: World, points: list[str], tmp_path: Path) -> None:
    """Kill a run of the change day at the first of `points`, its rerun at
    the next, and so on; then run it plainly, and compare. Each rerun starts
    from what the kill before left: every point is killed and recovered
    from, for one run's cost rather than one a point."""
    path = copy_warehouse(world.day0, tmp_path / "warehouse.duckdb")
    for point in points:
        killed(world, point, path)
    pipeline.run(world.landing, path, quiet=True)
    assert published(path) == world.published, f"killed in turn at {', '.join(points)}"


def killed(world: World, point: str, path: Path) -> None:
    """Run the change day on `path` in a child process killed at `point`."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.crash", point, str(world.landing), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


def main(point: str, landing: str, warehouse_file: str) -> None:
    KILL_POINTS[point]()
    pipeline.run(landing, warehouse_file, quiet=True)
    # Reaching here means the kill point was never passed.
    sys.exit(f"the run finished without passing the kill point {point}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
