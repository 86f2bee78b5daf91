"""How comparisons grow with N: the blocking rules' block sizes and pairs over
a day-0 warehouse, without scoring (docs/spark.md, "Sizing").

    python -m c360.tools.bench_blocking --customers 1000000 --out bench_out/blocking

generates day 0 (or reuses DIR/landing), loads it, builds the dbt models up to
the identity records and counts, per prediction blocking rule, the pairs its
blocks hold (sum of n(n-1)/2 over its keys) and its largest block; then the
pairs the rules generate together, each pair once (what a full scoring
compares). Appends a `blocking` row to bench_out/results.jsonl.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from c360 import engine, pipeline, warehouse
from c360.tools.bench import _append, machine, versions

RESULTS = Path("bench_out/results.jsonl")


def _rule_sql(rule) -> str:
    """The join condition of a rule, over aliases l and r (Splink's own SQL)."""
    return rule if isinstance(rule, str) else rule.get_blocking_rule("duckdb").blocking_rule_sql


def _equalities(rule_sql: str) -> list[tuple[str, str]]:
    """The (left, right) expressions a rule equates, without the l./r. aliases."""
    import sqlglot
    from sqlglot import exp

    def side(node: exp.Expression) -> str:
        unaliased = node.copy()
        for column in unaliased.find_all(exp.Column):
            column.set("table", None)
        return unaliased.sql("duckdb")

    return [
        (side(eq.this), side(eq.expression))
        for eq in sqlglot.parse_one(rule_sql, read="duckdb").find_all(exp.EQ)
    ]


def count_blocks(con) -> dict:
    from splink_models import identity, runtime

    records = runtime._stage_input(con)
    table = runtime._INPUT_TABLE
    rules = []
    for index, rule in enumerate(identity.prediction_blocking_rules()):
        equalities = _equalities(_rule_sql(rule))
        left = [lhs for lhs, _ in equalities]
        right = [rhs for _, rhs in equalities]
        present = " and ".join(f"({e}) is not null" for e in left)
        present_right = " and ".join(f"({e}) is not null" for e in right)
        if left == right:  # a key both sides share: blocks of n records, n(n-1)/2 pairs
            pairs, largest, blocks = con.execute(
                f"select coalesce(sum(n * (n - 1) // 2), 0), coalesce(max(n), 0), count(*) "
                f"from (select count(*) as n from {table} where {present} "
                f"group by {', '.join(left)})"
            ).fetchall()[0]
        else:  # one side's key against the other's: ordered pairs, as Splink joins them
            pairs, largest, blocks = con.execute(
                f"select coalesce(sum(a.n * b.n), 0), coalesce(max(greatest(a.n, b.n)), 0), "
                f"count(*) from (select {', '.join(f'{e} as k{i}' for i, e in enumerate(left))}, "
                f"count(*) as n from {table} where {present} group by all) as a "
                f"join (select {', '.join(f'{e} as k{i}' for i, e in enumerate(right))}, "
                f"count(*) as n from {table} where {present_right} group by all) as b "
                f"using ({', '.join(f'k{i}' for i in range(len(left)))})"
            ).fetchall()[0]
        rules.append(
            {
                "index": index,
                "rule": _rule_sql(rule),
                "pairs": int(pairs),
                "largest_block": int(largest),
                "blocks": int(blocks),
            }
        )
    return {"records": records, "rules": rules, "distinct_pairs": distinct_pairs(con, table, rules)}


def distinct_pairs(con, table: str, rules: list[dict], buckets: int = 8) -> int:
    """Each pair once, whichever rules generate it: what a full scoring
    compares. A pair is its 64-bit hash (at a billion pairs, a collision is
    about one chance in 40) and the pairs are counted a bucket of the smaller
    key at a time, so memory holds an eighth of them: at 10M customers the
    pairs as two strings do not fit in 16 GB."""
    total = 0
    for bucket in range(buckets):
        union = " union ".join(
            f"select hash(least(l.record_key, r.record_key), greatest(l.record_key, "
            f"r.record_key)) as pair from {table} as l join {table} as r on {r['rule']} "
            f"where l.record_key <> r.record_key "
            f"and hash(least(l.record_key, r.record_key)) % {buckets} = {bucket}"
            for r in rules
        )
        total += con.execute(f"select count(*) from ({union})").fetchall()[0][0]
    return int(total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--out", default="bench_out/blocking")
    args = parser.parse_args(argv)
    out = Path(args.out) / str(args.customers)
    landing = out / "landing"
    started = time.perf_counter()
    if not landing.exists():
        from c360.tools.generator.config import profile_config
        from c360.tools.generator.core import generate

        generate(
            profile_config("default", customers=args.customers, days=0, seed=args.seed),
            out,
            progress=True,
        )
    generated = time.perf_counter()
    path = out / "warehouse.duckdb"
    con = warehouse.connect(path)
    try:
        has_records = engine.relation_exists(con, "intermediate", "int_identity_records")
        if not has_records:  # loads what is not loaded yet: a rerun continues
            pipeline.prepare_warehouse(con)
            warehouse.load_landing(con, landing)
    finally:
        con.close()
    if not has_records:
        pipeline.load_seeds(path, quiet=True)
        pipeline.build_before_scoring(path, quiet=True)
    built = time.perf_counter()
    con = warehouse.connect(path)
    try:
        counts = count_blocks(con)
    finally:
        con.close()
    row = {
        "benchmark": "blocking",
        "date": dt.date.today().isoformat(),
        "customers": args.customers,
        **counts,
        "seconds": {
            "generate": round(generated - started, 1),
            "build": round(built - generated, 1),
            "count": round(time.perf_counter() - built, 1),
        },
        "machine": machine(),
        "versions": versions(),
    }
    _append(RESULTS, row)
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
