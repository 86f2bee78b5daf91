"""Score the resolved customers (`marts.customer_source_xref`) against the generator's truth.

Everything is computed in DuckDB from contingency counts, never from record
pairs: at ~700M records the pairs do not exist in any memory. One join of
truth and xref reduces the scored records to cells, the number `n` of records
per (predicted cluster, true person), with that count split by source table
alongside, and every metric follows from aggregates over the cells:

    true-positive pairs  = sum over (cluster, person) cells of n(n-1)/2
    predicted pairs      = sum over clusters of size(size-1)/2
    true pairs           = sum over persons of size(size-1)/2
    B-cubed precision    = (1/N) * sum over cells of n^2 / |cluster|
    B-cubed recall       = (1/N) * sum over cells of n^2 / |person|

Only records live at the truth's last day are scored; records present on one
side only are counted, not scored, so a mart that drops or invents records is
visible without distorting the clustering metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from c360 import engine
from c360.warehouse import connect_for_analysis

XREF_SCHEMA = "marts"
XREF_TABLE = "customer_source_xref"
XREF = f"{XREF_SCHEMA}.{XREF_TABLE}"
XREF_COLUMNS = ("source_table", "source_record_id", "customer_id")
PERSON_LINKS = "person_links.parquet"
HARD_NEGATIVES = "hard_negatives.parquet"
_DIGITS = 6


def _ratio(num: int, den: int) -> float:
    # No pairs to get wrong is perfect, by the usual convention for these metrics.
    return 1.0 if den == 0 else num / den


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _prf(precision: float, recall: float) -> dict[str, float]:
    return {
        "precision": round(precision, _DIGITS),
        "recall": round(recall, _DIGITS),
        "f1": round(_f1(precision, recall), _DIGITS),
    }


def sql_string(value: str | os.PathLike) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _check_xref(con: engine.Connection, warehouse: Path) -> None:
    columns = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [XREF_SCHEMA, XREF_TABLE],
        ).fetchall()
    }
    if not columns:
        raise ValueError(
            f"{XREF} not found in {warehouse}: run the pipeline (c360 run) before evaluating"
        )
    missing = [c for c in XREF_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{XREF} in {warehouse} lacks column(s) {', '.join(missing)}")
    duplicated, null_customers = con.execute(
        f"""
        select count(*) filter (where k > 1), coalesce(sum(nulls), 0)
        from (
            select count(*) as k, count(*) filter (where customer_id is null) as nulls
            from {XREF} group by source_table, source_record_id
        )
        """
    ).fetchone()
    # Either would make a record count twice or belong to no cluster: the
    # metrics would be silently wrong rather than low.
    if duplicated:
        raise ValueError(f"{XREF}: {duplicated:,} record(s) mapped to more than one customer_id")
    if null_customers:
        raise ValueError(f"{XREF}: {null_customers:,} row(s) with a null customer_id")


def _records(con: engine.Connection, links: Path) -> dict[str, int]:
    row = con.execute(
        """
        select
            coalesce(sum(n) filter (where in_truth and is_live and in_xref), 0),
            coalesce(sum(n) filter (where in_truth and is_live), 0),
            coalesce(sum(n) filter (where in_xref), 0),
            coalesce(sum(n) filter (where in_truth and is_live and not in_xref), 0),
            coalesce(sum(n) filter (where in_xref and not in_truth), 0),
            coalesce(sum(n) filter (where in_xref and in_truth and not is_live), 0)
        from _eval_groups
        """
    ).fetchall()[0]
    keys = (
        "scored",
        "truth_live",
        "xref",
        "missing_from_xref",
        "xref_not_in_truth",
        "xref_not_live_in_truth",
    )
    records = {k: int(v) for k, v in zip(keys, row, strict=True)}
    # A live record the xref lacks because a privacy request erased it is the
    # product doing its job, not a record lost: told apart, so that only
    # unexplained absences read as missing.
    erased = _erased_by_request(con, links) if records["missing_from_xref"] else 0
    records["erased_by_request"] = erased
    records["missing_from_xref"] -= erased
    return records


def _erased_by_request(con: engine.Connection, links: Path) -> int:
    """Live truth records absent from the xref whose suppression entry (the
    keyed hash privacy keeps of every erased record) is on the list."""
    if not _analysis().relation_exists(con, "privacy", "suppression_list"):
        return 0
    from c360.privacy import suppression_hash, suppression_key

    erased = {
        row[0]
        for row in con.execute(
            "select identifier_hash from privacy.suppression_list "
            "where identifier_kind = 'source_record'"
        ).fetchall()
    }
    if not erased:
        return 0
    missing = con.execute(
        f"""select truth.source_table, truth.source_record_id
        from read_parquet({sql_string(links)}) as truth
        anti join {XREF} as xref
            on truth.source_table = xref.source_table
            and truth.source_record_id = xref.source_record_id
        where coalesce(truth.is_live, false)"""
    ).fetchall()
    key = suppression_key()
    return sum(
        suppression_hash("source_record", f"{table}|{record_id}", key) in erased
        for table, record_id in missing
    )


class _Pairs:
    """SQL for pair counts per unordered pair of source tables, from pivoted counts.

    Each source's record count is a column `n_<i>` of the cell table, so a
    group's pairs per source pair are products of its columns (n_s*n_t across
    sources, n_s(n_s-1)/2 within one) summed in the same aggregation pass that
    computes the headline counts: no self-join, no second scan.
    """

    def __init__(self, sources: list[str]) -> None:
        self.sources = sources
        self.pairs = [(i, j) for i in range(len(sources)) for j in range(i, len(sources))]

    def pivot(self, column: str) -> str:
        return "".join(
            f", count(*) filter (where {column} = {sql_string(s)}) as n_{i}"
            for i, s in enumerate(self.sources)
        )

    def resum(self) -> str:
        return "".join(f", sum(n_{i})::bigint as n_{i}" for i in range(len(self.sources)))

    def products(self) -> str:
        return "".join(
            f", coalesce(sum(n_{i} * (n_{i} - 1) // 2), 0)"
            if i == j
            else f", coalesce(sum(n_{i} * n_{j}), 0)"
            for i, j in self.pairs
        )

    def counts(self, values: list) -> dict[tuple[str, str], int]:
        return {
            (self.sources[i], self.sources[j]): int(v)
            for (i, j), v in zip(self.pairs, values, strict=True)
        }


def _scores(
    con: engine.Connection, scored: int, pairs: _Pairs, cells: str = "_eval_cp"
) -> tuple[dict, dict, dict, list[dict[str, Any]]]:
    tp, *tp_by = con.execute(
        f"select coalesce(sum(n * (n - 1) // 2), 0){pairs.products()} from {cells}"
    ).fetchone()
    clusters, predicted_pairs, bcubed_p, merged, merged_records, *predicted_by = con.execute(
        f"""
        select count(*), coalesce(sum(size * (size - 1) // 2), 0),
               coalesce(sum(sq::double / size), 0),
               count(*) filter (where persons > 1),
               coalesce(sum(size) filter (where persons > 1), 0){pairs.products()}
        from (
            select cluster_id, sum(n)::bigint as size, sum(n * n) as sq, count(*) as persons
                   {pairs.resum()}
            from {cells} group by cluster_id
        )
        """
    ).fetchone()
    merged_persons = con.execute(
        f"""
        select count(distinct person_id) from {cells}
        where cluster_id in (select cluster_id from {cells} group by 1 having count(*) > 1)
        """
    ).fetchone()[0]
    persons, true_pairs, bcubed_r, split, extra, split_records, *true_by = con.execute(
        f"""
        select count(*), coalesce(sum(size * (size - 1) // 2), 0),
               coalesce(sum(sq::double / size), 0),
               count(*) filter (where clusters > 1),
               coalesce(sum(clusters - 1), 0),
               coalesce(sum(size) filter (where clusters > 1), 0){pairs.products()}
        from (
            select person_id, sum(n)::bigint as size, sum(n * n) as sq, count(*) as clusters
                   {pairs.resum()}
            from {cells} group by person_id
        )
        """
    ).fetchone()
    tp, predicted_pairs, true_pairs = int(tp), int(predicted_pairs), int(true_pairs)
    pairwise = {
        **_prf(_ratio(tp, predicted_pairs), _ratio(tp, true_pairs)),
        "tp": tp,
        "fp": predicted_pairs - tp,
        "fn": true_pairs - tp,
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
    }
    # With nothing scored every record-average is vacuous; `records` says why.
    bcubed = _prf(
        bcubed_p / scored if scored else 1.0,
        bcubed_r / scored if scored else 1.0,
    )
    cluster_stats = {
        "predicted": int(clusters),
        "true_persons": int(persons),
        "false_merges": {
            "clusters": int(merged),
            "records": int(merged_records),
            "persons": int(merged_persons),
        },
        "false_splits": {
            "persons": int(split),
            "extra_clusters": int(extra),
            "records": int(split_records),
        },
    }
    tp_by, predicted_by, true_by = (pairs.counts(v) for v in (tp_by, predicted_by, true_by))
    by_source_pair = []
    for pair, t in tp_by.items():
        p, r = predicted_by[pair], true_by[pair]
        # A source pair no cluster or person ever joins (two single-source
        # populations) is not a result, just noise in the table.
        if p or r:
            by_source_pair.append(
                {
                    "source_a": pair[0],
                    "source_b": pair[1],
                    "tp": t,
                    "fp": p - t,
                    "fn": r - t,
                    **_prf(_ratio(t, p), _ratio(t, r)),
                }
            )
    return pairwise, bcubed, cluster_stats, by_source_pair


def _hard_negatives(con: engine.Connection, path: Path) -> dict[str, dict[str, int]]:
    con.execute(
        f"""
        create temp table _eval_hn as
        select distinct kind, group_id, person_id from read_parquet({sql_string(path)})
        where kind is not null and group_id is not null and person_id is not null
        """
    )
    result = {
        kind: {
            "groups": int(groups),
            "people": int(people),
            "person_pairs": int(pairs),
            "groups_falsely_merged": 0,
            "falsely_merged_person_pairs": 0,
        }
        for kind, groups, people, pairs in con.execute(
            """
            select kind, count(*), sum(k), sum(k * (k - 1) // 2)
            from (select kind, group_id, count(*) as k from _eval_hn group by all)
            group by kind order by kind
            """
        ).fetchall()
    }
    # Person pairs, distinct: two look-alikes sharing several clusters are one
    # mistake about who they are, not several.
    for kind, groups, pairs in con.execute(
        """
        with hc as (
            select h.kind, h.group_id, h.person_id, c.cluster_id
            from _eval_hn as h join _eval_cp as c using (person_id)
        ),
        merged as (
            select distinct a.kind, a.group_id, a.person_id as p, b.person_id as q
            from hc as a join hc as b
              on a.kind = b.kind and a.group_id = b.group_id
             and a.cluster_id = b.cluster_id and a.person_id < b.person_id
        )
        select kind, count(distinct group_id), count(*) from merged group by kind
        """
    ).fetchall():
        result[kind]["groups_falsely_merged"] = int(groups)
        result[kind]["falsely_merged_person_pairs"] = int(pairs)
    return result


def evaluate(warehouse_file: str | os.PathLike, truth_dir: str | os.PathLike) -> dict[str, Any]:
    """Pairwise, B-cubed, cluster, source-pair and hard-negative scores as plain JSON types."""
    warehouse, truth = Path(warehouse_file), Path(truth_dir)
    links, negatives = truth / PERSON_LINKS, truth / HARD_NEGATIVES
    for required in (links, negatives):
        if not required.is_file():
            raise FileNotFoundError(f"truth file not found: {required} (written by c360 generate)")
    if not warehouse.exists():
        raise FileNotFoundError(f"warehouse not found: {warehouse}")

    con = connect_for_analysis(warehouse)
    try:
        _check_xref(con, warehouse)
        # Records that carry no identifying attribute at all (an app install
        # never signed in, with no email and no name) can be linked by no
        # method; the xref flags them, and the scores are given with and
        # without them.
        has_flag = con.execute(
            "select count(*) from information_schema.columns where table_schema = ? "
            "and table_name = ? and column_name = 'is_anonymous'",
            [XREF_SCHEMA, XREF_TABLE],
        ).fetchall()[0][0]
        anonymous = "is_anonymous" if has_flag else "false"
        # Scored records can only come from sources the xref holds.
        pairs = _Pairs(
            [
                row[0]
                for row in con.execute(
                    f"select distinct source_table from {XREF} "
                    "where source_table is not null order by 1"
                ).fetchall()
            ]
        )
        # One join of truth and xref, grouped straight to cells: the only pass
        # over the full record set. Records on one side only land in cells of
        # their own (null cluster or null person), counted but never scored.
        # Non-live truth records absent from the xref (deleted, correctly
        # forgotten) are dropped here.
        con.execute(
            f"""
            create temp table _eval_groups as
            select x.customer_id as cluster_id, t.person_id,
                   coalesce(x.is_anonymous, false) as is_anonymous,
                   t.in_truth is not null as in_truth,
                   coalesce(t.is_live, false) as is_live,
                   x.in_xref is not null as in_xref,
                   count(*) as n{pairs.pivot("x.source_table")}
            from (
                select source_table, source_record_id, person_id,
                       coalesce(is_live, false) as is_live, true as in_truth
                from read_parquet({sql_string(links)})
            ) as t
            full join (
                select source_table, source_record_id, customer_id, true as in_xref,
                       {anonymous} as is_anonymous
                from {XREF}
            ) as x
              on t.source_table = x.source_table and t.source_record_id = x.source_record_id
            where x.in_xref or t.is_live
            group by all;

            create temp view _eval_cp as
            select * exclude (in_truth, is_live, in_xref, is_anonymous) from _eval_groups
            where in_truth and is_live and in_xref;

            create temp view _eval_cp_identifiable as
            select * exclude (in_truth, is_live, in_xref, is_anonymous) from _eval_groups
            where in_truth and is_live and in_xref and not is_anonymous;
            """
        )
        records = _records(con, links)
        pairwise, bcubed, clusters, by_source_pair = _scores(con, records["scored"], pairs)
        identifiable_records = con.execute(
            "select coalesce(sum(n), 0) from _eval_cp_identifiable"
        ).fetchall()[0][0]
        id_pairwise, id_bcubed, id_clusters, _ = _scores(
            con, int(identifiable_records), pairs, "_eval_cp_identifiable"
        )
        return {
            "lifecycle": _lifecycle(con, links),
            "warehouse": str(warehouse),
            "truth_dir": str(truth),
            "records": records,
            "pairwise": pairwise,
            "bcubed": bcubed,
            "clusters": clusters,
            "by_source_pair": by_source_pair,
            "hard_negatives": _hard_negatives(con, negatives),
            "blocking": _blocking(con, links),
            "auto_links": _auto_links(con, links),
            "identifiable": {
                "records": int(identifiable_records),
                "anonymous_records": records["scored"] - int(identifiable_records),
                "pairwise": id_pairwise,
                "bcubed": id_bcubed,
                "clusters": id_clusters,
            },
        }
    finally:
        con.close()


IDENTITY_RECORDS = "intermediate.int_identity_records"
DETERMINISTIC_EDGES = "intermediate.int_identity_edges__deterministic"
SCORING_RUNS = "matching.splink_scoring_runs"


def _analysis():
    """The engine the evaluation's SQL runs on: DuckDB, whichever engine keeps
    the warehouse (warehouse.connect_for_analysis)."""
    return engine.backend("duckdb")


def _relation_exists(con: engine.Connection, relation: str) -> bool:
    return _analysis().relation_exists(con, *relation.split("."))


# What two records of one person can share beyond a first name: a block on
# exact values reaches no pair that shares none of these (a first name alone
# is no bounded block; it grows with the records). The surname's sound with
# the birth year is the one fuzzy key that needs no exact value.
SHARED_VALUE_COLUMNS = (
    "last_name_normalized",
    "date_of_birth_normalized",
    "email_token",
    "phone_token",
    "postal_code_normalized",
    "address_token",
    "loyalty_id",
    "surname_sound_birth_year_key",
)


def _blocking(
    con: engine.Connection,
    links: Path,
    rules: list[str] | None = None,
    records: str | None = None,
    shared_value_columns: tuple[str, ...] = SHARED_VALUE_COLUMNS,
) -> dict[str, Any]:
    """Pairs completeness: of the true pairs among identifiable records (live in
    the truth and in the xref, not anonymous), the share a deterministic edge
    links or a prediction blocking rule puts in front of the model, each rule's
    share, and the comparisons per record of the last full scoring. A pair
    neither reaches can still join one customer through others, but nothing
    ever weighed its own evidence. Beside it, the share of true pairs whose
    records share any value beyond a first name: the most that blocking on
    values can reach on this data."""
    if not (_relation_exists(con, IDENTITY_RECORDS) and _relation_exists(con, DETERMINISTIC_EDGES)):
        return {}
    if rules is None:
        from splink.blocking_rule_library import CustomRule

        from splink_models.identity import model_input_sql, prediction_blocking_rules

        rules = [
            (CustomRule(rule) if isinstance(rule, str) else rule)
            .get_blocking_rule(engine.SQL_DIALECT)
            .blocking_rule_sql
            for rule in prediction_blocking_rules()
        ]
        # The records as the model sees them, fuzzy block keys included.
        records = f"({model_input_sql(IDENTITY_RECORDS)})"
    records = records or IDENTITY_RECORDS
    flags = "".join(f", coalesce({rule}, false) as rule_{i}" for i, rule in enumerate(rules))
    con.execute(
        f"""
        create or replace temp table _eval_identifiable as
        select truth.person_id, records.*
        from read_parquet({sql_string(links)}) as truth
        inner join {XREF} as xref
            on truth.source_table = xref.source_table
            and truth.source_record_id = xref.source_record_id
        inner join {IDENTITY_RECORDS} as identity_records
            on identity_records.record_key
                = truth.source_table || ':' || truth.source_record_id
        inner join {records} as records
            on records.record_key = identity_records.record_key
        where coalesce(truth.is_live, false)
            and not coalesce(identity_records.is_anonymous, false)
        """
    )
    con.execute(
        f"""
        create or replace temp table _eval_true_pairs as
        select
            l.person_id,
            l.record_key as record_key_l,
            r.record_key as record_key_r,
            exists (
                select 1 from {DETERMINISTIC_EDGES} as edges
                where edges.record_key_a = l.record_key and edges.record_key_b = r.record_key
            ) as is_deterministic{flags}
        from _eval_identifiable as l
        inner join _eval_identifiable as r
            on l.person_id = r.person_id and l.record_key < r.record_key
        """
    )
    held = {row[0] for row in con.execute("describe _eval_identifiable").fetchall()}
    shares_a_value = (
        " or ".join(
            f"coalesce(l.{column} = r.{column}, false)"
            for column in shared_value_columns
            if column in held
        )
        or "false"
    )
    (sharing,) = con.execute(
        f"""select count(*) from _eval_identifiable as l
        inner join _eval_identifiable as r
            on l.person_id = r.person_id and l.record_key < r.record_key
        where {shares_a_value}"""
    ).fetchall()[0]
    any_rule = " or ".join(f"rule_{i}" for i in range(len(rules))) or "false"
    # How many of the edge and the rules reach a pair: 1 means only one does.
    reached_by = " + ".join(
        ["is_deterministic::int"] + [f"rule_{i}::int" for i in range(len(rules))]
    )
    per_rule_counts = "".join(f", count(*) filter (where rule_{i})" for i in range(len(rules)))
    only_rule_counts = "".join(
        f", count(*) filter (where rule_{i} and {reached_by} = 1)" for i in range(len(rules))
    )
    true_pairs, deterministic, by_rules, reached, *per_rule = con.execute(
        f"""
        select count(*), count(*) filter (where is_deterministic),
            count(*) filter (where {any_rule}),
            count(*) filter (where is_deterministic or {any_rule})
            {per_rule_counts}{only_rule_counts}
        from _eval_true_pairs
        """
    ).fetchall()[0]
    per_rule, only = per_rule[: len(rules)], per_rule[len(rules) :]
    reachable = _reachable_true_pairs(con, f"is_deterministic or {any_rule}")
    comparisons = None
    if _relation_exists(con, SCORING_RUNS):
        full = con.execute(
            f"select records, comparisons from {SCORING_RUNS} "
            "where coalesce(is_full, true) order by scored_at desc limit 1"
        ).fetchall()
        if full and full[0][0]:
            comparisons = {
                "records": int(full[0][0]),
                "comparisons": int(full[0][1]),
                "per_record": round(full[0][1] / full[0][0], 2),
            }
    return {
        "true_pairs": int(true_pairs),
        "pairs_completeness": _ratio(int(reached), int(true_pairs)),
        "by_deterministic_edges": _ratio(int(deterministic), int(true_pairs)),
        "by_blocking_rules": _ratio(int(by_rules), int(true_pairs)),
        "pairs_missed": int(true_pairs) - int(reached),
        # The ceiling blocking leaves to clustering: true pairs a chain of
        # reached pairs of the same person connects.
        "reachable_through_other_records": _ratio(reachable, int(true_pairs)),
        "sharing_a_value_beyond_first_name": _ratio(int(sharing), int(true_pairs)),
        "rules": [
            {
                "rule": rule,
                "pairs": int(n),
                "share": _ratio(int(n), int(true_pairs)),
                "pairs_no_other_rule_or_edge_reaches": int(alone),
            }
            for rule, n, alone in zip(rules, per_rule, only, strict=True)
        ],
        "full_scoring": comparisons,
    }


PROBABILISTIC_EDGES = "intermediate.int_identity_edges__probabilistic"
AUTO_LINK_THRESHOLDS = "intermediate.int_auto_link_thresholds"


def _probability(value: float | None) -> str:
    """A threshold read off the pairs has all of a float's digits; six say it."""
    return "none" if value is None else f"{value:.6g}"


def _auto_links(con: engine.Connection, links: Path) -> dict[str, Any]:
    """The current model's auto-link threshold and the false-link rate it
    expected there, beside the rate measured against the truth: of the pairs
    the model auto-linked, the share whose records are two people."""
    if not (
        _relation_exists(con, AUTO_LINK_THRESHOLDS) and _relation_exists(con, PROBABILISTIC_EDGES)
    ):
        return {}
    rows = con.execute(
        f"""select thresholds.model_version, thresholds.auto_link_threshold,
            thresholds.estimated_false_link_rate, thresholds.max_false_link_rate
        from {AUTO_LINK_THRESHOLDS} as thresholds
        inner join matching.splink_models as models using (model_version)
        where models.is_current"""
    ).fetchall()
    if not rows:
        return {}
    version, threshold, estimated, target = rows[0]
    # The model's pairs with the truth's verdict, joined once for every figure.
    con.execute(
        f"""create or replace temp table _eval_model_edges as
        select edges.match_band, edges.match_probability, edges.auto_link_threshold,
            edges.contradicted_by, truth_a.person_id = truth_b.person_id as is_true
        from {PROBABILISTIC_EDGES} as edges
        inner join read_parquet({sql_string(links)}) as truth_a
            on edges.record_key_a = truth_a.source_table || ':' || truth_a.source_record_id
        inner join read_parquet({sql_string(links)}) as truth_b
            on edges.record_key_b = truth_b.source_table || ':' || truth_b.source_record_id
        where edges.model_version = ?""",
        [version],
    )
    applied, linked, expected_false, false_links = con.execute(
        """select max(auto_link_threshold), count(*) filter (where match_band = 'auto_link'),
            coalesce(sum(1 - match_probability) filter (where match_band = 'auto_link'), 0),
            count(*) filter (where match_band = 'auto_link' and not is_true)
        from _eval_model_edges"""
    ).fetchall()[0]
    vetoes = [
        {
            "check": check,
            "true_pairs": int(true_pairs),
            "false_pairs": int(false_pairs),
            "true_pairs_only_this_check": int(true_alone),
            "false_pairs_only_this_check": int(false_alone),
        }
        for check, true_pairs, false_pairs, true_alone, false_alone in con.execute(
            """with stopped as (
                select
                    unnest(string_split(contradicted_by, ',')) as check_name,
                    contradicted_by not like '%,%' as is_alone,
                    is_true
                from _eval_model_edges
                where contradicted_by is not null and match_probability >= auto_link_threshold
            )
            select check_name, count(*) filter (where is_true),
                count(*) filter (where not is_true),
                count(*) filter (where is_true and is_alone),
                count(*) filter (where not is_true and is_alone)
            from stopped group by check_name order by check_name"""
        ).fetchall()
    ]
    return {
        "model_version": version,
        "threshold": float(threshold),
        # A threshold pinned in dbt_project.yml (match_probability_auto_link) wins.
        "applied_threshold": float(applied) if applied is not None else float(threshold),
        "target_false_link_rate": float(target),
        # At the threshold, over every undecided pair, when it was chosen.
        "estimated_false_link_rate": round(float(estimated), _DIGITS),
        # Over today's auto-links (after the contradiction checks).
        "auto_links": int(linked),
        "expected_false_link_rate": round(_ratio_or_zero(expected_false, linked), _DIGITS),
        "measured_false_link_rate": round(_ratio_or_zero(false_links, linked), _DIGITS),
        # Pairs at or above the threshold that a contradiction check stopped,
        # by check and by the truth: what each check costs (true pairs) and
        # buys (false pairs), as edges; alone, the pairs no other check stopped.
        "contradiction_checks": vetoes,
    }


def _ratio_or_zero(num: float, den: int) -> float:
    return 0.0 if den == 0 else float(num) / den


def _reachable_true_pairs(con: engine.Connection, reached: str) -> int:
    """True pairs whose records a chain of reached true pairs connects: the
    components of each person's records under the reached pairs, by
    propagating the least record key until nothing changes."""
    con.execute(
        f"""create or replace temp table _eval_reach_edges as
        select record_key_l as record_key, record_key_r as neighbour
        from _eval_true_pairs where {reached}
        union all
        select record_key_r, record_key_l from _eval_true_pairs where {reached}"""
    )
    con.execute(
        """create or replace temp table _eval_reach_labels as
        select record_key, person_id, record_key as label from _eval_identifiable"""
    )
    while True:
        con.execute(
            """create or replace temp table _eval_reach_next as
            select labels.record_key, labels.person_id,
                least(labels.label, coalesce(min(neighbours.label), labels.label)) as label
            from _eval_reach_labels as labels
            left join _eval_reach_edges as edges on labels.record_key = edges.record_key
            left join _eval_reach_labels as neighbours on edges.neighbour = neighbours.record_key
            group by labels.record_key, labels.person_id, labels.label"""
        )
        changed = con.execute(
            """select count(*) from _eval_reach_next as next
            inner join _eval_reach_labels as labels using (record_key)
            where next.label <> labels.label"""
        ).fetchall()[0][0]
        con.execute(
            "create or replace temp table _eval_reach_labels as select * from _eval_reach_next"
        )
        if not changed:
            break
    return int(
        con.execute(
            """select coalesce(sum(n * (n - 1) // 2), 0) from (
                select count(*) as n from _eval_reach_labels group by person_id, label)"""
        ).fetchall()[0][0]
    )


def _lifecycle(con: engine.Connection, links: Path) -> dict[str, int]:
    """Merge and split events against the truth: a merge is true when the ids it
    joined held records of one person; a split is true when its parts now hold
    different people (by each part's most common person)."""
    if not _analysis().relation_exists(con, "marts", "identity_events"):
        return {}
    con.execute(
        f"""create or replace temp table _eval_id_people as
        select assignments.customer_id, truth.person_id, count(*) as records
        from intermediate.int_customer_id_assignments as assignments
        inner join read_parquet({sql_string(links)}) as truth
            on assignments.source_table = truth.source_table
            and assignments.source_record_id = truth.source_record_id
        group by all"""
    )
    con.execute(
        """create or replace temp table _eval_id_person as
        select customer_id, arg_max(person_id, records) as person_id
        from _eval_id_people group by customer_id"""
    )

    def count(sql: str) -> int:
        return int(con.execute(sql).fetchall()[0][0])

    merges = """select event_id, unnest(string_split(customer_ids_before, ',')) as customer_id
        from marts.identity_events where event_type = 'merge'"""
    splits = """select event_id, unnest(string_split(customer_ids_after, ',')) as customer_id
        from marts.identity_events where event_type = 'split'"""
    verdict = """select event_id, count(distinct person.person_id) as people
        from ({events}) as ids inner join _eval_id_person as person using (customer_id)
        group by event_id"""
    return {
        "merge_events": count(
            "select count(*) from marts.identity_events where event_type = 'merge'"
        ),
        "merges_true": count(
            f"select count(*) from ({verdict.format(events=merges)}) where people = 1"
        ),
        "merges_false": count(
            f"select count(*) from ({verdict.format(events=merges)}) where people > 1"
        ),
        "split_events": count(
            "select count(*) from marts.identity_events where event_type = 'split'"
        ),
        "splits_true": count(
            f"select count(*) from ({verdict.format(events=splits)}) where people > 1"
        ),
        "splits_false": count(
            f"select count(*) from ({verdict.format(events=splits)}) where people = 1"
        ),
        "new_events": count("select count(*) from marts.identity_events where event_type = 'new'"),
    }


def format_evaluation(result: dict[str, Any]) -> str:
    rec, pw, b3, cl = (result[k] for k in ("records", "pairwise", "bcubed", "clusters"))
    fm, fs = cl["false_merges"], cl["false_splits"]
    lines = [
        f"records   {rec['scored']:,} scored; "
        + (
            f"{rec['erased_by_request']:,} erased by privacy requests; "
            if rec.get("erased_by_request")
            else ""
        )
        + f"{rec['missing_from_xref']:,} live missing from "
        f"xref; {rec['xref_not_in_truth']:,} xref not in truth; "
        f"{rec['xref_not_live_in_truth']:,} xref not live",
        f"pairwise  P {pw['precision']:.4f}  R {pw['recall']:.4f}  F1 {pw['f1']:.4f}  "
        f"(tp {pw['tp']:,}  fp {pw['fp']:,}  fn {pw['fn']:,})",
        f"b-cubed   P {b3['precision']:.4f}  R {b3['recall']:.4f}  F1 {b3['f1']:.4f}",
        f"clusters  {cl['predicted']:,} predicted for {cl['true_persons']:,} persons",
        f"          false merges: {fm['clusters']:,} clusters holding {fm['records']:,} records "
        f"of {fm['persons']:,} persons",
        f"          false splits: {fs['persons']:,} persons ({fs['records']:,} records) "
        f"over {fs['extra_clusters']:,} extra clusters",
    ]
    ident = result.get("identifiable")
    if ident and ident["anonymous_records"]:
        ipw, ib3 = ident["pairwise"], ident["bcubed"]
        lines += [
            f"without the {ident['anonymous_records']:,} anonymous records (no identifying "
            f"attribute at all; scored on {ident['records']:,}):",
            f"pairwise  P {ipw['precision']:.4f}  R {ipw['recall']:.4f}  F1 {ipw['f1']:.4f}  "
            f"(tp {ipw['tp']:,}  fp {ipw['fp']:,}  fn {ipw['fn']:,})",
            f"b-cubed   P {ib3['precision']:.4f}  R {ib3['recall']:.4f}  F1 {ib3['f1']:.4f}",
        ]
    blocking = result.get("blocking")
    if blocking:
        scoring = blocking["full_scoring"]
        lines += [
            f"blocking  pairs completeness {blocking['pairs_completeness']:.4f} of "
            f"{blocking['true_pairs']:,} true pairs among identifiable records "
            f"({blocking['pairs_missed']:,} reach the model by no rule or edge); "
            f"deterministic edges {blocking['by_deterministic_edges']:.4f}, "
            f"blocking rules {blocking['by_blocking_rules']:.4f}; "
            f"{blocking['reachable_through_other_records']:.4f} reachable through other records "
            "of the person; "
            f"{blocking['sharing_a_value_beyond_first_name']:.4f} share a value beyond a first "
            "name (no block on values reaches the rest)"
            + (
                f"; {scoring['per_record']:,} comparisons per record in the last full scoring"
                if scoring
                else ""
            ),
        ]
    auto = result.get("auto_links")
    if auto:
        lines += [
            f"auto-link threshold {_probability(auto['applied_threshold'])} (the model's own, "
            f"for at most {auto['target_false_link_rate']:.2%} of its links false: "
            f"{_probability(auto['threshold'])}); "
            "of its "
            f"{auto['auto_links']:,} auto-links the model expects "
            f"{auto['expected_false_link_rate']:.4%} false, the truth shows "
            f"{auto['measured_false_link_rate']:.4%}",
        ]
        if auto["contradiction_checks"]:
            lines += [
                "contradiction checks above the threshold "
                "(true / false pairs stopped; by it alone):"
            ]
            lines += [
                f"  {c['check']:<24} {c['true_pairs']:>7,} / {c['false_pairs']:<7,} "
                f"alone {c['true_pairs_only_this_check']:,} / {c['false_pairs_only_this_check']:,}"
                for c in auto["contradiction_checks"]
            ]
    pairs = sorted(
        result["by_source_pair"],
        key=lambda r: (r["f1"], -(r["fp"] + r["fn"]), r["source_a"], r["source_b"]),
    )
    if pairs:
        lines += [
            "",
            f"{'source pair (worst first)':<44} {'tp':>12} {'fp':>10} {'fn':>10} "
            f"{'prec':>7} {'recall':>7}",
        ]
        lines += [
            f"{r['source_a'] + ' ~ ' + r['source_b']:<44} {r['tp']:>12,} {r['fp']:>10,} "
            f"{r['fn']:>10,} {r['precision']:>7.4f} {r['recall']:>7.4f}"
            for r in pairs
        ]
    if result["hard_negatives"]:
        lines += [
            "",
            f"{'hard-negative kind':<24} {'groups':>8} {'merged groups':>14} "
            f"{'merged person pairs':>20}",
        ]
        lines += [
            f"{kind:<24} {h['groups']:>8,} {h['groups_falsely_merged']:>14,} "
            f"{h['falsely_merged_person_pairs']:>20,}"
            for kind, h in result["hard_negatives"].items()
        ]
    return "\n".join(lines)


def write_evaluation(result: dict[str, Any], path: str | os.PathLike) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n")
    return target
