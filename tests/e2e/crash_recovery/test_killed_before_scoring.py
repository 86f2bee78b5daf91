"""Runs killed while loading, building before scoring, or taking in privacy
requests, and at each stage boundary, rerun to what an uninterrupted run
publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from c360 import pipeline
from tests.support.crash import World, killed, killed_in_turn_then_rerun, published
from tests.support.warehouse_files import copy_warehouse, query

CHANGE_DAY = dt.date(2025, 1, 2)


def test_runs_killed_in_turn_inside_each_stage_before_scoring_rerun_to_the_same_result(
    world: World, tmp_path: Path
) -> None:
    killed_in_turn_then_rerun(
        world,
        ["inside_load", "after_load", "inside_dbt_before_scoring", "inside_privacy_intake"],
        tmp_path,
    )


def test_a_run_killed_at_each_stage_boundary_resumes_there(world: World, tmp_path: Path) -> None:
    """Killed right after each stage records it finished, one after another:
    each rerun resumes after the stages already finished (and is killed at
    the next boundary), and the last, plain one publishes what an
    uninterrupted run does."""
    path = copy_warehouse(world.day0, tmp_path / "warehouse.duckdb")
    for stage in pipeline.DAY_STAGES:
        killed(world, f"after_{stage}", path)
        finished = query(
            path, "select stage from raw._pipeline_stage_log where run_date = ?", [CHANGE_DAY]
        )
        assert [name for (name,) in finished] == list(
            pipeline.DAY_STAGES[: pipeline.DAY_STAGES.index(stage) + 1]
        )
    pipeline.run(world.landing, path, quiet=True)
    assert published(path) == world.published
