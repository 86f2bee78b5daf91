"""`make bench`'s report: the markdown section and the chart from a hand-made
results file, and the plain Splink baseline once on a tiny landing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c360.tools import bench_report
from c360.tools.bench_report import END, START, replace_section, runs, section

MACHINE = "2 cores (test cpu), 8 GiB RAM, Linux"
VERSIONS = {"python": "3.11.7", "duckdb": "2.0.1", "splink": "5.0.0"}


def _day(customers, index, run_date, seconds, *, run_id="r1", trained=None, **extra):
    return {
        "benchmark": "pipeline_day",
        "run_id": run_id,
        "date": "2026-11-29",
        "customers": customers,
        "day_index": index,
        "run_date": run_date,
        "seconds": seconds,
        "trained": index == 0 if trained is None else trained,
        "machine": MACHINE,
        "versions": VERSIONS,
        **extra,
    }


def _baseline(customers, total, *, run_id="r1"):
    return {
        "benchmark": "baseline",
        "run_id": run_id,
        "customers": customers,
        "tool": "splink 5.0.0",
        "threshold": 0.9,
        "seconds": {
            "load": 1.0,
            "train": 2.0,
            "predict": 3.0,
            "cluster": total - 6.0,
            "total": total,
        },
        "records": 1234,
        "comparisons": 5678,
        "pairs": 910,
        "accuracy": {"precision": 0.95, "recall": 0.6},
    }


def _rows() -> list[dict]:
    return [
        {"benchmark": "generate", "customers": 100_000, "seconds": 9.0},
        # An old run of the same N, superseded by the one below.
        _day(100_000, 0, "2025-01-01", {"load": 9.0, "score": 9.0}, run_id="r0"),
        _day(100_000, 0, "2025-01-01", {"load": 5.0, "build_before": 20.0, "score": 15.0}),
        _day(100_000, 1, "2025-01-02", {"load": 1.0, "build_before": 10.0, "score": 1.0}),
        _day(100_000, 2, "2025-01-03", {"load": 1.0, "build_before": 8.0, "score": 1.0}),
        _baseline(100_000, 10.0),
        _day(1_000_000, 0, "2025-01-01", {"load": 50.0, "score": 150.0}, run_id="r2"),
        _day(1_000_000, 1, "2025-01-02", {"load": 2.0, "score": 48.0}, run_id="r2"),
        _baseline(1_000_000, 80.0, run_id="r2"),
        {"benchmark": "privacy_erasure", "seconds": {"purge": 3.0}},
    ]


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _table_row(text: str, run_date: str, customers_heading: str) -> list[str]:
    block = text.split(customers_heading, 1)[1]
    line = next(line for line in block.splitlines() if line.startswith(f"| {run_date} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_section_tables_and_ratios():
    text = section(_rows(), chart="benchmarks_stages.png")
    assert text.startswith(START) and text.endswith(END)
    assert "![Seconds per stage" in text and "(benchmarks_stages.png)" in text
    assert "#### 100,000 customers" in text and "#### 1,000,000 customers" in text
    assert "Python 3.11.7" in text and MACHINE in text

    header = [
        c.strip() for c in text.split("#### 100,000")[1].splitlines()[4].strip("|").split("|")
    ]
    assert header[:6] == ["run date", "day", "load", "build_before", "score", "total"]

    day0 = _table_row(text, "2025-01-01", "#### 100,000")
    assert day0[1] == "day 0 (trains)"
    assert day0[5] == "**40.0**"  # 5 + 20 + 15, not the superseded run's 18
    assert day0[6] == "1.00"
    assert day0[7] == "10.0"  # the baseline's total
    assert day0[8] == "4.00×"  # day 0 / baseline = 40 / 10
    change = _table_row(text, "2025-01-02", "#### 100,000")
    assert change[1] == "change day"
    assert change[5] == "**12.0**"
    assert change[6] == "0.30"  # 12 / 40
    assert change[7] == "" and change[8] == ""

    big = _table_row(text, "2025-01-01", "#### 1,000,000")
    assert big[-2:] == ["80.0", "2.50×"]  # 200 / 80
    assert "pairwise precision 0.9500, recall 0.6000" in text


def test_runs_without_run_id_are_told_apart_by_order():
    rows = [
        {k: v for k, v in _day(50, i, d, {"load": 1.0}).items() if k not in ("run_id", "day_index")}
        for i, d in enumerate(["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-02"])
    ]
    rows[2]["trained"] = True
    found = runs(rows)
    assert [len(r.days) for r in found] == [2, 2]


def _engine_day(engine, index, seconds, **extra):
    change = {
        "records_live": 1000,
        "records_added_changed_deleted": [3, 5, 1] if index else [1000, 0, 0],
        "records_rescored": 9 if index else 1000,
        "comparisons_scored": 40 if index else 4000,
        "untouched_ids_changed": 0,
        "peak_rss_gib": 1.5,
    }
    return _day(
        200_000,
        index,
        f"2025-01-0{index + 1}",
        seconds,
        run_id="both",
        engine=engine,
        **change,
        **extra,
    )


def test_engines_on_one_landing_are_compared_stage_by_stage():
    rows = [
        *_rows(),
        _engine_day("duckdb", 0, {"load": 2.0, "score": 8.0}),
        _engine_day("duckdb", 1, {"load": 1.0, "score": 1.0}),
        _baseline(200_000, 5.0, run_id="both"),
        _engine_day("spark", 0, {"load": 6.0, "score": 40.0}, engine_settings={"master": "x"}),
        _engine_day("spark", 1, {"load": 3.0, "score": 2.0}),
    ]
    found = runs(rows)
    by_engine = {r.engine: r for r in found if r.run_id == "both"}
    assert [len(r.days) for r in by_engine.values()] == [2, 2]
    assert by_engine["duckdb"].baseline is not None and by_engine["spark"].baseline is None

    text = section(rows, chart=None)
    # The DuckDB tables show DuckDB's run only: Spark's 46 s is not DuckDB's day 0.
    assert _table_row(text, "2025-01-01", "#### 200,000")[-4] == "**10.0**"
    engines = text.split("#### The engines on the same landing")[1]
    assert "##### 200,000 customers" in engines and "100,000" not in engines
    score = _table_row(engines, "score", "##### 200,000")
    assert score == ["score", "8.0", "40.0", "5.0×", "1.0", "2.0", "2.0×"]
    totals = _table_row(engines, "**total**", "##### 200,000")
    assert totals == ["**total**", "10.0", "46.0", "4.6×", "2.0", "5.0", "2.5×"]
    assert "- Spark: the change day took 5.0 s, 0.11 of day 0's 46.0 s" in engines
    assert "9 re-scored (40 comparisons, day 0: 4,000)" in engines


def test_replace_section_keeps_the_rest(tmp_path: Path):
    doc = f"# B\n\n## Daily runs\n\ntext\n\n{START}\nold\n{END}\n\n### Ad hoc\n\nmore\n"
    new = replace_section(doc, f"{START}\nnew\n{END}")
    assert new == f"# B\n\n## Daily runs\n\ntext\n\n{START}\nnew\n{END}\n\n### Ad hoc\n\nmore\n"
    assert replace_section("# B\n", f"{START}\nx\n{END}").endswith(f"{START}\nx\n{END}\n")


def test_report_writes_doc_and_chart(tmp_path: Path):
    results = _write(tmp_path, _rows())
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.parent.mkdir()
    doc.write_text(f"# Benchmarks\n\nkept\n\n{START}\n{END}\n\ntail\n")
    chart = doc.parent / "benchmarks_stages.png"
    bench_report.write_report(results, doc, chart)
    assert chart.exists() and chart.stat().st_size > 1000
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nkept\n\n") and text.endswith(f"{END}\n\ntail\n")
    assert "(benchmarks_stages.png)" in text and "4.00×" in text


def test_chart_with_one_n_and_no_change_day(tmp_path: Path):
    from c360.tools.bench_chart import draw

    rows = [_day(20_000, 0, "2025-01-01", {"load": 1.0, "score": 2.0, "privacy": 0.0})]
    out = draw(rows, tmp_path / "c.png")
    assert out is not None and out.stat().st_size > 1000
    assert draw([{"benchmark": "generate"}], tmp_path / "none.png") is None


@pytest.fixture(scope="module")
def tiny_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from c360.tools.generator.config import GeneratorConfig
    from c360.tools.generator.core import generate

    out = tmp_path_factory.mktemp("baseline_landing")
    generate(GeneratorConfig(customers=2000, days=0, seed=3, chunk_size=1000), out, progress=False)
    return out


@pytest.mark.slow
def test_baseline_on_a_tiny_landing(tiny_landing: Path, tmp_path: Path):
    """Real Splink 5 on DuckDB over about 7,000 records (some 10 s)."""
    from c360.tools.bench_baseline import run_baseline

    result = run_baseline(tiny_landing / "landing", tmp_path / "work", tiny_landing / "truth")
    assert result["records"] > 0 and result["pairs"] > 0
    assert result["comparisons"] >= result["pairs"]
    assert result["accuracy"]["precision"] > 0.8
    assert result["accuracy"]["records_scored"] == result["records"]
    seconds = result["seconds"]
    assert set(seconds) == {"load", "train", "predict", "cluster", "total"}
    assert seconds["total"] >= seconds["train"]
    assert not (tmp_path / "work" / "baseline.duckdb").exists()


def _quality(profile, *, pipeline=None, baseline=None, run_id="q1", customers=20_000):
    return {
        "benchmark": "quality",
        "run_id": run_id,
        "date": "2026-11-30",
        "profile": profile,
        "customers": customers,
        "pipeline": pipeline
        or {"precision": 0.99, "recall": 0.9, "f1": 0.942857, "records": 70_000},
        "baseline": baseline or {"precision": 0.95, "recall": 0.6, "f1": 0.735484},
    }


def test_quality_table_by_profile():
    rows = [
        *_rows(),
        _quality("hard", pipeline={"precision": 0.1, "recall": 0.1, "f1": 0.1}, run_id="q0"),
        _quality("names_dob", pipeline={"error": "ValueError: no training block"}),
        _quality(
            "hard",
            baseline={
                "precision": 0.98,
                "recall": 0.25,
                "f1": 0.398374,
                "columns_without_values": ["email", "phone"],
                "em_blocks": ["first_name+last_name", "date_of_birth"],
            },
        ),
        _quality("default"),
    ]
    text = section(rows, chart=None)
    assert "#### Match quality by profile: pipeline vs plain Splink" in text
    block = text.split("#### Match quality by profile")[1]
    profiles = [line.split("|")[1].strip() for line in block.splitlines() if line.startswith("| `")]
    assert profiles == ["`default`", "`hard`", "`names_dob`"]  # the generator's order
    hard = _table_row(text, "`hard`", "#### Match quality")
    # The later hard row wins over the earlier one.
    assert hard[1:9] == [
        "20,000",
        "70,000",
        "0.9900",
        "0.9000",
        "0.9429",
        "0.9800",
        "0.2500",
        "0.3984",
    ]
    names_dob = _table_row(text, "`names_dob`", "#### Match quality")
    assert names_dob[3:6] == ["failed", "", ""] and names_dob[6] == "0.9500"
    assert "the pipeline failed: ValueError: no training block" in text
    assert "no values for email, phone; the baseline's EM sessions blocked on " in text
    assert text.endswith(END)
    # Without any pipeline run, the quality table still shows.
    alone = section([_quality("hard")], chart=None)
    assert "No pipeline run" in alone and "`hard`" in alone


@pytest.mark.slow
def test_baseline_degrades_on_a_landing_without_contact_or_address(tmp_path: Path):
    """The names_dob profile leaves email, phone and address empty: the
    baseline drops their comparisons and still trains, predicts and scores."""
    from c360.tools.bench_baseline import run_baseline
    from c360.tools.generator.config import profile_config
    from c360.tools.generator.core import generate

    out = tmp_path / "gen"
    generate(profile_config("names_dob", customers=1500, seed=5), out, progress=False)
    result = run_baseline(out / "landing", tmp_path / "work", out / "truth")
    assert set(result["columns_without_values"]) == {
        "email",
        "phone",
        "postal_code",
        "city",
        "street_address",
    }
    assert result["em_blocks"] == ["first_name+last_name", "date_of_birth"]
    assert result["pairs"] > 0
    assert result["accuracy"]["precision"] > 0.5 and 0 < result["accuracy"]["recall"] < 1
    assert 0 < result["accuracy"]["f1"] < 1
