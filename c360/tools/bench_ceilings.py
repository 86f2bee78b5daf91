"""What no matcher reaches on a landing: the ceiling on identifiable recall at
no added false merge (docs/benchmarks.md, "Issue 13, second round").

The true pairs a run missed are grouped by the two customers they fell into.
Two groups are beyond the evidence:

- customers no pair of whose records was ever compared, and whose records
  share at most a postal code (a device with a first name and a POS card
  with a first name and a postcode);
- customers that were compared but whose records share nothing beyond
  names (no birth date, email, phone, postcode, address or loyalty id).
  Among customer pairs of that kind that the model scored at 0.8 or more,
  the truth counts how many are one person and how many namesakes: when
  the namesakes' record pairs outnumber the true ones, no rule on these
  records links them at high precision.

A matcher that leaves both groups apart and links every other missed pair
without error ends at the ceiling printed here.

    python -m c360.tools.bench_ceilings --warehouse W --truth DIR/truth
"""

from __future__ import annotations

import argparse
from pathlib import Path

from c360 import engine, warehouse
from c360.evaluation import IDENTITY_RECORDS, XREF, sql_string

SCORED_PAIRS = "matching.splink_match_pairs"

# Values whose sharing is evidence beyond a name; a 1 January birth date is
# a year stored as a date, not a birth date.
EVIDENCE_COLUMNS = {
    "date_of_birth": (
        "case when month(date_of_birth_normalized) = 1 and day(date_of_birth_normalized) = 1 "
        "then null else date_of_birth_normalized end"
    ),
    "email": "email_token",
    "phone": "phone_token",
    "postal_code": "postal_code_normalized",
    "address": "address_token",
    "loyalty_id": "loyalty_id",
}


def recall_ceiling(con: engine.Connection, links: Path) -> dict[str, float | int]:
    con.execute(
        f"""create or replace temp table _ceiling_records as
        select records.*, xref.customer_id, truth.person_id
        from {IDENTITY_RECORDS} as records
        inner join {XREF} as xref
            on records.record_key = xref.source_table || ':' || xref.source_record_id
        inner join read_parquet({sql_string(links)}) as truth
            on records.record_key = truth.source_table || ':' || truth.source_record_id
        where coalesce(truth.is_live, true) and not coalesce(records.is_anonymous, false)"""
    )
    con.execute(
        """create or replace temp table _ceiling_customers as
        select customer_id, sum(person_records) as records,
            arg_max(person_id, person_records) as person_id
        from (
            select customer_id, person_id, count(*) as person_records
            from _ceiling_records group by customer_id, person_id
        ) group by customer_id"""
    )
    con.execute(
        """create or replace temp table _ceiling_missed as
        with cells as (
            select person_id, customer_id, count(*) as n
            from _ceiling_records group by person_id, customer_id
        )
        select least(a.customer_id, b.customer_id) as customer_a,
            greatest(a.customer_id, b.customer_id) as customer_b,
            a.n * b.n as missed_pairs
        from cells as a
        inner join cells as b on a.person_id = b.person_id and a.customer_id < b.customer_id"""
    )
    values = " union all ".join(
        f"select distinct customer_id, '{name}' as attribute, cast({expr} as varchar) as value "
        f"from _ceiling_records where {expr} is not null"
        for name, expr in EVIDENCE_COLUMNS.items()
    )
    con.execute(
        f"""create or replace temp table _ceiling_shared as
        with customer_values as ({values})
        select distinct least(a.customer_id, b.customer_id) as customer_a,
            greatest(a.customer_id, b.customer_id) as customer_b,
            a.attribute
        from customer_values as a
        inner join customer_values as b
            on a.attribute = b.attribute and a.value = b.value
            and a.customer_id <> b.customer_id"""
    )
    con.execute(
        f"""create or replace temp table _ceiling_scored as
        select least(a.customer_id, b.customer_id) as customer_a,
            greatest(a.customer_id, b.customer_id) as customer_b,
            max(pairs.match_probability) as best_probability
        from {SCORED_PAIRS} as pairs
        inner join _ceiling_records as a on pairs.record_key_a = a.record_key
        inner join _ceiling_records as b on pairs.record_key_b = b.record_key
        where a.customer_id <> b.customer_id
        group by all"""
    )
    true_pairs = con.execute(
        "select coalesce(sum(n * (n - 1) / 2), 0) from "
        "(select count(*) as n from _ceiling_records group by person_id)"
    ).fetchall()[0][0]
    missed, never_compared, names_only = con.execute(
        """select coalesce(sum(missed_pairs), 0),
            coalesce(sum(missed_pairs) filter (
                where scored.customer_a is null and not exists (
                    select 1 from _ceiling_shared as shared
                    where shared.customer_a = missed.customer_a
                        and shared.customer_b = missed.customer_b
                        and shared.attribute <> 'postal_code'
                )
            ), 0),
            coalesce(sum(missed_pairs) filter (
                where scored.customer_a is not null and not exists (
                    select 1 from _ceiling_shared as shared
                    where shared.customer_a = missed.customer_a
                        and shared.customer_b = missed.customer_b
                )
            ), 0)
        from _ceiling_missed as missed
        left join _ceiling_scored as scored using (customer_a, customer_b)"""
    ).fetchall()[0]
    namesakes = dict(
        (bool(same), (int(customers), int(pairs)))
        for same, customers, pairs in con.execute(
            """select a.person_id = b.person_id, count(*), sum(a.records * b.records)
            from _ceiling_scored as scored
            inner join _ceiling_customers as a on scored.customer_a = a.customer_id
            inner join _ceiling_customers as b on scored.customer_b = b.customer_id
            where scored.best_probability >= 0.8 and not exists (
                select 1 from _ceiling_shared as shared
                where shared.customer_a = scored.customer_a
                    and shared.customer_b = scored.customer_b
            )
            group by all"""
        ).fetchall()
    )
    true_pairs = int(true_pairs)
    return {
        "identifiable_true_pairs": true_pairs,
        "missed": int(missed),
        "misses_allowed_at_recall_0_99": int(true_pairs * 0.01),
        "missed_never_compared_sharing_at_most_a_postcode": int(never_compared),
        "missed_compared_sharing_nothing_beyond_names": int(names_only),
        "names_only_customer_pairs_one_person": namesakes.get(True, (0, 0))[0],
        "names_only_customer_pairs_two_people": namesakes.get(False, (0, 0))[0],
        "names_only_record_pairs_true": namesakes.get(True, (0, 0))[1],
        "names_only_record_pairs_false": namesakes.get(False, (0, 0))[1],
        "recall_ceiling": round(1 - (never_compared + names_only) / true_pairs, 4)
        if true_pairs
        else 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args(argv)
    con = warehouse.connect_for_reading(args.warehouse)
    try:
        figures = recall_ceiling(con, args.truth / "person_links.parquet")
    finally:
        con.close()
    for name, value in figures.items():
        print(f"{name:<52} {value:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
