"""Runs killed while scoring, building after scoring, building the marts,
and before and after publishing them, rerun to what an uninterrupted run
publishes. Killed before finishing (after the last stage) is the boundary
chain's last point (test_killed_before_scoring.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.crash import World, killed_in_turn_then_rerun


def test_runs_killed_in_turn_inside_each_stage_from_scoring_rerun_to_the_same_result(
    world: World, tmp_path: Path
) -> None:
    killed_in_turn_then_rerun(
        world,
        [
            "inside_scoring",
            "inside_dbt_after_scoring",
            "inside_publish",
            "before_publication",
            "after_publication",
        ],
        tmp_path,
    )
