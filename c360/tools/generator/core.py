"""`c360 generate`: chunks of people simulated in parallel, written per the contract.

Output:
    <out>/landing/<table>/dt=YYYY-MM-DD/part-<chunk>.parquet
    <out>/truth/person_links.parquet   (contract) and the scoring tables
    <out>/truth/generator.json         (the knobs used, and row counts)
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import shutil
import threading
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from c360.contract import TABLES
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.pools import Pools, build_pools
from c360.tools.generator.simulate import ChunkRun, check_capacity

TRUTH_TABLES = ("person_links", "persons", "hard_negatives", "life_events", "record_noise")
_POOLS: Pools | None = None  # built once in the parent, inherited by forked workers


def plan_chunks(customers: int, chunk_size: int) -> list[int]:
    n = max(1, math.ceil(customers / chunk_size))
    base, extra = divmod(customers, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def _run_chunk(args: tuple[GeneratorConfig, int, int, int, str]) -> dict[str, int]:
    cfg, chunk, n_chunks, n_people, out = args
    out_dir = Path(out)
    buffers: dict[tuple[str, int], list[pa.Table]] = {}

    def emit(table: str, day: int, rows: pa.Table) -> None:
        if rows.num_rows:
            buffers.setdefault((table, day), []).append(rows)

    assert _POOLS is not None
    truth = ChunkRun(cfg, _POOLS, chunk, n_chunks, n_people).run(emit)
    counts: Counter[str] = Counter()
    for (table, day), parts in sorted(buffers.items()):
        rows = pa.concat_tables(parts)
        # Key order, not person order: row position must not hint at identity.
        rows = rows.take(pc.sort_indices(rows, [(TABLES[table].key, "ascending")]))
        target = out_dir / "landing" / table / f"dt={cfg.day_date(day).isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, target / f"part-{chunk:05d}.parquet", compression="zstd")
        counts[f"{table}@{day}"] += rows.num_rows
    for name, table in truth.items():
        target = out_dir / "truth" / "_parts" / name
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / f"part-{chunk:05d}.parquet", compression="zstd")
    return dict(counts)


def _merge_truth(truth_dir: Path) -> None:
    """Concatenate per-chunk truth parts into one file each, streaming."""
    parts_root = truth_dir / "_parts"
    for name in TRUTH_TABLES:
        parts = (
            sorted((parts_root / name).glob("part-*.parquet"))
            if (parts_root / name).exists()
            else []
        )
        if not parts:
            continue
        schema = pq.read_schema(parts[0])
        with pq.ParquetWriter(truth_dir / f"{name}.parquet", schema, compression="zstd") as writer:
            for part in parts:
                writer.write_table(pq.read_table(part).cast(schema))
    shutil.rmtree(parts_root, ignore_errors=True)


def generate(cfg: GeneratorConfig, out: str | Path, progress: bool | None = None) -> dict:
    """Write the landing zone and truth for `cfg` under `out`; return a summary."""
    global _POOLS
    out_dir = Path(out)
    for sub in ("landing", "truth"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    sizes = plan_chunks(cfg.customers, cfg.chunk_size)
    check_capacity(len(sizes))
    _POOLS = build_pools(
        cfg.seed,
        cfg.population.n_cities,
        cfg.population.n_tail_surnames,
        international=cfg.population.international_share > 0,
    )
    jobs = [(cfg, i, len(sizes), n, str(out_dir)) for i, n in enumerate(sizes)]
    show = progress if progress is not None else len(sizes) > 1
    counts: Counter[str] = Counter()
    bar = tqdm(total=cfg.customers, unit="people", desc="generate", disable=not show)
    try:
        # Workers are forked (they inherit the pools), and a fork of a process
        # running other threads can deadlock on a lock one of them held (a
        # Spark session's JVM gateway, a Dagster or test runner's threads):
        # from such a process the chunks run here, one after another. The
        # output does not depend on it.
        if cfg.workers > 1 and len(jobs) > 1 and threading.active_count() == 1:
            with mp.get_context("fork").Pool(
                min(cfg.workers, len(jobs)), maxtasksperchild=4
            ) as pool:
                for job, result in zip(jobs, pool.imap(_run_chunk, jobs), strict=True):
                    counts.update(result)
                    bar.update(job[3])
        else:
            for job in jobs:
                counts.update(_run_chunk(job))
                bar.update(job[3])
    finally:
        bar.close()
    _merge_truth(out_dir / "truth")
    by_table: Counter[str] = Counter()
    for key, n in counts.items():
        by_table[key.split("@")[0]] += n
    summary = {
        "config": json.loads(cfg.to_json()),
        "chunks": len(sizes),
        "rows_by_table": dict(sorted(by_table.items())),
        "rows_by_table_day": dict(sorted(counts.items())),
    }
    (out_dir / "truth" / "generator.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return summary
