"""A copy of the dbt project that a test may change (a steward's overrides)
and point the pipeline at (C360_DBT_PROJECT_DIR, c360.settings)."""

from __future__ import annotations

import shutil
from pathlib import Path

from c360.settings import PROJECT_DIR


def copy_project(tmp: Path) -> Path:
    project = tmp / "project"
    for name in ("models", "macros", "seeds", "snapshots", "data_tests"):
        shutil.copytree(PROJECT_DIR / name, project / name)
    for name in ("dbt_project.yml", "profiles.yml", "selectors.yml"):
        shutil.copy(PROJECT_DIR / name, project / name)
    return project
