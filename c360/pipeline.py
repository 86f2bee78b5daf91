"""The daily pipeline, as plain functions: the CLI and Dagster both call these."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from c360 import warehouse
from c360.dbt import run_dbt


@dataclass
class RunResult:
    warehouse: str
    loaded: list[warehouse.LoadedPartition] = field(default_factory=list)
    staged_rows: dict[str, int] = field(default_factory=dict)


def load(landing: str | os.PathLike, warehouse_file: str | os.PathLike | None = None):
    con = warehouse.connect(warehouse_file)
    try:
        return warehouse.load_landing(con, landing)
    finally:
        # dbt opens the file itself; DuckDB allows one writer configuration per process.
        con.close()


def staged_row_counts(warehouse_file: str | os.PathLike | None = None) -> dict[str, int]:
    con = warehouse.connect(warehouse_file)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'staging' order by table_name"
            ).fetchall()
        ]
        return {n: con.execute(f"select count(*) from staging.{n}").fetchall()[0][0] for n in names}
    finally:
        con.close()


def run(landing: str | os.PathLike, warehouse_file: str | os.PathLike | None = None) -> RunResult:
    """Load every new landing partition, then build and test the dbt project."""
    path = warehouse.warehouse_path(warehouse_file)
    loaded = load(landing, path)
    run_dbt(["build"], warehouse=path)
    return RunResult(str(path), loaded, staged_row_counts(path))


def format_run(result: RunResult) -> str:
    lines = [f"warehouse: {result.warehouse}"]
    if result.loaded:
        dates = sorted({p.dt for p in result.loaded})
        rows = sum(p.rows for p in result.loaded)
        lines.append(
            f"loaded {len(result.loaded)} partition(s), {rows:,} rows, "
            f"dates {dates[0]} .. {dates[-1]}"
        )
    else:
        lines.append("no new landing partitions: nothing loaded")
    lines.append("staging (current records per model):")
    lines += [f"  {name:<32} {n:>10,}" for name, n in result.staged_rows.items()]
    return "\n".join(lines)
