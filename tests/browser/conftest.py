"""The app in a real browser: Debian's chromium driven by Playwright (which
downloads no browser here), against the app served in this process on a
free port, over a warehouse of its own (day 0 only: a test runs the next day).

Without chromium the tests are skipped, except in CI (CI=true), where a
missing browser is a failure: .ci/run installs it."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from c360.app.server import create_app, settings_for
from c360.settings import Settings
from tests.app.support import FIRST_DAY, copy_landing, generate_small, run_pipeline, write_users


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is missing: CI must install Debian's chromium (.ci/run)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI runs these tests")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Day 0 in the warehouse; the later days' partitions wait in `generated`."""
    generated = generate_small(tmp_path_factory.mktemp("browser_generated"))
    folder = tmp_path_factory.mktemp("browser_wh")
    landing = copy_landing(generated, folder / "landing", through=FIRST_DAY)
    warehouse = run_pipeline(landing, folder / "warehouse.duckdb")
    return {
        "generated": generated,
        "landing": landing,
        "warehouse": warehouse,
        "users": write_users(folder / "c360_users"),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def base_url(site: dict):
    settings = settings_for(
        Settings.from_environment(),
        warehouse=site["warehouse"],
        users_file=site["users"],
        truth=site["generated"] / "truth",
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def page(browser, base_url: str):
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture()
def screenshot():
    """Saves a page's screenshot under $C360_SCREENSHOTS when it is set (the
    docs' pictures: C360_SCREENSHOTS=docs/screenshots pytest tests/browser)."""
    folder = os.environ.get("C360_SCREENSHOTS")

    def take(page, name: str, *, full_page: bool = True) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)

    return take
