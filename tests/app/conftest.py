"""One small generated warehouse (day 0 and a change day) that the app's
tests read, built once per session; tests that write take a copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from c360.app.server import create_app, settings_for
from c360.settings import Settings
from tests.app.support import copy_landing, generate_small, run_pipeline, write_users
from tests.support.warehouse_files import copy_warehouse


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:

    return generate_small(tmp_path_factory.mktemp("app_generated"))


@pytest.fixture(scope="session")
def built(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:

    folder = tmp_path_factory.mktemp("app_wh")
    landing = copy_landing(generated, folder / "landing")
    return run_pipeline(landing, folder / "warehouse.duckdb")


@pytest.fixture(scope="session")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("app_users") / "c360_users")


@pytest.fixture()
def warehouse(built: Path, tmp_path: Path) -> Path:
    """A copy of the session's warehouse: each test's audit rows and
    decisions are its own."""
    return copy_warehouse(built, tmp_path / "warehouse.duckdb")


def make_client(warehouse: Path, users: Path, truth: Path | None = None) -> TestClient:
    settings = settings_for(
        Settings.from_environment(), warehouse=warehouse, users_file=users, truth=truth
    )
    return TestClient(create_app(settings, secret_key="test-secret"))


@pytest.fixture()
def client(warehouse: Path, users: Path) -> TestClient:
    return make_client(warehouse, users)
