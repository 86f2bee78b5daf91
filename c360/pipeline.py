"""The daily pipeline, as plain functions: the CLI and Dagster both call these."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from c360 import warehouse
from c360.dbt import run_dbt
from splink_models import runtime

# dbt models downstream of the Splink scoring step: built after it.
AFTER_SCORING = "source:matching+"


@dataclass
class RunResult:
    warehouse: str
    loaded: list[warehouse.LoadedPartition] = field(default_factory=list)
    staged_rows: dict[str, int] = field(default_factory=dict)
    trained: runtime.TrainedModel | None = None
    scoring: runtime.ScoringResult | None = None


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


def build_before_scoring(
    warehouse_file: str | os.PathLike | None = None, *, quiet: bool = False
) -> None:
    """dbt build of everything the scoring step does not feed (staging .. identity records).

    Seeds are the rules as versioned in the repo (match rules, survivorship,
    nicknames): they are reloaded whole every run, so a changed column is
    picked up rather than refused.
    """
    log = ["--quiet"] if quiet else []
    run_dbt(["seed", "--full-refresh", *log], warehouse=warehouse_file)
    run_dbt(
        ["build", "--exclude", AFTER_SCORING, "--exclude", "resource_type:seed", *log],
        warehouse=warehouse_file,
    )


def build_after_scoring(
    warehouse_file: str | os.PathLike | None = None, *, quiet: bool = False
) -> None:
    """dbt build of what reads the scored pairs: edges, clusters, golden record, marts."""
    log = ["--quiet"] if quiet else []
    run_dbt(["build", "--select", AFTER_SCORING, *log], warehouse=warehouse_file)


def train(warehouse_file: str | os.PathLike | None = None, **options) -> runtime.TrainedModel:
    con = warehouse.connect(warehouse_file)
    try:
        return runtime.train(con, **options)
    finally:
        con.close()


def score(
    warehouse_file: str | os.PathLike | None = None, *, train_if_missing: bool = True
) -> tuple[runtime.TrainedModel | None, runtime.ScoringResult]:
    """Score identity records with the current model; train one first if there is none,
    or if the current one was trained for another model definition."""
    con = warehouse.connect(warehouse_file)
    try:
        trained = None
        current = runtime.current_model(con)
        if current is not None and not current.fits_the_code:
            print(
                f"the current identity model {current.version} was trained for another "
                "model definition (splink_models/identity.py changed): re-training",
                file=sys.stderr,
            )
        if train_if_missing and (current is None or not current.fits_the_code):
            try:
                trained = runtime.train(con)
            except runtime.UntrainableModel as reason:
                # A young or narrow deployment (two sources, few records) still
                # resolves by its rules; the next run tries training again.
                print(
                    f"no identity model could be trained yet ({reason}); "
                    "linking by the deterministic rules only",
                    file=sys.stderr,
                )
                return None, runtime.score_nothing(con)
        return trained, runtime.score(con)
    finally:
        con.close()


def run(
    landing: str | os.PathLike,
    warehouse_file: str | os.PathLike | None = None,
    *,
    quiet: bool = False,
) -> RunResult:
    """Load every new landing partition, then build, score and test everything."""
    path = warehouse.warehouse_path(warehouse_file)
    loaded = load(landing, path)
    build_before_scoring(path, quiet=quiet)
    trained, scoring = score(path)
    build_after_scoring(path, quiet=quiet)
    return RunResult(str(path), loaded, staged_row_counts(path), trained, scoring)


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
    if result.trained:
        lines.append(
            f"trained identity model {result.trained.version} "
            f"on {result.trained.records:,} records (none was current)"
        )
    if result.scoring and result.scoring.model_version == "none":
        lines.append(
            f"no identity model yet: {result.scoring.records:,} identity records linked by "
            "the deterministic rules only"
        )
    elif result.scoring:
        sc = result.scoring
        lines.append(
            f"scored {sc.records:,} identity records with {sc.model_version}: "
            f"{sc.comparisons:,} comparisons, {sc.pairs_kept:,} pairs kept"
        )
    lines.append("staging (current records per model):")
    lines += [f"  {name:<32} {n:>10,}" for name, n in result.staged_rows.items()]
    return "\n".join(lines)
