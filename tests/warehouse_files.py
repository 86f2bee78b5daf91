"""Copying a warehouse file for a test to change, with its write-ahead log."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_warehouse(source: Path, target: Path) -> Path:
    """A DuckDB file and, if present, its .wal: without it, a copy can miss the
    last committed writes."""
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return target
