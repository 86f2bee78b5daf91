"""The Spark sizing for the target deployment (docs/spark.md, "Sizing for
700M records"), computed from what `make bench` measured on one machine.

    python -m c360.tools.sizing [--records 700000000 --changes 3850000 ...]

rewrites the section between `<!-- sizing:start -->` and `<!-- sizing:end -->`
of docs/spark.md from bench_out/results.jsonl:

- the blocking counts (`python -m c360.tools.bench_blocking`) at the two
  largest numbers of customers give each rule's growth exponent
  (pairs ~ records^b), and so its pairs and largest block at the target;
- the two largest Spark runs on the same landing as DuckDB (`bench --pipeline
  --engines duckdb spark`) give, per stage, a fixed cost (per statement, on
  the driver) and a cost per record (per comparison when scoring), which a
  cluster divides among its cores;
- the cluster's cores, memory and price turn that into wall times and a cost.

Every figure is labelled measured, derived (fitted to measurements) or
extrapolated (a derived figure carried to the target), and the assumptions are
named where they are used.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from c360.tools.bench_report import replace_section
from c360.tools.bench_results import RESULTS, Run, read_results, runs, total

DOC = Path("docs/spark.md")
START = "<!-- sizing:start -->"
END = "<!-- sizing:end -->"
# Alibaba Cloud EMR Serverless Spark, US (Virginia), pay-as-you-go, one CU = 1
# vCPU + 4 GiB (https://www.alibabacloud.com/help/en/emr/emr-serverless-spark/
# product-overview/compute-resources-pay-as-you-go, updated 2026-03-18).
PRICE_PER_CU_HOUR = 0.053801
PRICE_SOURCE = (
    "Alibaba Cloud EMR Serverless Spark, US (Virginia), pay-as-you-go list price "
    "(page updated 2026-03-18); 1 CU = 1 vCPU + 4 GiB, billed as max(vCPU, GiB / 4)"
)


@dataclass(frozen=True)
class Target:
    records: int = 700_000_000
    changes: int = 3_850_000
    executors: int = 32
    cores_per_executor: int = 8
    memory_gib_per_executor: int = 64
    # The share of a cluster's cores a stage keeps busy, against local[2]'s:
    # shuffles cross the network and the slowest task sets the pace.
    efficiency: float = 0.5
    price_per_cu_hour: float = PRICE_PER_CU_HOUR

    @property
    def cores(self) -> int:
        return self.executors * self.cores_per_executor

    @property
    def compute_units(self) -> float:
        per_executor = max(self.cores_per_executor, self.memory_gib_per_executor / 4)
        return self.executors * per_executor


def exponent(x1: float, y1: float, x2: float, y2: float) -> float:
    """b in y ~ x^b through two measured points."""
    if min(x1, y1, x2, y2) <= 0 or x1 == x2:
        raise ValueError("two distinct positive points are needed")
    return math.log(y2 / y1) / math.log(x2 / x1)


def carry(x: float, y: float, b: float, to: float) -> float:
    """y at `to`, from y at x and growth exponent b."""
    return y * (to / x) ** b


@dataclass(frozen=True)
class Line:
    """seconds = fixed + per_unit * units: a stage's cost on the machine it was
    measured on, fitted through two runs."""

    fixed: float
    per_unit: float

    @classmethod
    def through(cls, units1: float, seconds1: float, units2: float, seconds2: float) -> Line:
        if units1 == units2:
            return cls(min(seconds1, seconds2), 0.0)
        slope = max((seconds2 - seconds1) / (units2 - units1), 0.0)
        return cls(max(seconds1 - slope * units1, 0.0), slope)

    def on_cluster(self, units: float, measured_cores: int, target: Target) -> float:
        """Wall seconds at `units` on the target: the fixed part stays (the
        driver plans and commits each statement), the rest is core-seconds
        shared by the cluster's cores at its efficiency."""
        core_seconds = self.per_unit * units * measured_cores
        return self.fixed + core_seconds / (target.cores * target.efficiency)


def blocking_rows(rows: list[dict]) -> list[dict]:
    """The latest `blocking` row of each number of customers, smallest first."""
    latest: dict[int, dict] = {}
    for row in rows:
        if row.get("benchmark") == "blocking" and row.get("customers"):
            latest[row["customers"]] = row
    return [latest[n] for n in sorted(latest)]


def spark_runs(rows: list[dict]) -> list[Run]:
    """The latest Spark run of each number of customers that has a change day,
    smallest first."""
    latest: dict[int, Run] = {}
    for run in runs(rows):
        if run.engine == "spark" and run.customers and len(run.days) > 1:
            latest[run.customers] = run
    return [latest[n] for n in sorted(latest)]


