"""Ten generated days through `c360 run`: one warehouse that every module of
this folder reads (and copies, to change).

Session-scoped, and built once: tests/conftest.py schedules this folder as one
unit under pytest-xdist (`--dist loadfile`), so one worker runs all of its
modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360 import pipeline
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from tests.support.generated_data import DAILY_DAYS, DAILY_START


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("daily_generated")
    generate(
        GeneratorConfig(
            customers=1200, days=DAILY_DAYS, seed=9, chunk_size=1200, start_date=DAILY_START
        ),
        out,
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def ten_days(generated: Path, tmp_path_factory: pytest.TempPathFactory):
    """Day 0, then ten days of changes, one run; a snapshot of the ids after each
    day comes from the SCD2 state itself."""
    path = tmp_path_factory.mktemp("daily_wh") / "warehouse.duckdb"
    result = pipeline.run(generated / "landing", path)
    return path, result
