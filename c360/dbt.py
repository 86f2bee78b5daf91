"""Running the dbt project in-process, against a chosen warehouse file."""

from __future__ import annotations

import os
from pathlib import Path

from c360.warehouse import WAREHOUSE_ENV, warehouse_path

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Another checkout of the dbt project (a steward's branch with new overrides,
# a test's copy) can be run instead of this one.
PROJECT_DIR_ENV = "C360_DBT_PROJECT_DIR"


def project_dir() -> Path:
    return Path(os.environ.get(PROJECT_DIR_ENV) or PROJECT_DIR)


class DbtError(RuntimeError):
    pass


def run_dbt(args: list[str], warehouse: str | os.PathLike | None = None) -> object:
    """Invoke dbt with `args` on the warehouse; raise DbtError if it fails.

    The warehouse path travels in the environment because profiles.yml reads
    it from there, which is also how an analytics engineer points a hand-run
    `dbt build` at another file.
    """
    from dbt.cli.main import dbtRunner

    os.environ[WAREHOUSE_ENV] = str(warehouse_path(warehouse).resolve())
    project = str(project_dir())
    full_args = [*args, "--project-dir", project, "--profiles-dir", project]
    result = dbtRunner().invoke(full_args)
    if not result.success:
        raise DbtError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log above'}")
    return result.result
