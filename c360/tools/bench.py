"""`make bench`: time and peak memory of the generator and of the daily
pipeline at scale, and of a plain Splink baseline over the pipeline's day 0;
with `--profiles`, the match quality of both on the generator's profiles.

The generator runs as a child process (exactly `c360 generate`); its peak
memory is the largest sum of resident memory over it and its workers,
sampled from /proc, because the per-process maximum that `time -v` reports
misses the workers running side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

DEFAULT_CUSTOMERS = 1_000_000
# Match quality needs the pipeline and the baseline on every profile: a size
# at which both finish in minutes, large enough for stable figures.
QUALITY_CUSTOMERS = 20_000


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            out += [int(c) for c in children.read_text().split()]
    return out


def _tree_rss_bytes(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            stack += _children(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class PeakMemory:
    """The largest resident memory of this process and its children (Spark's
    JVM is one) since the last `reset`, sampled from /proc in a thread: the
    process's own maximum (getrusage) misses the JVM."""

    def __init__(self, interval: float = 0.5):
        self._interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _tree_rss_bytes(os.getpid()))
            self._stop.wait(self._interval)

    def reset(self) -> None:
        self._peak = _tree_rss_bytes(os.getpid())

    @property
    def gib(self) -> float:
        return round(max(self._peak, _tree_rss_bytes(os.getpid())) / 2**30, 2)

    def __enter__(self) -> PeakMemory:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except FileNotFoundError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, {system}"


