"""`make bench`: time and peak memory of the generator and of the daily
pipeline at scale.

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
import time
from pathlib import Path


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


def bench_pipeline(landing: Path, warehouse: Path) -> list[dict]:
    """`c360 run` over every landing date, one day at a time: per day, the wall
    time of each stage, what changed, what was scored, and the process's peak
    memory so far (dbt, DuckDB and Splink all run in it)."""
    import resource

    from c360 import pipeline

    if warehouse.exists():
        warehouse.unlink()
    result = pipeline.run(landing, warehouse, quiet=True)
    rows = []
    for day in result.days:
        m = day.metrics
        rows.append(
            {
                "benchmark": "pipeline_day",
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
                "peak_rss_gib": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2
                ),
                "machine": machine(),
            }
        )
    return rows


def bench_privacy(warehouse: Path, erasures: int = 20) -> dict:
    """Erase `erasures` customers ad hoc (one rebuild of the last run date acts on
    all of them), and export one: the time of the intake, of the purge and file
    rewrite, and the file's size before and after."""
    import resource
    import time

    import duckdb

    from c360 import pipeline, privacy

    # Not read-only: the in-process dbt run of the pipeline may still hold the file.
    con = duckdb.connect(str(warehouse))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="bench_out/generate")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="also run the daily pipeline over the generated days (per-day stage times)",
    )
    args = parser.parse_args(argv)
    result = bench_generate(args.customers, args.days, Path(args.out), args.workers)
    print(json.dumps(result, indent=2))
    results = Path("bench_out/results.jsonl")
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(
        f"\n| generate | {result['customers']:,} | {result['days']} | {result['seconds']} s "
        f"| {result['peak_rss_gib']} GiB | {result['landing_rows']:,} | {result['machine']} |"
    )
    if args.pipeline:
        warehouse = Path(args.out).parent / "pipeline.duckdb"
        for day in bench_pipeline(Path(args.out) / "landing", warehouse):
            print(json.dumps(day))
            with results.open("a") as fh:
                fh.write(json.dumps(day) + "\n")
            stages = ", ".join(f"{k} {v}" for k, v in day["seconds"].items())
            print(
                f"| {day['run_date']} | {sum(day['seconds'].values()):.0f} s ({stages}) "
                f"| {day['records_live']:,} | {day['records_added_changed_deleted']} "
                f"| {day['records_rescored']:,} | {day['comparisons_scored']:,} "
                f"| {day['ids_minted_merged_split']} | {day['peak_rss_gib']} GiB |"
            )
        erased = bench_privacy(warehouse)
        print(json.dumps(erased))
        with results.open("a") as fh:
            fh.write(json.dumps(erased) + "\n")
        if not args.keep:
            warehouse.unlink(missing_ok=True)
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
