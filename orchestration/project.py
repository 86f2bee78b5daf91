"""The one dbt project Dagster knows: this repository's, its manifest parsed once."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from c360.dbt import PROJECT_DIR


@cache
def dbt_project() -> DbtProject:
    # Each pytest-xdist worker (and anyone who sets DBT_TARGET_PATH) keeps its
    # manifest apart from the others'.
    project = DbtProject(
        project_dir=PROJECT_DIR,
        profiles_dir=PROJECT_DIR,
        target_path=Path(os.environ.get("DBT_TARGET_PATH", "target")),
    )
    if not project.manifest_path.exists():
        # A fresh checkout has no manifest: parse once (what `dagster dev`'s
        # prepare_if_dev does), so the definitions load anywhere.
        project.preparer.prepare(project)
    return project
