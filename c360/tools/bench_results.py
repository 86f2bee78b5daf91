"""The benchmark results as read back from bench_out/results.jsonl: runs of
`python -m c360.tools.bench --pipeline`, their days and baselines. The
report (bench_report) and the chart (bench_chart) both read them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path("bench_out/results.jsonl")
CHART = Path("docs/benchmarks_stages.png")

# The pipeline's stages in the order a day runs them; keys not named here
# follow in the order they first appear.
STAGE_ORDER = ("load", "build_before", "privacy", "score", "build_after", "publish", "purge")
VERSION_LABELS = {
    "python": "Python",
    "duckdb": "DuckDB",
    "dbt-core": "dbt-core",
    "dbt-duckdb": "dbt-duckdb",
    "splink": "Splink",
    "pyspark": "PySpark",
    "dbt-spark": "dbt-spark",
}
ENGINE_LABELS = {"duckdb": "DuckDB", "spark": "Spark"}


@dataclass
class Run:
    """One `python -m c360.tools.bench --pipeline` run on one engine: its days,
    in order, and the baseline measured with it. A run over several engines is
    one Run per engine, sharing `run_id` and the landing."""

    customers: int | None
    days: list[dict] = field(default_factory=list)
    baseline: dict | None = None
    run_id: str | None = None
    engine: str = "duckdb"

    @property
    def day0(self) -> dict:
        return self.days[0]

    @property
    def change_days(self) -> list[dict]:
        return self.days[1:]

    @property
    def machine(self) -> str | None:
        return self.day0.get("machine")

    @property
    def versions(self) -> dict | None:
        return self.day0.get("versions") or (self.baseline or {}).get("versions")


def total(seconds: dict[str, float]) -> float:
    return round(sum(seconds.values()), 1)


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run
    return rows


def runs(rows: list[dict]) -> list[Run]:
    """The pipeline runs in the file, oldest first. Rows of one run share a
    `run_id`; rows written before there was one are told apart by order: a
    day that trains, or whose run date is not after the previous row's, or
    whose number of customers differs, starts a new run. A baseline row
    belongs to the DuckDB run with its `run_id`, else to the last run before
    it. Rows without an `engine` were measured on DuckDB."""
    out: list[Run] = []
    by_id: dict[tuple[str, str], Run] = {}
    current: Run | None = None
    for row in rows:
        kind = row.get("benchmark")
        if kind == "pipeline_day":
            run_id = row.get("run_id")
            engine = row.get("engine", "duckdb")
            if run_id is not None and (run_id, engine) in by_id:
                run = by_id[(run_id, engine)]
            elif (
                run_id is None
                and current is not None
                and current.run_id is None
                and not row.get("trained")
                and row.get("day_index", 1) != 0
                and row.get("customers") == current.customers
                and row["run_date"] > current.days[-1]["run_date"]
            ):
                run = current
            else:
                run = Run(row.get("customers"), run_id=run_id, engine=engine)
                out.append(run)
                if run_id is not None:
                    by_id[(run_id, engine)] = run
            run.days.append(row)
            current = run
        elif kind == "baseline":
            run_id = row.get("run_id")
            target = by_id.get((run_id, "duckdb")) if run_id is not None else current
            if target is not None and target.baseline is None:
                target.baseline = row
    for run in out:
        run.days.sort(key=lambda d: (d.get("day_index", 0), d["run_date"]))
    return out


def latest_by_customers(all_runs: list[Run], engine: str = "duckdb") -> dict[int, Run]:
    """The last run on `engine` of each number of customers, smallest N first; runs that
    did not record their N are left out (there is no axis to put them on)."""
    latest: dict[int, Run] = {}
    for run in all_runs:
        if run.customers and run.days and run.engine == engine:
            latest[run.customers] = run
    return dict(sorted(latest.items()))


def latest_engine_comparisons(all_runs: list[Run]) -> dict[int, dict[str, Run]]:
    """Per number of customers, the last run that measured more than one engine
    on the same landing: its Run per engine, in the order they ran."""
    by_run: dict[tuple[int, str], dict[str, Run]] = {}
    for run in all_runs:
        if run.customers and run.days and run.run_id is not None:
            by_run.setdefault((run.customers, run.run_id), {})[run.engine] = run
    latest: dict[int, dict[str, Run]] = {}
    for (customers, _), engines in by_run.items():
        if len(engines) > 1:
            latest[customers] = engines
    return dict(sorted(latest.items()))


def stages(all_runs: list[Run]) -> list[str]:
    seen: list[str] = []
    for run in all_runs:
        for day in run.days:
            for key in day["seconds"]:
                if key not in seen:
                    seen.append(key)
    known = [s for s in STAGE_ORDER if s in seen]
    return known + [s for s in seen if s not in STAGE_ORDER]


def mean_seconds(days: list[dict], keys: list[str]) -> dict[str, float]:
    return {k: sum(d["seconds"].get(k, 0.0) for d in days) / len(days) for k in keys}