def versions() -> dict[str, str]:
    """The versions a figure depends on, recorded with it."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for package in ("duckdb", "dbt-core", "dbt-duckdb", "splink", "pyspark", "dbt-spark"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "absent"
    return out


def bench_generate(customers: int, days: int, out: Path, workers: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    cmd = [
        sys.executable,
        "-m",
        "c360.cli",
        "generate",
        "--customers",
        str(customers),
        "--days",
        str(days),
        "--seed",
        "1",
        "--out",
        str(out),
        "--workers",
        str(workers),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_bytes(proc.pid))
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"generate failed with exit code {proc.returncode}")
    landing_bytes = sum(f.stat().st_size for f in (out / "landing").rglob("*.parquet"))
    rows = json.loads((out / "truth" / "generator.json").read_text())["rows_by_table"]
    return {
        "benchmark": "generate",
        "customers": customers,
        "days": days,
        "workers": workers,
        "seconds": round(elapsed, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
        "landing_rows": sum(rows.values()),
        "landing_mib": round(landing_bytes / 2**20, 1),
        "machine": machine(),
    }


def bench_pipeline(
    landing: Path,
    warehouse: Path,
    *,
    customers: int | None = None,
    run_id: str | None = None,
    engine: str = "duckdb",
) -> Iterator[dict]:
    """`c360 run --engine ENGINE` over every landing date, one day at a time,
    yielding each day's row as soon as the day is done (a long run that stops
    keeps what it measured): the wall time of each stage, what changed, what
    was scored, and the peak resident memory of the process and its children
    during the day (dbt, DuckDB and Splink run in the process; Spark's JVM is
    its child).
    `day_index` 0 is the first landing date (the full extract), and rows of
    one run share `run_id`, across engines too."""
    from c360 import pipeline
    from c360.settings import choose_engine, settings

    remove_leftover(warehouse)
    run_id = run_id or _run_id()
    choose_engine(engine)
    try:
        chosen = settings()
        engine_settings = (
            {"master": chosen.spark_master, "driver_memory": chosen.spark_driver_memory}
            if engine == "spark"
            else {"memory_limit": chosen.duckdb_memory_limit}
        )
        dates = pipeline.pending_run_dates(landing, warehouse)
        pipeline.load_seeds(warehouse, quiet=True)
        with PeakMemory() as peak:
            for index, run_date in enumerate(dates):
                peak.reset()
                day = pipeline.run_day(landing, run_date, warehouse, quiet=True)
                yield _day_row(
                    day,
                    index,
                    customers,
                    run_id,
                    engine,
                    peak_rss_gib=peak.gib,
                    engine_settings=engine_settings,
                    warehouse_gib=round(_size_bytes(warehouse) / 2**30, 2),
                )
    finally:
        choose_engine(None)


def _day_row(day, index: int, customers, run_id: str, engine: str, **measured) -> dict:
    m = day.metrics
    return {
        "benchmark": "pipeline_day",
        "run_id": run_id,
        "engine": engine,
        "date": dt.date.today().isoformat(),
        "customers": customers,
        "day_index": index,
        "run_date": day.run_date.isoformat(),
        "seconds": day.seconds,
        "records_live": m.get("records_live"),
        "records_added_changed_deleted": [
            m.get("records_added"),
            m.get("records_changed"),
            m.get("records_deleted"),
        ],
        "records_rescored": m.get("records_rescored"),
        "comparisons_scored": m.get("comparisons_scored"),
        "ids_minted_merged_split": [
            m.get("ids_minted"),
            m.get("ids_merged"),
            m.get("ids_split"),
        ],
        "untouched_ids_changed": m.get("untouched_ids_changed"),
        "trained": day.trained is not None,
        "machine": machine(),
        "versions": versions(),
        **measured,
    }


def _size_bytes(path: Path) -> int:
    """A warehouse's bytes on disk: DuckDB's file, or every file of Spark's directory."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def remove_leftover(path: Path) -> None:
    """A warehouse or folder left by an earlier run: DuckDB's file, Spark's directory."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _run_id() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def snapshot_day0(landing: Path, target: Path) -> Path:
    """A copy of the identity tables' first partitions, the records the
    pipeline's day 0 sees: the pipeline's privacy purge rewrites landing
    files on the change days, and the baseline runs after them."""
    from c360.contract import IDENTITY_TABLES
    from c360.tools.bench_baseline import first_partition

    if target.exists():
        shutil.rmtree(target)
    for table in IDENTITY_TABLES:
        partition = first_partition(landing, table.name)
        if partition is not None:
            shutil.copytree(partition, target / table.name / partition.name)
    return target


def bench_baseline(
    landing: Path,
    work_dir: Path,
    truth: Path | None = None,
    *,
    customers: int | None = None,
    run_id: str | None = None,
    day0: dict | None = None,
) -> dict:
    """The plain Splink baseline (c360/tools/bench_baseline.py) over the first
    partition of `landing`; with the pipeline's day-0 row, the ratio of the
    two wall times."""
    from c360.tools.bench_baseline import run_baseline

    result = run_baseline(landing, work_dir, truth)
    row = {
        "benchmark": "baseline",
        "run_id": run_id or _run_id(),
        "date": dt.date.today().isoformat(),
        "customers": customers,
        **{k: v for k, v in result.items() if k != "benchmark"},
        "machine": machine(),
        "versions": versions(),
    }
    if day0 is not None:
        day0_seconds = round(sum(day0["seconds"].values()), 1)
        row["pipeline_day0_seconds"] = day0_seconds
        row["day0_to_baseline"] = (
            round(day0_seconds / result["seconds"]["total"], 2)
            if result["seconds"]["total"]
            else None
        )
    return row


def _generated_customers(out: Path) -> int | None:
    try:
        return json.loads((out / "truth" / "generator.json").read_text())["config"]["customers"]
    except (OSError, KeyError, ValueError):
        return None


def _append(results: Path, row: dict) -> None:
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def _print_baseline(row: dict) -> None:
    s = row["seconds"]
    line = (
        f"baseline (plain Splink {row['tool'].split()[-1]}): {s['total']} s "
        f"(load {s['load']}, train {s['train']}, predict {s['predict']}, "
        f"cluster {s['cluster']}) over {row['records']:,} records, "
        f"{row['pairs']:,} pairs >= {row['threshold']}"
    )
    if "accuracy" in row:
        a = row["accuracy"]
        line += f"; pairwise P {a['precision']:.4f} R {a['recall']:.4f}"
    print(line)
    if "pipeline_day0_seconds" in row:
        print(
            f"pipeline day 0: {row['pipeline_day0_seconds']} s; baseline: {s['total']} s; "
            f"day 0 / baseline = {row['day0_to_baseline']}"
        )


def _quality(pairwise: dict) -> dict:
    keep = ("precision", "recall", "f1", "tp", "fp", "fn")
    return {k: pairwise[k] for k in keep if k in pairwise}


def bench_quality(
    profile: str, customers: int, out: Path, *, seed: int = 1, run_id: str | None = None
) -> dict:
    """Match quality on one generator profile: a day-0 landing of `customers`,
    the pipeline's day 0 evaluated against the truth (as `c360 evaluate`), and
    the plain Splink baseline over the same records. A tool that fails leaves
    its error in the row instead of its figures: the other's still count."""
    from c360 import pipeline
    from c360.evaluation import evaluate
    from c360.tools.bench_baseline import run_baseline
    from c360.tools.generator.config import profile_config
    from c360.tools.generator.core import generate

    if out.exists():
        shutil.rmtree(out)
    cfg = profile_config(profile, customers=customers, days=0, seed=seed)
    generate(cfg, out, progress=False)
    landing, truth = out / "landing", out / "truth"
    day0_landing = snapshot_day0(landing, out / "baseline_landing")
    warehouse = out / "pipeline.duckdb"
    row: dict = {
        "benchmark": "quality",
        "run_id": run_id or _run_id(),
        "date": dt.date.today().isoformat(),
        "profile": profile,
        "customers": customers,
        "seed": seed,
    }
    clock = time.perf_counter()
    try:
        result = pipeline.run(landing, warehouse, quiet=True)
        scores = evaluate(warehouse, truth)
        row["pipeline"] = {
            **_quality(scores["pairwise"]),
            "records": scores["records"]["scored"],
            "trained": any(day.trained is not None for day in result.days),
            "seconds": round(time.perf_counter() - clock, 1),
        }
    except Exception as exc:  # noqa: BLE001 - the figure is the failure, recorded
        row["pipeline"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    clock = time.perf_counter()
    try:
        base = run_baseline(day0_landing, out / "baseline", truth, count_comparisons=False)
        row["baseline"] = {
            **_quality(base["accuracy"]),
            "records": base["records"],
            "seconds": base["seconds"]["total"],
            "tool": base["tool"],
            **{k: base[k] for k in ("columns_without_values", "em_blocks") if k in base},
        }
    except Exception as exc:  # noqa: BLE001
        row["baseline"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    row["machine"] = machine()
    row["versions"] = versions()
    return row


def _print_quality(row: dict) -> None:
    def fmt(side: dict) -> str:
        if "error" in side:
            return f"failed ({side['error'][:120]})"
        return f"P {side['precision']:.4f} R {side['recall']:.4f} F1 {side['f1']:.4f}"

    print(
        f"| {row['profile']} | {row['customers']:,} | pipeline {fmt(row['pipeline'])} "
        f"| plain Splink {fmt(row['baseline'])} |"
    )


def bench_privacy(warehouse: Path, erasures: int = 20) -> dict:
    """Erase `erasures` customers ad hoc (one rebuild of the last run date acts on
    all of them), and export one: the time of the intake, of the purge and file
    rewrite, and the file's size before and after."""
    import resource
    import time

    from c360 import pipeline, privacy
    from c360 import warehouse as warehouse_state

    con = warehouse_state.connect_for_reading(warehouse)
    try:
        customers = [
            r[0]
            for r in con.execute(
                "select customer_id from marts.dim_customer where has_identifying_record "
                "and record_count >= 3 order by customer_id limit ?",
                [erasures + 1],
            ).fetchall()
        ]
    finally:
        con.close()
    clock = time.perf_counter()
    exported = privacy.submit("access", customer_id=customers[-1], warehouse_file=warehouse)
    privacy.intake(dt.date.today(), warehouse)
    export_seconds = time.perf_counter() - clock
    for customer in customers[:-1]:
        privacy.submit("erasure", customer_id=customer, warehouse_file=warehouse)
    size_before = warehouse.stat().st_size
    day = pipeline.rebuild(warehouse, quiet=True)
    return {
        "benchmark": "privacy_erasure",
        "customers_erased": len(customers) - 1,
        "records_erased": day.privacy.records_erased,
        "activity_rows_unlinked": day.privacy.activity_rows_unlinked,
        "state_rows_purged": day.purged.rows_deleted,
        "seconds": day.seconds,
        "access_export_seconds": round(export_seconds, 1),
        "access_export": privacy.request_status(exported, warehouse).get("status"),
        "file_mib_before_after": [
            round(size_before / 2**20, 1),
            round(warehouse.stat().st_size / 2**20, 1),
        ],
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "machine": machine(),
    }


def _print_day(day: dict) -> None:
    stages = ", ".join(f"{k} {v}" for k, v in day["seconds"].items())
    print(
        f"| {day['engine']} | {day['run_date']} | {sum(day['seconds'].values()):.0f} s ({stages}) "
        f"| {day['records_live']:,} | {day['records_added_changed_deleted']} "
        f"| {day['records_rescored']:,} | {day['comparisons_scored']:,} "
        f"| {day['ids_minted_merged_split']} | {day['peak_rss_gib']} GiB |"
    )


def _bench_after_duckdb_pipeline(args, day0_landing, days, warehouse, results, run_id) -> None:
    """The plain Splink baseline over day 0's records, then the ad hoc erasures
    on DuckDB's warehouse: both compare with DuckDB's run."""
    row = bench_baseline(
        day0_landing,
        Path(args.out).parent / "baseline",
        Path(args.out) / "truth",
        customers=args.customers,
        run_id=run_id,
        day0=days[0] if days else None,
    )
    print(json.dumps(row))
    _append(results, row)
    _print_baseline(row)
    erased = bench_privacy(warehouse)
    print(json.dumps(erased))
    _append(results, erased)


def main(argv: list[str] | None = None) -> int:
    from c360.settings import ENGINES
    from c360.tools.generator.config import PROFILES

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help=f"default {DEFAULT_CUSTOMERS:,}; with --profiles {QUALITY_CUSTOMERS:,}",
    )
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="bench_out/generate")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=ENGINES,
        default=["duckdb"],
        metavar="ENGINE",
        help="with --pipeline: the engines to run the pipeline on, each over its own "
        "copy of the same landing, in this order (default duckdb; the baseline and the "
        "erasure benchmark run with DuckDB's)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="with --pipeline: skip the plain Splink baseline and the erasure benchmark "
        "that follow DuckDB's run (e.g. when only the engines are compared)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--pipeline",
        action="store_true",
        help="also run the daily pipeline over the generated days (per-day stage times), "
        "then the plain Splink baseline over day 0",
    )
    mode.add_argument(
        "--baseline-only",
        action="store_true",
        help="only the plain Splink baseline over day 0 (of --from, else of a generated landing)",
    )
    mode.add_argument(
        "--profiles",
        nargs="+",
        choices=list(PROFILES),
        metavar="PROFILE",
        help="match quality instead of time: per generator profile "
        f"({', '.join(PROFILES)}), a day-0 landing, the pipeline's day 0 and the plain "
        "Splink baseline over it, both scored against the truth",
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="with --baseline-only: an existing `c360 generate` output (DIR/landing, "
        "DIR/truth) instead of generating one; it is left as it is",
    )
    args = parser.parse_args(argv)
    if args.source and not args.baseline_only:
        parser.error("--from goes with --baseline-only")
    if (args.engines != ["duckdb"] or args.no_baseline) and not args.pipeline:
        parser.error("--engines and --no-baseline go with --pipeline")
    results = Path("bench_out/results.jsonl")
    run_id = _run_id()
    out = Path(args.out)
    if args.profiles:
        customers = args.customers or QUALITY_CUSTOMERS
        for profile in args.profiles:
            row = bench_quality(
                profile, customers, out.parent / f"quality_{profile}", run_id=run_id
            )
            print(json.dumps(row))
            _append(results, row)
            _print_quality(row)
            if not args.keep:
                shutil.rmtree(out.parent / f"quality_{profile}", ignore_errors=True)
        return 0
    args.customers = args.customers or DEFAULT_CUSTOMERS
    if args.baseline_only and args.source:
        row = bench_baseline(
            args.source / "landing",
            out.parent / "baseline",
            args.source / "truth",
            customers=_generated_customers(args.source),
            run_id=run_id,
        )
        print(json.dumps(row))
        _append(results, row)
        _print_baseline(row)
        return 0
    result = bench_generate(args.customers, args.days, out, args.workers)
    print(json.dumps(result, indent=2))
    _append(results, result)
    print(
        f"\n| generate | {result['customers']:,} | {result['days']} | {result['seconds']} s "
        f"| {result['peak_rss_gib']} GiB | {result['landing_rows']:,} | {result['machine']} |"
    )
    if args.baseline_only:
        row = bench_baseline(
            out / "landing",
            out.parent / "baseline",
            out / "truth",
            customers=args.customers,
            run_id=run_id,
        )
        print(json.dumps(row))
        _append(results, row)
        _print_baseline(row)
    if args.pipeline:
        day0_landing = snapshot_day0(out / "landing", out.parent / "baseline_landing")
        for engine in args.engines:
            # The privacy purge rewrites landing files on change days: with
            # several engines, each runs over its own copy of the delivery.
            landing = out / "landing"
            if len(args.engines) > 1:
                landing = out.parent / f"landing_{engine}"
                shutil.rmtree(landing, ignore_errors=True)
                shutil.copytree(out / "landing", landing)
            warehouse = out.parent / (
                "pipeline.duckdb" if engine == "duckdb" else f"pipeline_{engine}"
            )
            days = []
            for day in bench_pipeline(
                landing, warehouse, customers=args.customers, run_id=run_id, engine=engine
            ):
                days.append(day)
                print(json.dumps(day))
                _append(results, day)
                _print_day(day)
            if engine == "duckdb" and not args.no_baseline:
                _bench_after_duckdb_pipeline(args, day0_landing, days, warehouse, results, run_id)
            if not args.keep:
                remove_leftover(warehouse)
                if landing != out / "landing":
                    remove_leftover(landing)
        if not args.keep:
            shutil.rmtree(day0_landing, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
