"""The one way the pipeline runs dbt: the same invocation from `c360 run` and
from Dagster.

A day's dbt work is a few phases, each a YAML selector of the project
(selectors.yml), built with the same flags and the same vars:

    seeds           the rules as versioned in the repo, reloaded and tested
    before_scoring  staging .. identity records and deterministic edges
    after_scoring   what reads the scored pairs or the privacy decisions
    publish         marts and snapshots, once every check upstream passed

and, on a day with erasures, the `purge_pending_erasures` operation after the
privacy intake and again after publishing (macros/privacy/).

Parameters reach dbt as `--vars` (the warehouse file, the run date), never
through the process's environment. `c360 run` invokes dbt in-process
(`run`); Dagster runs the same invocations, on DuckDB through dagster-dbt's
dbt subprocess, which passes the selector itself, and on Spark in its own
process through `run`, with the selection dagster-dbt computes and a
callback that receives dbt's events (orchestration/dbt_in_process.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from c360 import engine
from c360.progress import one_line
from c360.settings import settings
from c360.warehouse import warehouse_path

PHASES = ("before_scoring", "after_scoring", "publish")
SEEDS = "seeds"
# Unit tests check the code, not the day's data: CI and `dbt build` by hand
# run them; a daily run does not repeat them once per day.
DAILY_BUILD = ["build", "--exclude-resource-type", "unit_test"]
# Seeds are reloaded whole, so a changed column is picked up rather than
# refused (the selector tests them "cautiously": their own tests only).
SEED_BUILD = ["build", "--full-refresh"]
# Vars that change only what a model's SQL compiles to, never what parsing
# finds (refs, configs): a parsed project serves every value of them.
COMPILE_TIME_VARS = frozenset({"run_date"})


def project_dir() -> Path:
    """The dbt project to run: this repository's, or another checkout of it (a
    steward's branch with new overrides, a test's copy; C360_DBT_PROJECT_DIR)."""
    return settings().dbt_project_dir


class DbtError(RuntimeError):
    """dbt could not run the invocation (its exit code 2: the project does not
    parse or compile, the warehouse is busy...): a retry may pass."""


class DbtNodesFailed(DbtError):
    """dbt ran, and a model, a snapshot or a test failed (its exit code 1): the
    data or the code is wrong, and a retry would fail the same way."""


# The profiles.yml target of each engine (None: the profile's default, DuckDB's).
ENGINE_TARGETS = {"duckdb": None, "spark": "spark"}


def engine_target() -> str | None:
    """The dbt target of the engine the settings name (C360_ENGINE)."""
    return ENGINE_TARGETS[settings().engine]


def dbt_vars(warehouse: str | os.PathLike | None, run_date=None) -> dict[str, object]:
    """The vars of an invocation: the warehouse file (profiles.yml) and the run
    date (macros/lifecycle/run_date.sql); without a run date a hand-run
    build's rule applies (the newest loaded date)."""
    values: dict[str, object] = {"warehouse_path": str(warehouse_path(warehouse).resolve())}
    if run_date is not None:
        values["run_date"] = run_date.isoformat()
    return values


@dataclass(frozen=True)
class DbtInvocation:
    """A dbt command, its selector and its vars."""

    command: tuple[str, ...]
    selector: str | None = None
    vars: dict[str, object] = field(default_factory=dict)
    target: str | None = field(default_factory=engine_target)

    def args(self, *, with_selector: bool = True) -> list[str]:
        """The command line; Dagster's assets name their selector themselves."""
        args = [*self.command, "--vars", json.dumps(self.vars, sort_keys=True)]
        if self.target:
            args += ["--target", self.target]
        if with_selector and self.selector:
            args += ["--selector", self.selector]
        return args


def phase_invocation(
    phase: str,
    warehouse: str | os.PathLike | None = None,
    *,
    run_date=None,
    full_refresh: bool = False,
    quiet: bool = False,
) -> DbtInvocation:
    """The build of one phase of a run date. With `full_refresh`, incremental
    models rebuild from raw (state models, which hold history rather than
    derive it, keep `full_refresh: false`)."""
    if phase not in PHASES:
        raise ValueError(f"unknown dbt phase {phase!r}; expected one of {PHASES}")
    command = [*DAILY_BUILD, *(["--full-refresh"] if full_refresh else [])]
    command += ["--quiet"] if quiet else []
    return DbtInvocation(tuple(command), phase, dbt_vars(warehouse, run_date))


def seed_invocation(
    warehouse: str | os.PathLike | None = None, *, quiet: bool = False
) -> DbtInvocation:
    command = [*SEED_BUILD, *(["--quiet"] if quiet else [])]
    return DbtInvocation(tuple(command), SEEDS, dbt_vars(warehouse))


