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


# Parsing the project (or reading back its partial parse) costs a second or
# two, and a day invokes dbt three or four times: one parse serves every
# invocation of a process on the same warehouse until a file of the project
# changes. The warehouse is part of what is parsed (DuckDB's catalog is named
# after the file), and arguments that change what parsing renders (--vars)
# parse afresh.
_PARSED: dict[tuple, object] = {}
_PARSED_FOLDERS = ("models", "macros", "snapshots", "seeds", "data_tests")


def _fingerprint(project: Path) -> tuple:
    files = [project / "dbt_project.yml", project / "profiles.yml"]
    for folder in _PARSED_FOLDERS:
        files += [p for p in (project / folder).rglob("*") if p.is_file()]
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in files if p.exists()))


def _parsed_manifest(project: str, runner_class) -> object | None:
    key = (project, os.environ.get(WAREHOUSE_ENV), _fingerprint(Path(project)))
    if key not in _PARSED:
        result = runner_class().invoke(
            ["parse", "--quiet", "--project-dir", project, "--profiles-dir", project]
        )
        if not result.success:
            return None  # the invocation itself will report what is wrong
        _PARSED.clear()
        _PARSED[key] = result.result
    return _PARSED[key]


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
    manifest = None if "--vars" in args else _parsed_manifest(project, dbtRunner)
    result = dbtRunner(manifest=manifest).invoke(full_args)
    if not result.success:
        raise DbtError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log above'}")
    return result.result