def rule_growth(small: dict, large: dict, to_records: int) -> list[dict]:
    """Per blocking rule: measured pairs and largest block at both sizes, the
    growth exponents, and both carried to `to_records`."""
    out = []
    by_index = {r["index"]: r for r in small["rules"]}
    for rule in large["rules"]:
        before = by_index.get(rule["index"])
        if before is None or not before["pairs"] or not rule["pairs"]:
            continue
        b = exponent(small["records"], before["pairs"], large["records"], rule["pairs"])
        block_b = exponent(
            small["records"], before["largest_block"], large["records"], rule["largest_block"]
        )
        out.append(
            {
                "rule": rule["rule"],
                "pairs": (before["pairs"], rule["pairs"]),
                "exponent": b,
                "pairs_at_target": carry(large["records"], rule["pairs"], b, to_records),
                "largest_block": (before["largest_block"], rule["largest_block"]),
                "block_exponent": block_b,
                "largest_block_at_target": carry(
                    large["records"], rule["largest_block"], block_b, to_records
                ),
            }
        )
    return out


@dataclass(frozen=True)
class StageFit:
    stage: str
    day0: Line
    change_day: Line
    # What a stage's cost follows: records, or comparisons when scoring.
    unit: str


def stage_fits(small: Run, large: Run) -> list[StageFit]:
    fits = []
    stages = [s for s in large.day0["seconds"] if s in small.day0["seconds"]]
    for stage in stages:
        unit = "comparisons" if stage == "score" else "records"

        def units(day: dict, unit: str = unit) -> float:
            return day["comparisons_scored"] if unit == "comparisons" else day["records_live"]

        lines = []
        for index in (0, 1):
            a, b = small.days[index], large.days[index]
            lines.append(
                Line.through(
                    units(a), a["seconds"].get(stage, 0.0), units(b), b["seconds"].get(stage, 0.0)
                )
            )
        fits.append(StageFit(stage, lines[0], lines[1], unit))
    return fits


def _n(value: float) -> str:
    if value >= 1e9:
        return f"{value / 1e9:,.1f} billion"
    if value >= 1e6:
        return f"{value / 1e6:,.1f} million"
    return f"{value:,.0f}"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _shuffle_lines(run: Run, target: Target) -> list[str]:
    """Shuffle partitions from the warehouse's size: about 128 MiB a partition."""
    measured = run.day0.get("warehouse_gib")
    if not measured:
        return []
    gib = measured * target.records / run.day0["records_live"]
    partitions = max(int(gib * 1024 / 128), target.cores * 2)
    memory = target.memory_gib_per_executor * target.executors
    return [
        f"- The Spark warehouse held {measured} GiB after day 0 at {run.customers:,} "
        f"customers (measured), so about {gib:,.0f} GiB at the target (extrapolated, "
        f"linear in records): `spark.sql.shuffle.partitions` ≈ {partitions:,} "
        f"(128 MiB each; adaptive execution coalesces smaller ones), and the cluster's "
        f"{memory:,} GiB of executor memory holds {memory / gib:.1f}× the warehouse.",
    ]