def operation_invocation(
    macro: str,
    macro_args: dict,
    warehouse: str | os.PathLike | None = None,
    *,
    run_date=None,
    quiet: bool = False,
) -> DbtInvocation:
    """`dbt run-operation` of one of the project's macros, with its arguments."""
    command = ["run-operation", macro, "--args", json.dumps(macro_args, sort_keys=True)]
    command += ["--quiet"] if quiet else []
    return DbtInvocation(tuple(command), None, dbt_vars(warehouse, run_date))


# Parsing the project (or reading back its partial parse) costs a second or
# two, and a day invokes dbt three or four times: one parse serves every
# invocation of a process on the same warehouse until a file of the project
# changes. The warehouse is part of what is parsed (DuckDB's catalog is named
# after the file), and vars other than COMPILE_TIME_VARS parse afresh.
_PARSED: dict[tuple, object] = {}
_PARSED_FOLDERS = ("models", "macros", "snapshots", "seeds", "data_tests")


def project_files(project: Path) -> list[Path]:
    """Every file of the project that parsing reads."""
    files = [project / name for name in ("dbt_project.yml", "profiles.yml", "selectors.yml")]
    for folder in _PARSED_FOLDERS:
        files += [p for p in (project / folder).rglob("*") if p.is_file()]
    return [p for p in files if p.exists()]


def _fingerprint(project: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in project_files(project)))


def _parsed_manifest(
    project: str, parse_vars: dict, runner_class, target: str | None = None
) -> object | None:
    key = (project, json.dumps(parse_vars, sort_keys=True), target, _fingerprint(Path(project)))
    if key not in _PARSED:
        result = runner_class().invoke(
            [
                "parse",
                "--quiet",
                "--project-dir",
                project,
                "--profiles-dir",
                project,
                "--vars",
                json.dumps(parse_vars, sort_keys=True),
                *(["--target", target] if target else []),
            ]
        )
        if not result.success:
            return None  # the invocation itself will report what is wrong
        _PARSED.clear()
        _PARSED[key] = result.result
    return _PARSED[key]


def _split_vars(args: list[str]) -> tuple[list[str], dict]:
    """The arguments without `--vars`, and the vars it gave."""
    if "--vars" not in args:
        return list(args), {}
    at = args.index("--vars")
    given = yaml.safe_load(args[at + 1]) or {}
    return [*args[:at], *args[at + 2 :]], dict(given)


def run(
    invocation: DbtInvocation,
    *,
    selection: Sequence[str] | None = None,
    callbacks: Sequence[Callable[[object], None]] = (),
) -> object:
    """Run an invocation in this process; raise DbtNodesFailed if a node
    failed, DbtError if dbt could not run it. `selection`: selection
    arguments (`--select ...`) in place of the invocation's selector (the
    subset of a phase Dagster asks for); `callbacks`: called with each of
    dbt's events (`EventMsg`) as it fires."""
    from dbt.cli.main import dbtRunner

    project = str(project_dir())
    args = invocation.args(with_selector=selection is None) + list(selection or ())
    # The engine's session (Spark: dbt-spark's session method runs in it, with
    # the tokenization pads bound) exists before dbt starts.
    engine.before_dbt(warehouse_path(invocation.vars.get("warehouse_path")))
    parse_vars = {k: v for k, v in invocation.vars.items() if k not in COMPILE_TIME_VARS}
    manifest = None
    if set(parse_vars) <= {"warehouse_path"}:
        manifest = _parsed_manifest(project, parse_vars, dbtRunner, invocation.target)
    result = dbtRunner(manifest=manifest, callbacks=list(callbacks)).invoke(
        [*args, "--project-dir", project, "--profiles-dir", project]
    )
    if not result.success:
        shown = " ".join(invocation.command)
        selected = " ".join(selection) if selection is not None else ""
        if not selected and invocation.selector:
            selected = f"--selector {invocation.selector}"
        what = f"dbt {shown}{' ' + selected if selected else ''}"
        if result.exception is None:
            raise DbtNodesFailed(f"{what} failed: {_failed_nodes(result.result)}")
        raise DbtError(f"{what} failed: {result.exception}")
    return result.result


def _failed_nodes(outcome: object, shown: int = 5) -> str:
    """The nodes that failed or errored, each with dbt's message (the first
    `shown` of them)."""
    failed = [
        f"{node.node.resource_type} {node.node.name}: {one_line(str(node.message or node.status))}"
        for node in getattr(outcome, "results", None) or []
        if str(node.status) in ("error", "fail", "runtime error")
    ]
    if not failed:
        return "a model or a test failed (see the log above)"
    more = f"; and {len(failed) - shown} more" if len(failed) > shown else ""
    return "; ".join(failed[:shown]) + more


def run_dbt(args: list[str], warehouse: str | os.PathLike | None = None) -> object:
    """Any dbt command on the warehouse (`--vars` in `args` are kept)."""
    command, given_vars = _split_vars(list(args))
    return run(DbtInvocation(tuple(command), None, {**dbt_vars(warehouse), **given_vars}))
