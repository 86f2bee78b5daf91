"""Match quality against the generated truth: precision and recall floors, hard
negatives rarely merged, and `c360 evaluate` reporting the same numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.warehouse_files import release_dbt_connection


def test_accuracy_on_the_generated_truth(scores: dict) -> None:
    pairwise, identifiable = scores["pairwise"], scores["identifiable"]
    junior_senior = scores["hard_negatives"]["junior_senior"]
    print(
        f"\npairwise precision {pairwise['precision']:.4f} recall {pairwise['recall']:.4f}; "
        f"identifiable ({identifiable['records']:,} records) precision "
        f"{identifiable['pairwise']['precision']:.4f} recall "
        f"{identifiable['pairwise']['recall']:.4f}; junior_senior groups falsely merged "
        f"{junior_senior['groups_falsely_merged']} of {junior_senior['groups']}"
    )
    records = scores["records"]
    assert records["scored"] == records["truth_live"] == records["xref"] > 5000
    assert pairwise["true_pairs"] > 10_000
    assert pairwise["precision"] >= 0.99
    assert identifiable["records"] > 0.8 * records["scored"]
    assert identifiable["pairwise"]["recall"] >= 0.93
    assert junior_senior["groups"] > 5
    assert junior_senior["groups_falsely_merged"] <= 0.3 * junior_senior["groups"]


@pytest.mark.parametrize(
    ("kind", "max_share"),
    [("household", 0.05), ("twins", 0.2), ("shared_household_email", 0.3), ("family_device", 0.1)],
)
def test_households_and_twins_are_rarely_merged(scores: dict, kind: str, max_share: float) -> None:
    """People who share an address, a surname, a landline, a family email or a
    tablet (and twins, who share a birth date too) stay apart: the contradiction
    checks and the over-merge guard at work."""
    negatives = scores["hard_negatives"][kind]
    assert negatives["groups"] > 0
    assert negatives["groups_falsely_merged"] <= max_share * negatives["groups"], negatives


def test_evaluate_cli_writes_the_report(generated: Path, warehouse, scores, tmp_path) -> None:
    import json

    path, _ = warehouse
    out = tmp_path / "e.json"
    # The command is another process: this one's dbt must not hold the file.
    release_dbt_connection()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "evaluate",
            "--truth",
            str(generated / "truth"),
            "--warehouse",
            str(path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pairwise" in result.stdout
    report = json.loads(out.read_text())
    assert {
        "records",
        "pairwise",
        "bcubed",
        "clusters",
        "by_source_pair",
        "hard_negatives",
        "identifiable",
    } <= set(report)
    assert {"precision", "recall", "f1", "tp", "fp", "fn"} <= set(report["pairwise"])
    assert {"precision", "recall", "f1"} <= set(report["bcubed"])
    assert {"predicted", "true_persons", "false_merges", "false_splits"} <= set(report["clusters"])
    assert {"clusters", "records", "persons"} <= set(report["clusters"]["false_merges"])
    assert {"records", "anonymous_records", "pairwise", "bcubed", "clusters"} <= set(
        report["identifiable"]
    )
    assert report["by_source_pair"] and report["hard_negatives"]
    # The same numbers as the library call on the same warehouse.
    for key in ("records", "pairwise", "bcubed", "clusters", "hard_negatives", "identifiable"):
        assert report[key] == scores[key], key
