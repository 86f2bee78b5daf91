"""The pipeline's figures in docs/benchmarks.md, regenerated from
bench_out/results.jsonl by `make bench`.

`python -m c360.tools.bench_report` rewrites what lies between the markers
`<!-- bench:pipeline:start -->` and `<!-- bench:pipeline:end -->` (the rest
of the file is left as it is) and draws docs/benchmarks_stages.png
(c360.tools.bench_chart). For each number of customers it shows the latest run:
seconds per stage of day 0 and of each change day, the change day against
day 0, and the plain Splink baseline (c360.tools.bench_baseline) against day 0;
and, per generator profile, the match quality of the pipeline and of the
baseline (rows of `python -m c360.tools.bench --profiles`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from c360.tools.bench_chart import draw
from c360.tools.bench_results import (
    CHART,
    ENGINE_LABELS,
    RESULTS,
    VERSION_LABELS,
    Run,
    latest_by_customers,
    latest_engine_comparisons,
    read_results,
    runs,
    stages,
    total,
)

START = "<!-- bench:pipeline:start -->"
END = "<!-- bench:pipeline:end -->"
DOC = Path("docs/benchmarks.md")


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _versions_line(versions: dict | None) -> str:
    versions = versions or {}
    return ", ".join(
        f"{label} {versions[key]}" for key, label in VERSION_LABELS.items() if key in versions
    )


def run_table(run: Run, keys: list[str]) -> list[str]:
    """One table: a row per day, the baseline in the day-0 row."""
    header = ["run date", "day", *keys, "total", "vs day 0", "baseline", "day 0 / baseline"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    day0_total = total(run.day0["seconds"])
    baseline = run.baseline["seconds"]["total"] if run.baseline else None
    for index, day in enumerate(run.days):
        day_total = total(day["seconds"])
        kind = "day 0" + (" (trains)" if day.get("trained") else "") if index == 0 else "change day"
        ratio = day_total / day0_total if day0_total else None
        cells = [
            day["run_date"],
            kind,
            *(_fmt(day["seconds"].get(k)) for k in keys),
            f"**{_fmt(day_total)}**",
            _fmt(ratio, 2),
            _fmt(baseline) if index == 0 else "",
            _fmt(day0_total / baseline, 2) + "×" if index == 0 and baseline else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def baseline_line(run: Run) -> str:
    b = run.baseline
    if b is None:
        return "No baseline was measured with this run."
    s = b["seconds"]
    where = ", in the same process after the pipeline" if "pipeline_day0_seconds" in b else ""
    line = (
        f"Baseline: plain Splink {b.get('tool', 'splink').split()[-1]} on DuckDB "
        "(`c360/tools/bench_baseline.py`) over the same day-0 records "
        f"({b['records']:,}){where}: "
        f"load {_fmt(s.get('load'))} s, train {_fmt(s.get('train'))} s, "
        f"predict {_fmt(s.get('predict'))} s, cluster {_fmt(s.get('cluster'))} s"
    )
    if b.get("comparisons") is not None:
        line += f"; {b['comparisons']:,} comparisons"
    line += f", {b['pairs']:,} pairs at ≥ {b.get('threshold', 0.9)}"
    accuracy = b.get("accuracy")
    if accuracy:
        line += (
            f"; pairwise precision {accuracy['precision']:.4f}, "
            f"recall {accuracy['recall']:.4f} (clusters against the truth)"
        )
    return line + "."


def _label(engine: str) -> str:
    return ENGINE_LABELS.get(engine, engine)


def engine_table(engines: dict[str, Run], keys: list[str]) -> list[str]:
    """A row per stage (then the total): each engine's seconds on day 0 and
    on the first change day, and each other engine's time over the first's."""
    names = list(engines)
    first = names[0]
    header = ["stage"]
    for kind in ("day 0", "change day"):
        header += [f"{_label(e)} {kind}" for e in names]
        header += [f"{_label(e)} / {_label(first)}" for e in names[1:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def cells(seconds_of) -> list[str]:
        out = []
        for index in (0, 1):
            days = {e: r.days[index] if len(r.days) > index else None for e, r in engines.items()}
            values = {e: (seconds_of(d) if d else None) for e, d in days.items()}
            out += [_fmt(values[e]) for e in names]
            out += [
                _fmt(values[e] / values[first], 1) + "×" if values[e] and values[first] else "—"
                for e in names[1:]
            ]
        return out

    for key in keys:
        lines.append("| " + " | ".join([key, *cells(lambda d, k=key: d["seconds"].get(k))]) + " |")
    lines.append("| " + " | ".join(["**total**", *cells(lambda d: total(d["seconds"]))]) + " |")
    return lines


def engine_change_day_lines(engines: dict[str, Run]) -> list[str]:
    """What each engine's change day touched, against its day 0 (the
    change-only path must carry over to every engine)."""
    lines = []
    for engine, run in engines.items():
        if not run.change_days:
            continue
        day0, day = run.day0, run.change_days[0]
        added, changed, deleted = day["records_added_changed_deleted"]
        ratio = total(day["seconds"]) / total(day0["seconds"]) if total(day0["seconds"]) else 0
        settings = day.get("engine_settings") or {}
        lines.append(
            f"- {_label(engine)}: the change day took {_fmt(total(day['seconds']))} s, "
            f"{ratio:.2f} of day 0's {_fmt(total(day0['seconds']))} s; "
            f"{added:,} records added, {changed:,} changed, {deleted:,} deleted of "
            f"{day['records_live']:,} live; {day['records_rescored']:,} re-scored "
            f"({day['comparisons_scored']:,} comparisons, day 0: "
            f"{day0['comparisons_scored']:,}); untouched customers whose id changed: "
            f"{day.get('untouched_ids_changed')}; peak memory (day 0 / change day) "
            f"{day0.get('peak_rss_gib')} / {day.get('peak_rss_gib')} GiB (process and children)"
            + (" with " + ", ".join(f"{k} {v}" for k, v in settings.items()) if settings else "")
            + "."
        )
    return lines


def engines_section(all_runs: list[Run]) -> list[str]:
    comparisons = latest_engine_comparisons(all_runs)
    if not comparisons:
        return []
    lines = [
        "",
        "#### The engines on the same landing",
        "",
        "Each engine ran the pipeline over its own copy of the same generated landing, "
        "in one `python -m c360.tools.bench --pipeline --engines …` run, one after "
        "the other on the same machine. Seconds per stage; the ratio is the engine's "
        "time over the first engine's.",
    ]
    for customers, engines in comparisons.items():
        keys = stages(list(engines.values()))
        first = next(iter(engines.values()))
        lines += [
            "",
            f"##### {customers:,} customers",
            "",
            f"Measured {first.day0.get('date') or first.run_id[:10]} on "
            f"{first.machine or 'a machine not recorded'}"
            + (f"; {_versions_line(first.versions)}" if first.versions else "")
            + ".",
            "",
            *engine_table(engines, keys),
            "",
            *engine_change_day_lines(engines),
        ]
    return lines


def latest_quality(rows: list[dict]) -> list[dict]:
    """The last `quality` row of each (profile, customers), profiles in the
    generator's order, then by customers."""
    from c360.tools.generator.config import PROFILES

    latest: dict[tuple[str, int], dict] = {}
    for row in rows:
        if row.get("benchmark") == "quality" and row.get("profile"):
            latest[(row["profile"], row.get("customers") or 0)] = row
    order = {name: i for i, name in enumerate(PROFILES)}
    return [
        latest[k] for k in sorted(latest, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    ]


def _side(side: dict | None) -> list[str]:
    if not side or "error" in side:
        return ["failed", "", ""]
    return [f"{side[k]:.4f}" for k in ("precision", "recall", "f1")]


def quality_table(rows: list[dict]) -> list[str]:
    """Match quality by profile: the pipeline's day 0 and the plain Splink
    baseline over the same records, pairwise against the truth."""
    quality = latest_quality(rows)
    if not quality:
        return []
    header = [
        "profile",
        "customers",
        "records",
        "pipeline P",
        "pipeline R",
        "pipeline F1",
        "Splink P",
        "Splink R",
        "Splink F1",
        "measured",
    ]
    lines = [
        "",
        "#### Match quality by profile: pipeline vs plain Splink",
        "",
        "Pairwise precision (P), recall (R) and F1 against the generator's truth, over "
        "every identity record of a day-0 landing of each generator profile "
        "(docs/generator.md): the pipeline's day 0 (`c360 run`, then `c360 evaluate`) "
        "and the plain Splink baseline over the same records, which drops the "
        "comparisons of columns the profile leaves empty. Written by "
        "`python -m c360.tools.bench --profiles ...`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    notes = []
    for row in quality:
        pipeline, baseline = row.get("pipeline") or {}, row.get("baseline") or {}
        records = pipeline.get("records") or baseline.get("records")
        cells = [
            f"`{row['profile']}`",
            f"{row['customers']:,}" if row.get("customers") else "—",
            f"{records:,}" if records else "—",
            *_side(pipeline),
            *_side(baseline),
            row.get("date") or (row.get("run_id") or "")[:10] or "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        for tool, side in (("pipeline", pipeline), ("plain Splink", baseline)):
            if "error" in side:
                notes.append(f"`{row['profile']}`: the {tool} failed: {side['error']}")
        if baseline.get("columns_without_values"):
            notes.append(
                f"`{row['profile']}`: no values for "
                + ", ".join(baseline["columns_without_values"])
                + "; the baseline's EM sessions blocked on "
                + " and ".join(baseline.get("em_blocks", []))
                + "."
            )
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return lines


def section(
    rows: list[dict], *, chart: str | None = CHART.name, today: dt.date | None = None
) -> str:
    """The markdown between the markers (markers included)."""
    from c360.tools.bench import machine, versions

    all_runs = runs(rows)
    latest = latest_by_customers(all_runs)
    today = today or dt.date.today()
    lines = [
        START,
        "<!-- Written by `make bench` (python -m c360.tools.bench_report) from "
        "bench_out/results.jsonl; edits between the markers are overwritten. -->",
        "",
        "### Measured by `make bench`",
        "",
        f"Regenerated {today.isoformat()} on {machine()}; {_versions_line(versions())}.",
    ]
    if not latest:
        lines += ["", "No pipeline run in bench_out/results.jsonl yet.", *quality_table(rows), END]
        return "\n".join(lines)
    lines += [
        "",
        "Seconds per stage, wall clock, for the latest run of each number of customers. "
        '"vs day 0" is a day\'s total over day 0\'s; "day 0 / baseline" is how many '
        "times longer the pipeline's day 0 took than the plain Splink baseline over the "
        "same records (the pipeline also stages, tokenizes, builds golden records, "
        "marts and history).",
    ]
    if chart:
        lines += ["", f"![Seconds per stage against customers, day 0 and change day]({chart})"]
    keys = stages(list(latest.values()))
    for customers, run in latest.items():
        run_keys = [k for k in keys if any(k in d["seconds"] for d in run.days)]
        measured = run.day0.get("date") or (run.run_id or "")[:10] or "date not recorded"
        lines += [
            "",
            f"#### {customers:,} customers",
            "",
            f"Measured {measured} on {run.machine or 'a machine not recorded'}"
            + (f"; {_versions_line(run.versions)}" if run.versions else "")
            + ".",
            "",
            *run_table(run, run_keys),
            "",
            baseline_line(run),
        ]
    lines += engines_section(all_runs)
    lines += quality_table(rows)
    lines.append(END)
    return "\n".join(lines)


def replace_section(text: str, new_section: str, *, start: str = START, end: str = END) -> str:
    """The document with the section between the markers replaced; without
    markers, the section goes at the end of the document."""
    first, last = text.find(start), text.find(end)
    if first != -1 and last > first:
        return text[:first] + new_section + text[last + len(end) :]
    return text.rstrip("\n") + "\n\n" + new_section + "\n"


def write_report(
    results: Path = RESULTS, doc: Path = DOC, chart: Path | None = CHART
) -> tuple[Path, Path | None]:
    rows = read_results(results)
    chart_file = None
    if chart is not None:
        chart_file = draw(rows, chart)
    link = os.path.relpath(chart_file, doc.parent) if chart_file else None
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    doc.write_text(replace_section(text, section(rows, chart=link)))
    return doc, chart_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--chart", type=Path, default=CHART)
    parser.add_argument("--no-chart", action="store_true", help="the tables only")
    args = parser.parse_args(argv)
    doc, chart = write_report(args.results, args.doc, None if args.no_chart else args.chart)
    print(f"wrote {doc}" + (f" and {chart}" if chart else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
