"""The one dbt project Dagster knows: this repository's, its manifest parsed once."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from c360.dbt import engine_target, project_files
from c360.settings import PROJECT_DIR, settings

# The dbt of this environment, whether or not its bin/ is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


@cache
def dbt_project() -> DbtProject:
    # Each pytest-xdist worker (and anyone who sets DBT_TARGET_PATH) keeps its
    # manifest apart from the others'.
    project = DbtProject(
        project_dir=PROJECT_DIR,
        profiles_dir=PROJECT_DIR,
        target_path=settings().dbt_target_path,
    )
    manifest = project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < max(
        p.stat().st_mtime for p in project_files(PROJECT_DIR)
    ):
        # A fresh checkout has no manifest, and one parsed before the project
        # last changed may lack what the definitions name (a selector): parse,
        # so the definitions load anywhere (what `dagster dev`'s prepare_if_dev
        # would do, with this environment's dbt), for the engine's target
        # (c360.dbt parses the same for its in-process runs on Spark; the
        # assets are the same for every target).
        dbt = DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
        target = engine_target()
        args = ["parse", "--quiet", *(["--target", target] if target else [])]
        dbt.cli(args, target_path=project.target_path).wait()
    return project


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)
