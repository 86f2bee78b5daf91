"""A run killed while scoring, building after scoring, building the marts,
or before or after publishing them reruns to what an uninterrupted run
publishes. Killed before finishing (after the last stage) is the boundary
chain's last point (test_killed_before_scoring.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash import World, killed_then_rerun


@pytest.mark.parametrize(
    "point",
    [
        "inside_scoring",
        "inside_dbt_after_scoring",
        "inside_publish",
        "before_publication",
        "after_publication",
    ],
)
def test_a_killed_run_reruns_to_the_same_result(world: World, point: str, tmp_path: Path) -> None:
    killed_then_rerun(world, point, tmp_path)
