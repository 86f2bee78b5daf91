"""A run killed while loading, building before scoring, or taking in privacy
requests reruns to what an uninterrupted run publishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash import World, killed_then_rerun


@pytest.mark.parametrize(
    "point", ["inside_load", "after_load", "inside_dbt_before_scoring", "inside_privacy_intake"]
)
def test_a_killed_run_reruns_to_the_same_result(world: World, point: str, tmp_path: Path) -> None:
    killed_then_rerun(world, point, tmp_path)
