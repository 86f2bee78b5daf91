"""The Spark sizing's arithmetic (c360.tools.sizing), on hand-made results."""

from __future__ import annotations

import pytest

from c360.tools.sizing import Line, Target, carry, exponent, section


def test_exponent_and_carry_are_a_power_law_through_two_points():
    b = exponent(1_000, 2_000, 10_000, 20_000)
    assert b == pytest.approx(1.0)
    assert carry(10_000, 20_000, b, 100_000) == pytest.approx(200_000)
    # Pairs that grow with the square of the records.
    b = exponent(10, 100, 100, 10_000)
    assert b == pytest.approx(2.0)
    with pytest.raises(ValueError):
        exponent(10, 0, 100, 5)


def test_a_line_keeps_its_fixed_part_and_shares_the_rest():
    line = Line.through(1_000, 110.0, 11_000, 210.0)
    assert line.fixed == pytest.approx(100.0) and line.per_unit == pytest.approx(0.01)
    target = Target(executors=10, cores_per_executor=2, efficiency=0.5)
    # 0.01 s a unit on 2 cores = 0.02 core-seconds a unit; 1e6 units = 20,000
    # core-seconds over 20 cores at half speed = 2,000 s, plus the fixed 100.
    assert line.on_cluster(1_000_000, 2, target) == pytest.approx(2_100.0)
    # A stage slower at the smaller size does not get a negative cost.
    assert Line.through(1_000, 50.0, 2_000, 40.0).per_unit == 0.0


def _blocking(customers, records, pairs, rule_pairs, block):
    return {
        "benchmark": "blocking",
        "customers": customers,
        "records": records,
        "distinct_pairs": pairs,
        "rules": [{"index": 0, "rule": "l.k = r.k", "pairs": rule_pairs, "largest_block": block}],
    }


def _spark_day(customers, index, seconds, records, comparisons, changed=(0, 0, 0)):
    return {
        "benchmark": "pipeline_day",
        "run_id": f"r{customers}",
        "engine": "spark",
        "customers": customers,
        "day_index": index,
        "run_date": f"2025-01-0{index + 1}",
        "seconds": seconds,
        "records_live": records,
        "records_added_changed_deleted": list(changed),
        "records_rescored": sum(changed) * 2,
        "comparisons_scored": comparisons,
        "warehouse_gib": records / 1e6,
    }


def test_the_section_carries_the_measurements_to_the_target():
    rows = [
        _blocking(100, 1_000, 4_000, 2_000, 10),
        _blocking(1_000, 10_000, 40_000, 20_000, 100),
        _spark_day(100, 0, {"build": 110.0, "score": 60.0}, 1_000, 4_000),
        _spark_day(100, 1, {"build": 101.0, "score": 50.0}, 1_000, 40, (2, 2, 1)),
        _spark_day(1_000, 0, {"build": 200.0, "score": 150.0}, 10_000, 40_000),
        _spark_day(1_000, 1, {"build": 110.0, "score": 51.0}, 10_000, 400, (20, 20, 10)),
    ]
    target = Target(records=100_000, changes=500, executors=5, cores_per_executor=2)
    text = section(rows, target)
    assert "grow as records^1.00" in text
    assert "**400,000 pairs at 100,000 records**" in text
    # build, day 0: fixed 100 s + 0.01 s a record on 2 cores; 1e5 records =
    # 2,000 core-seconds on 10 cores at 50% = 400 s; 500 s in all.
    build = next(line for line in text.splitlines() if line.startswith("| build |"))
    assert "100 + 10000.00" in build and "| 8 min |" in build
    # The largest block grows linearly: 1,000 records at the target.
    assert "1,000 at the target" in text
    assert "spark.sql.shuffle.partitions" in text and "$" in text


def test_without_two_sizes_the_section_says_what_is_missing():
    text = section([_blocking(100, 1_000, 4_000, 2_000, 10)], Target())
    assert "found 1" in text and "found 0" in text
    assert "####" not in text
