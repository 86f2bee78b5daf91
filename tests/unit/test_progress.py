"""Long work reports counts and rates: log lines off a terminal, a final line always."""

from __future__ import annotations

import io
from pathlib import Path

from c360 import pipeline, quarantine
from c360.progress import Progress, rate_line

LANDING = Path(__file__).resolve().parents[1] / "fixtures" / "landing_min"


def test_rate_line_shows_counts_share_and_rate() -> None:
    line = rate_line("load", 3_000_000, 12_000_000, "rows", 10.0)
    assert line == "load: 3,000,000 of 12,000,000 (25%) rows, 300,000 rows/s, 10.0 s"
    assert rate_line("load", 0, None, "rows", 0.0) == "load: 0 rows, 0.0 s"


def test_progress_logs_lines_off_a_terminal_and_a_last_one_on_close() -> None:
    lines: list[str] = []
    with Progress("score", unit="pairs", log=lines.append, every=0.0) as progress:
        progress.update(500, "block 1")
        progress.update(1500)
    assert len(lines) == 3
    assert lines[0].startswith("score: 500 pairs") and lines[0].endswith("(block 1)")
    assert lines[-1].startswith("score: 2,000 pairs")
    quiet = io.StringIO()  # not a terminal: plain lines, no bar
    with Progress("load", stream=quiet, every=3600) as progress:
        progress.update(7)
    assert quiet.getvalue().startswith("load: 7 rows")


def test_loading_reports_each_partition_with_rows(tmp_path: Path) -> None:
    lines: list[str] = []
    loaded = pipeline.load(LANDING, tmp_path / "w.duckdb", log=lines.append)
    rows = sum(p.rows for p in loaded)
    assert rows > 0
    (summary,) = [line for line in lines if line.startswith("load: ")]
    assert summary.startswith(f"load: {rows:,} rows")
    assert "rows/s" in summary
    # The fixture's deliberately bad values are quarantined, and said so.
    assert lines[-1] == f"quarantined ({quarantine.QUARANTINE}): 1 not_a_date, 1 not_a_decimal"


def test_a_failure_of_many_lines_is_told_in_one_with_its_cause() -> None:
    from c360.progress import one_line

    dbt_runtime_error = (
        "Runtime Error in model fct_orders (models/marts/activity/fct_orders.sql)\n"
        '  IO Error: Could not write file "w.duckdb": No space left on device'
    )
    assert one_line(dbt_runtime_error) == (
        "Runtime Error in model fct_orders (models/marts/activity/fct_orders.sql) ... "
        'IO Error: Could not write file "w.duckdb": No space left on device'
    )
    engine_error = "Error executing the following sql:\nCREATE TABLE x AS\nWITH a\n" + (
        "Out of Memory Error: failed to allocate\n\nPossible solutions:\n* fewer threads"
    )
    assert one_line(engine_error) == (
        "Error executing the following sql: ... Out of Memory Error: failed to allocate"
    )
    assert one_line("one line") == "one line"
    assert len(one_line("x\n" + "y" * 1000)) == 400
