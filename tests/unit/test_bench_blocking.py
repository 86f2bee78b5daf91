"""The blocking count's distinct pairs (c360.tools.bench_blocking), counted
bucket by bucket as hashes, against a brute force over the same records."""

from __future__ import annotations

import itertools
import random

from c360.tools.bench_blocking import distinct_pairs


def test_distinct_pairs_by_buckets_equal_a_brute_force(db):
    rng = random.Random(3)
    records = [
        (f"r{i}", rng.choice("abcd"), rng.choice([None, "x", "y", "z"]), rng.choice("ap"))
        for i in range(120)
    ]
    db.execute("create table records (record_key varchar, a varchar, b varchar, c varchar)")
    db.executemany("insert into records values (?, ?, ?, ?)", records)
    rules = [
        {"rule": "l.a = r.a and l.c = r.c"},
        {"rule": "l.b = r.b"},
        # One side's key against the other's, as the swapped-date rules join.
        {"rule": "l.a = r.c"},
    ]

    def joined(rule, left, right):
        a, b, c = 1, 2, 3
        if rule == 0:
            return left[a] == right[a] and left[c] == right[c]
        if rule == 1:
            return left[b] is not None and left[b] == right[b]
        return left[a] == right[c]

    expected = {
        tuple(sorted((left[0], right[0])))
        for left, right in itertools.permutations(records, 2)
        for rule in range(3)
        if joined(rule, left, right)
    }
    assert len(expected) > 1000
    for buckets in (1, 8):
        assert distinct_pairs(db, "records", rules, buckets=buckets) == len(expected)
