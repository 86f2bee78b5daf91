"""A run killed while scoring, building after scoring, building the marts,
before or after publishing them, or before finishing reruns to what an
uninterrupted run publishes."""

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
        "before_finishing",
    ],
)
def test_a_killed_run_reruns_to_the_same_result(world: World, point: str, tmp_path: Path) -> None:
    killed_then_rerun(world, point, tmp_path)
