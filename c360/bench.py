"""`make bench`: time and peak memory of the generator at scale.

The generator runs as a child process (exactly `c360 generate`); its peak
memory is the largest sum of resident memory over it and its workers,
sampled from /proc, because the per-process maximum that `time -v` reports
misses the workers running side by side.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="bench_out/generate")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
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
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
