"""Seconds per stage of the daily pipeline against the number of customers,
for day 0 and for a change day, from bench_out/results.jsonl (matplotlib;
`pip install -e '.[bench]'`).

Two panels share the x axis (customers, log scale: whatever N the results
hold, 100k, 1M, 10M ...): day 0 with the plain Splink baseline's total beside
the pipeline's stages, and the mean of the change days of the same run.

    python -m c360.tools.bench_chart [--results bench_out/results.jsonl] [--out PNG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c360.tools.bench_results import (
    CHART,
    RESULTS,
    latest_by_customers,
    mean_seconds,
    read_results,
    runs,
    stages,
    total,
)


def _label(n: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10) == 0:
            value = n / size
            return f"{value:g}{suffix}"
    return f"{n:,}"


def draw(rows: list[dict], out: Path = CHART) -> Path | None:
    """Draw the chart into `out` (PNG, or SVG by its suffix); None when the
    results hold no pipeline run that recorded its number of customers."""
    try:
        import matplotlib
    except ImportError as err:
        raise SystemExit(
            "the benchmark chart needs matplotlib: pip install -c constraints.txt -e '.[bench]'"
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    latest = latest_by_customers(runs(rows))
    if not latest:
        return None
    keys = stages(list(latest.values()))
    ns = list(latest)

    fig, (day0_ax, change_ax) = plt.subplots(1, 2, figsize=(12, 5), sharex=True, sharey=True)
    panels = (
        (
            day0_ax,
            "Day 0 (full extract, trains)",
            {n: r.day0["seconds"] for n, r in latest.items()},
        ),
        (
            change_ax,
            "Change day (mean of the change days)",
            {n: mean_seconds(r.change_days, keys) for n, r in latest.items() if r.change_days},
        ),
    )
    cmap = plt.get_cmap("tab10")
    for ax, title, by_n in panels:
        for i, key in enumerate(keys):
            points = [(n, s[key]) for n, s in by_n.items() if s.get(key, 0) > 0]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, "o-", color=cmap(i % 10), label=key, linewidth=1.5, markersize=4)
        totals = [(n, total(s)) for n, s in by_n.items() if total(s) > 0]
        if totals:
            xs, ys = zip(*totals, strict=True)
            ax.plot(xs, ys, "s-", color="0.25", label="total", linewidth=2.5, markersize=5)
        if ax is day0_ax:
            baseline = [
                (n, r.baseline["seconds"]["total"])
                for n, r in latest.items()
                if r.baseline and r.baseline["seconds"].get("total", 0) > 0
            ]
            if baseline:
                xs, ys = zip(*baseline, strict=True)
                ax.plot(
                    xs, ys, "D--", color="black", label="baseline total (plain Splink)", linewidth=2
                )
        if not by_n:
            ax.text(0.5, 0.5, "no change day measured", ha="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("customers")
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    for ax in (day0_ax, change_ax):
        ax.xaxis.set_minor_locator(NullLocator())
    day0_ax.set_xticks(ns, [_label(n) for n in ns])
    if len(ns) == 1:
        day0_ax.set_xlim(ns[0] / 2, ns[0] * 2)
    first = next(iter(latest.values()))
    fig.suptitle(
        f"c360 daily pipeline, seconds per stage ({first.machine or 'machine not recorded'})",
        fontsize=10,
    )
    fig.text(0.99, 0.01, "log scales; a stage of 0 s is not drawn", ha="right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=CHART)
    args = parser.parse_args(argv)
    out = draw(read_results(args.results), args.out)
    print(f"wrote {out}" if out else f"no pipeline run with its customers in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
