"""Seeds reload only when their files change; a changed seed that incremental
models read makes the next build a full refresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360 import pipeline

PROJECT_DIR_ENV = "C360_DBT_PROJECT_DIR"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    seeds = tmp_path / "project" / "seeds"
    seeds.mkdir(parents=True)
    for name in ("survivorship_rules", "steward_overrides"):
        (seeds / f"{name}.csv").write_text("a,b\n1,2\n")
    monkeypatch.setenv(PROJECT_DIR_ENV, str(seeds.parent))
    return seeds


def test_unchanged_seeds_are_not_reloaded(project: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = pipeline.seeds_to_reload(warehouse)
    assert first == {"survivorship_rules", "steward_overrides"}
    pipeline.seeds_reloaded(first, warehouse)
    assert pipeline.seeds_to_reload(warehouse) == set()
    # The first load of a warehouse builds everything anyway: no refresh asked.
    assert not pipeline.full_refresh_requested(warehouse)


def test_a_steward_override_reloads_without_a_full_refresh(project: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    pipeline.seeds_reloaded(pipeline.seeds_to_reload(warehouse), warehouse)
    (project / "steward_overrides.csv").write_text("a,b\n1,3\n")
    changed = pipeline.seeds_to_reload(warehouse)
    assert changed == {"steward_overrides"}
    pipeline.seeds_reloaded(changed, warehouse)
    assert not pipeline.full_refresh_requested(warehouse)


def test_changed_survivorship_rules_ask_for_a_full_refresh(project: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    pipeline.seeds_reloaded(pipeline.seeds_to_reload(warehouse), warehouse)
    (project / "survivorship_rules.csv").write_text("a,b\n9,9\n")
    pipeline.seeds_reloaded(pipeline.seeds_to_reload(warehouse), warehouse)
    assert pipeline.full_refresh_requested(warehouse)
