"""Generated landing data (3000 people, day 0 and one change day) through the
real loader and a real `dbt build`: one warehouse that every module of this
folder reads (and copies, to change), and its scores against the truth.

Session-scoped, and built once: tests/conftest.py schedules this folder as one
unit under pytest-xdist (`--dist loadfile`), so one worker runs all of its
modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from c360 import pipeline


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Through the console entry point, as a scheduler would call it."""
    out = tmp_path_factory.mktemp("e2e_generated")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "generate",
            "--customers",
            "3000",
            "--days",
            "1",
            "--seed",
            "3",
            "--out",
            str(out),
            "--chunk-size",
            "1500",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ecommerce_customers" in result.stdout
    return out


@pytest.fixture(scope="session")
def warehouse(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("e2e_wh") / "warehouse.duckdb"
    result = pipeline.run(generated / "landing", path)
    return path, result


@pytest.fixture(scope="session")
def scores(generated: Path, warehouse) -> dict:
    from c360.evaluation import evaluate, format_evaluation

    path, _ = warehouse
    result = evaluate(path, generated / "truth")
    print("\n" + format_evaluation(result))
    return result
