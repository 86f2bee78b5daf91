"""`c360 export-marts`: every mart as Parquet, one folder per mart, for BI
tools and lakehouses that read files rather than the warehouse.

A folder is written beside its target and swapped in only when complete, so
a reader of DIR/<mart>/ sees the previous export or the new one, never a
half-written folder; a mart that is no longer in the warehouse keeps its old
folder (removing files from a shared export directory is the reader's call).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from c360 import engine, warehouse

MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class ExportedMart:
    name: str
    rows: int
    folder: Path


def export_marts(
    out: str | os.PathLike, warehouse_file: str | os.PathLike | None = None
) -> list[ExportedMart]:
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    con = warehouse.connect_for_reading(warehouse_file)
    try:
        names = engine.relation_names(con, MARTS_SCHEMA)
        if not names:
            raise ValueError(
                f"{warehouse.warehouse_path(warehouse_file)} has no marts: "
                "run `c360 run` before exporting them"
            )
        exported = []
        for name in names:
            relation = f"{MARTS_SCHEMA}.{name}"
            staged = root / f".{name}.partial"
            shutil.rmtree(staged, ignore_errors=True)
            engine.write_parquet_folder(con, relation, staged)
            rows = engine.scalar(con, f"select count(*) from {relation}")
            target = root / name
            retired = root / f".{name}.retired"
            shutil.rmtree(retired, ignore_errors=True)
            if target.exists():
                target.rename(retired)
            staged.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
            exported.append(ExportedMart(name, rows, target))
        return exported
    finally:
        con.close()


def format_export(exported: list[ExportedMart], out: str | os.PathLike) -> str:
    lines = [f"exported {len(exported)} marts to {out}"]
    lines += [f"  {mart.name:<32} {mart.rows:>12,} rows" for mart in exported]
    return "\n".join(lines)