def section(rows: list[dict], target: Target) -> str:
    lines = [
        START,
        "<!-- Written by `python -m c360.tools.sizing` from bench_out/results.jsonl; "
        "edits between the markers are overwritten. -->",
    ]
    blocks = blocking_rows(rows)
    sparks = spark_runs(rows)
    if len(blocks) < 2 or len(sparks) < 2:
        lines += [
            "",
            "Not computed yet: it needs blocking counts at two sizes "
            f"(found {len(blocks)}) and Spark runs with a change day at two sizes "
            f"(found {len(sparks)}) in bench_out/results.jsonl.",
            END,
        ]
        return "\n".join(lines)
    small_b, large_b = blocks[-2], blocks[-1]
    growth = rule_growth(small_b, large_b, target.records)
    pairs_b = exponent(
        small_b["records"], small_b["distinct_pairs"], large_b["records"], large_b["distinct_pairs"]
    )
    pairs_at_target = carry(large_b["records"], large_b["distinct_pairs"], pairs_b, target.records)
    lines += [
        "",
        "#### Comparisons",
        "",
        f"Measured: day 0 of the generator's default profile at {small_b['customers']:,} and "
        f"{large_b['customers']:,} customers ({small_b['records']:,} and "
        f"{large_b['records']:,} identity records), `python -m c360.tools.bench_blocking`. "
        f"Together the rules generate {small_b['distinct_pairs']:,} and "
        f"{large_b['distinct_pairs']:,} distinct pairs: they grow as records^{pairs_b:.2f} "
        f"(derived), so **{_n(pairs_at_target)} pairs at {_n(target.records)} records** "
        f"(extrapolated; {pairs_at_target / target.records:.1f} a record against "
        f"{large_b['distinct_pairs'] / large_b['records']:.2f} measured).",
        "",
        "| rule | pairs (measured) | exponent | pairs at target | largest block (measured) "
        "| largest block at target |",
        "|---|---|---|---|---|---|",
    ]
    for g in sorted(growth, key=lambda g: -g["pairs_at_target"]):
        lines.append(
            f"| `{g['rule']}` | {g['pairs'][0]:,} → {g['pairs'][1]:,} | {g['exponent']:.2f} "
            f"| {_n(g['pairs_at_target'])} | {g['largest_block'][0]:,} → "
            f"{g['largest_block'][1]:,} | {_n(g['largest_block_at_target'])} |"
        )
    worst = max(growth, key=lambda g: g["largest_block_at_target"])
    worst_pairs = worst["largest_block_at_target"] ** 2 / 2
    small_s, large_s = sparks[-2], sparks[-1]
    measured_cores = 2
    fits = stage_fits(small_s, large_s)
    change_ratio = target.changes / target.records
    large_change = large_s.days[1]
    measured_change_ratio = sum(large_change["records_added_changed_deleted"]) / max(
        large_change["records_live"], 1
    )
    rescored_share = large_change["records_rescored"] / max(large_change["records_live"], 1)
    change_comparisons = (
        rescored_share * (change_ratio / measured_change_ratio) * target.records
    ) * (2 * pairs_at_target / target.records)
    lines += [
        "",
        "#### Time on a cluster",
        "",
        f"Measured: Spark `local[2]` runs at {small_s.customers:,} and "
        f"{large_s.customers:,} customers (`make bench`, tables above). Derived: per stage, "
        "a line through the two runs, seconds = fixed + per unit × units, where the unit is "
        "a record (a comparison when scoring); the fixed part is the driver's per-statement "
        "cost and stays on a cluster, the rest is core-seconds the cluster shares. "
        f"Extrapolated to {_n(target.records)} records on {target.executors} executors × "
        f"{target.cores_per_executor} cores ({target.cores} cores), assuming "
        f"{target.efficiency:.0%} of local[2]'s per-core speed (network shuffles, "
        "stragglers). A change day carries the measured change day the same way: the "
        f"generator changes {measured_change_ratio:.2%} of the records a day, the target "
        f"{change_ratio:.2%}; {_n(change_comparisons)} comparisons re-scored "
        "(extrapolated: the measured share of records re-scored × the pairs a record has "
        "at the target).",
        "",
        "| stage | unit | day 0: fixed s + µs a unit (derived) | day 0 at target "
        "| change day: fixed s + µs a unit (derived) | change day at target |",
        "|---|---|---|---|---|---|",
    ]
    day0_total = change_total = 0.0
    for fit in fits:
        day0_units = pairs_at_target if fit.unit == "comparisons" else target.records
        change_units = change_comparisons if fit.unit == "comparisons" else target.records
        day0 = fit.day0.on_cluster(day0_units, measured_cores, target)
        change = fit.change_day.on_cluster(change_units, measured_cores, target)
        day0_total += day0
        change_total += change
        lines.append(
            f"| {fit.stage} | {fit.unit} | {fit.day0.fixed:.0f} + "
            f"{fit.day0.per_unit * 1e6:.2f} | {_duration(day0)} | {fit.change_day.fixed:.0f} + "
            f"{fit.change_day.per_unit * 1e6:.2f} | {_duration(change)} |"
        )
    lines.append(
        f"| **total** | | {total(large_s.day0['seconds']):.0f} s measured at "
        f"{large_s.customers:,} | **{_duration(day0_total)}** | "
        f"{total(large_change['seconds']):.0f} s measured | **{_duration(change_total)}** |"
    )
    cost_day0 = target.compute_units * day0_total / 3600 * target.price_per_cu_hour
    cost_change = target.compute_units * change_total / 3600 * target.price_per_cu_hour
    lines += [
        "",
        "#### Skew, shuffle partitions, memory",
        "",
        f"- The largest block at the target is `{worst['rule']}`'s: "
        f"{worst['largest_block'][1]:,} records at {large_b['customers']:,} customers "
        f"(measured), {_n(worst['largest_block_at_target'])} at the target "
        f"(extrapolated, exponent {worst['block_exponent']:.2f}), about "
        f"{_n(worst_pairs)} pairs in one join key: one task would hold them all.",
        *_shuffle_lines(large_s, target),
        "",
        "#### Cost",
        "",
        f"{target.executors} executors × ({target.cores_per_executor} vCPU, "
        f"{target.memory_gib_per_executor} GiB) = {target.compute_units:,.0f} CU at "
        f"${target.price_per_cu_hour:.6f} a CU-hour ({PRICE_SOURCE}): day 0 about "
        f"**${cost_day0:,.0f}** once, a change day about **${cost_change:,.0f}**, "
        f"**${cost_change * 30:,.0f} a month** of daily runs (extrapolated; storage, "
        "the driver and data transfer not included).",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = Target()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    for name in (
        "records",
        "changes",
        "executors",
        "cores_per_executor",
        "memory_gib_per_executor",
    ):
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, default=getattr(defaults, name)
        )
    parser.add_argument("--efficiency", type=float, default=defaults.efficiency)
    parser.add_argument("--price-per-cu-hour", type=float, default=defaults.price_per_cu_hour)
    args = parser.parse_args(argv)
    target = Target(
        **{k: v for k, v in vars(args).items() if k not in ("results", "doc")},
    )
    text = section(read_results(args.results), target)
    doc = args.doc
    doc.write_text(
        replace_section(doc.read_text(), text, start=START, end=END)
        if doc.exists()
        else text + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
