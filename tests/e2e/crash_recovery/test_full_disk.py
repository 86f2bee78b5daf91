"""A full disk (docs/faults.md): `c360 run` on a warehouse whose filesystem
fills up fails with one line saying the disk is full (exit 4, no
traceback); once space is freed, the same command finishes the day, and
what it publishes is what a run on a roomy disk publishes: the crash
world's day 0 (conftest.py).

The small disk is a tmpfs, mounted here: that takes root (CI runs as root;
elsewhere the test is skipped, unless CI is set)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import c360
from tests.support.crash import published

# Small enough to fill on the shared world's day 0 of 40 customers (whose
# warehouse ends near 20 MB), large enough to get past creating it.
SMALL = "2m"
ROOMY = "200m"


def _mount(target: Path, size: str, *, remount: bool = False) -> subprocess.CompletedProcess:
    options = f"remount,size={size}" if remount else f"size={size}"
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        text=True,
    )


@pytest.fixture()
def small_disk(tmp_path: Path):
    target = tmp_path / "small_disk"
    target.mkdir()
    mounted = _mount(target, SMALL) if os.geteuid() == 0 else None
    if mounted is None or mounted.returncode != 0:
        reason = "mounting a tmpfs needs root" + (f": {mounted.stderr}" if mounted else "")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield target
    subprocess.run(["umount", "--lazy", str(target)], check=False)


def test_a_full_disk_fails_clearly_and_the_rerun_after_freeing_space_finishes(
    small_disk: Path, built_world: Path
) -> None:
    landing, roomy = built_world / "day0_landing", built_world / "day0.duckdb"
    path = small_disk / "warehouse.duckdb"
    full = c360("run", "--landing", str(landing), "--warehouse", str(path))
    assert full.returncode == 4, full.stderr[-3000:]
    assert "Traceback" not in full.stderr
    (line,) = [line for line in full.stderr.splitlines() if line.startswith("c360 run:")]
    assert "the disk is full" in line and "No space left on device" in line

    assert _mount(small_disk, ROOMY, remount=True).returncode == 0
    rerun = c360("run", "--landing", str(landing), "--warehouse", str(path))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert published(path) == published(roomy)
