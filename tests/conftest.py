"""Shared generated data sets: generated once per test session, real files."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from c360.settings import settings
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


@pytest.fixture(autouse=True)
def settings_of_the_test() -> None:
    """Each test's settings from its own environment: the settings are read
    once per process, and a test may set a C360_* variable."""
    settings.cache_clear()
    yield
    settings.cache_clear()


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


def landing_view(out: Path, table: str) -> str:
    """A DuckDB relation over every partition of a landing table, with dt."""
    return (
        f"read_parquet('{out}/landing/{table}/*/*.parquet', hive_partitioning=true, "
        "union_by_name=true)"
    )


def truth(out: Path, name: str) -> str:
    return f"read_parquet('{out}/truth/{name}.parquet')"


@pytest.fixture()
def db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    yield con
    con.close()
