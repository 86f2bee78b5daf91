"""The test suite, in three tiers, and its shared generated data sets.

Tiers (all collected by `make test`, testpaths = tests):

- tests/unit: one function or module at a time, no warehouse build (the
  generator, keys, noise, loader, tokenization, evaluation metrics).
- tests/stage: one stage of the pipeline on a tiny hand-built input, with its
  real parts (DuckDB, the dbt project's SQL, the privacy intake): seconds a
  test, no generated data set.
- tests/e2e: generated landing data through `c360 run`, real dbt, Splink and
  DuckDB; accuracy floors, days of changes, privacy requests end to end. A
  folder of tests/e2e (daily_lifecycle, pipeline_generated) shares one
  expensive warehouse, built once per session by its conftest.py.

Run:

- `pytest tests/unit tests/stage`: the fast tier, under 3 minutes.
- `make test` (`pytest -n 2 --dist loadfile tests`): everything, 7 to 10
  minutes on two cores; the ten-day warehouse of tests/e2e/daily_lifecycle
  is most of one worker's time.

tests/support holds the helpers modules share (no fixtures: those live in
conftest.py files); tests/fixtures a tiny hand-made landing zone.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from c360.settings import choose_engine
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker runs dbt in the same project: give each its
    own target and log folders, so that manifests and partial-parse files of
    two concurrent dbt runs do not overwrite each other."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ.setdefault("DBT_TARGET_PATH", f"target/{worker}")
        os.environ.setdefault("DBT_LOG_PATH", f"logs/{worker}")


# Spark modules that run Spark in child processes (a session serves one
# warehouse a process): each is a scheduling unit of its own.
SPARK_IN_CHILDREN = ("tests/spark/test_parity.py",)


def e2e_scheduling_unit(nodeid: str) -> str:
    """What one pytest-xdist worker runs as a whole under `--dist loadfile`: a
    test module, or for a module in a folder of tests/e2e, the whole folder.
    The folder's modules share its session-scoped warehouse, which is built
    once only if one worker runs them all."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    for index in range(len(parts) - 2):
        if parts[index : index + 2] == ["tests", "e2e"] and len(parts) > index + 3:
            return "/".join(parts[: index + 3])
        # The Spark modules share one Spark session (one warehouse) per
        # process: one worker runs them, but for those that run Spark in
        # processes of their own.
        if parts[index : index + 2] == ["tests", "spark"] and path not in SPARK_IN_CHILDREN:
            return "/".join(parts[: index + 2])
    return path


def _unit_rank(unit: str, tests: int) -> tuple[int, int]:
    """The order units are handed out in: the Spark parity run (the longest
    unit by far), the e2e folders, then the other e2e modules, then the rest;
    the larger first within each. The last unit to start is then a short
    one, and the two workers end together."""
    if unit in SPARK_IN_CHILDREN:
        return (-1, -tests)
    if unit == "tests/spark":
        return (1, -tests)
    if unit.startswith("tests/e2e/"):
        return (0 if not unit.endswith(".py") else 1, -tests)
    return (2, -tests)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class E2EFolderScheduling(LoadFileScheduling):
        _ranked = False

        def _split_scope(self, nodeid: str) -> str:
            return e2e_scheduling_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            # The queue (an OrderedDict of unit -> tests) is complete by the
            # first assignment: rank it once.
            if not self._ranked:
                ranked = sorted(self.workqueue.items(), key=lambda u: _unit_rank(u[0], len(u[1])))
                self.workqueue.clear()
                self.workqueue.update(ranked)
                self._ranked = True
            super()._assign_work_unit(node)

    return E2EFolderScheduling(config, log)


@pytest.fixture(autouse=True)
def settings_of_the_test() -> None:
    """Each test's settings from its own environment: the settings are read
    once per process, and a test may set a C360_* variable."""
    choose_engine(None)
    yield
    choose_engine(None)


@pytest.fixture(scope="session")
def day0(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratorConfig, Path]:
    """20k people, day 0 only: large enough to measure rates within tolerance."""
    cfg = GeneratorConfig(customers=20_000, days=0, seed=11, chunk_size=10_000)
    out = tmp_path_factory.mktemp("gen_day0")
    generate(cfg, out, progress=False)
    return cfg, out


@pytest.fixture(scope="session")
def multiday(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratorConfig, Path]:
    """8k people over 6 change days: delta semantics and life events."""
    cfg = GeneratorConfig(customers=8_000, days=6, seed=5, chunk_size=4_000)
    # Ten times the default request rate, so that a small population files some.
    cfg.changes.privacy_request_rate = 0.0005
    out = tmp_path_factory.mktemp("gen_multiday")
    generate(cfg, out, progress=False)
    return cfg, out


@pytest.fixture()
def db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    yield con
    con.close()
