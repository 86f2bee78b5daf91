"""The baseline of `make bench`: plain Splink 5 on DuckDB, written the way a
user would write it in an afternoon, over the identity records the pipeline
sees on day 0.

It reads the first `dt=` partition of the six identity tables, unions them
into one table with light cleaning (lower/trim, digits-only phone, empty
string -> null), and follows the usual recipe of Splink's tutorials:
out-of-the-box comparisons, five blocking rules, the prior from
deterministic rules, u by random sampling, m by EM on two blocking rules,
`predict` at 0.9 and connected components at the same threshold.

On a landing zone without some columns (the generator's `hard` and
`names_dob` profiles have no email, phone or address) it degrades as a
user's script would: a column null throughout loses its comparison and the
blocking and prior rules that use it (Splink cannot train a comparison
that never has a value), and the second EM session, blocked on email,
blocks on the first of phone, date of birth and postal code that has values.

None of the pipeline's work is here (no tokenization, no staging history,
no golden record, no stable ids), and none of its matching knowledge
(nickname folding, capped blocks, contradiction checks, the over-merge
guard). It is a yardstick for time: how long the pipeline's day 0 takes
against what a user would run by hand on the same records.

    python -m c360.tools.bench_baseline --landing DIR/landing [--truth DIR/truth]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from c360 import engine, warehouse
from c360.contract import IDENTITY_TABLES, OP_COLUMN

# The one input table: unique_id = source_table || ':' || key.
COLUMNS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "postal_code",
    "city",
    "street_address",
)
THRESHOLD = 0.9
INPUT_TABLE = "baseline_input"
# The same number of random pairs for u as the pipeline's training
# (splink_models.runtime.train), so the two differ in what they do, not in
# how long they sample.
U_MAX_PAIRS = 5e6
PRIOR_RECALL = 0.7


def first_partition(landing: Path, table: str) -> Path | None:
    partitions = sorted(p for p in (landing / table).glob("dt=*") if p.is_dir())
    return partitions[0] if partitions else None


def _source_column(table_columns: set[str], column: str) -> str | None:
    """The table's column for one of COLUMNS: the same name, or the app's
    `profile_` one (profile_email, profile_first_name)."""
    for name in (column, f"profile_{column}"):
        if name in table_columns:
            return name
    return None


def _clean(expr: str, column: str) -> str:
    if column == "date_of_birth":
        return f"try_cast({expr} as date)"
    text = f"lower(trim(cast({expr} as varchar)))"
    if column == "phone":
        text = f"regexp_replace({text}, '[^0-9]', '', 'g')"
    return f"nullif({text}, '')"


def input_sql(landing: Path) -> str:
    """One select per identity table present in the landing zone, unioned."""
    parts = []
    for table in IDENTITY_TABLES:
        partition = first_partition(landing, table.name)
        if partition is None or not any(partition.glob("*.parquet")):
            continue
        columns = {name for name, _ in table.all_columns}
        selects = [f"'{table.name}:' || {table.key} as unique_id", f"'{table.name}' as source"]
        for column in COLUMNS:
            source = _source_column(columns, column)
            value = _clean(source, column) if source else "null"
            kind = "date" if column == "date_of_birth" else "varchar"
            selects.append(f"cast({value} as {kind}) as {column}")
        files = str(partition / "*.parquet").replace("'", "''")
        parts.append(
            f"select {', '.join(selects)} from read_parquet('{files}') "
            f"where coalesce({OP_COLUMN}, 'U') <> 'D' "
            # A full extract holds one row per key; keep the last if not.
            f"qualify row_number() over (partition by {table.key} "
            "order by _extracted_at desc) = 1"
        )
    if not parts:
        raise ValueError(f"no identity table with a partition under {landing}")
    return "\nunion all\n".join(parts)


BLOCKING_RULES = (
    ("email",),
    ("phone",),
    ("first_name", "last_name"),
    ("last_name", "date_of_birth"),
    ("postal_code", "first_name"),
)
# The prior's deterministic rules, and the EM sessions: the first on names;
# the second on email, or where there is none (a landing without contact
# data), on the first of these columns that has values, so that the name
# comparisons' m are estimated somewhere.
PRIOR_RULES = (("email",), ("first_name", "last_name", "date_of_birth"))
SECOND_EM_BLOCK = ("email", "phone", "date_of_birth", "postal_code")


def _usable(rules, present: set[str]) -> list[tuple[str, ...]]:
    return [rule for rule in rules if set(rule) <= present]


def settings(present: set[str] | None = None):
    """The tutorial's settings over the columns that have values: a user's
    script drops a comparison (and the blocking rules) of a column that is
    null throughout, on which Splink's training breaks."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    present = set(COLUMNS) if present is None else present
    comparisons = {
        # Term frequencies on the exact-match level, as these come.
        "first_name": cl.NameComparison("first_name"),
        "last_name": cl.NameComparison("last_name"),
        "date_of_birth": cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
        "email": cl.EmailComparison("email"),
        "phone": cl.ExactMatch("phone"),
        "postal_code": cl.ExactMatch("postal_code").configure(term_frequency_adjustments=True),
        "city": cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        "street_address": cl.JaroWinklerAtThresholds("street_address", [0.95, 0.88]),
    }
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[c for column, c in comparisons.items() if column in present],
        blocking_rules_to_generate_predictions=[
            block_on(*rule) for rule in _usable(BLOCKING_RULES, present)
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def present_columns(con: engine.Connection) -> set[str]:
    """The COLUMNS that hold a value in at least one record."""
    counts = con.execute(
        f"select {', '.join(f'count({c})' for c in COLUMNS)} from {INPUT_TABLE}"
    ).fetchall()[0]
    return {c for c, n in zip(COLUMNS, counts, strict=True) if n}


def _accuracy(con: engine.Connection, clusters: str, truth: Path) -> dict:
    """Pairwise precision and recall of the clusters against the truth, from
    (cluster, person) cell counts as `c360 evaluate` computes them; and of the
    predicted pairs themselves."""
    links = str(truth / "person_links.parquet").replace("'", "''")
    con.execute(
        f"""create or replace temp table baseline_truth as
        select source_table || ':' || source_record_id as unique_id, person_id
        from read_parquet('{links}')"""
    )
    con.execute(
        f"""create or replace temp table baseline_cells as
        select c.cluster_id, t.person_id, count(*) as n
        from {clusters} c join baseline_truth t using (unique_id)
        group by all"""
    )
    tp, predicted, true_pairs, scored = con.execute(
        """select
            (select coalesce(sum(n * (n - 1) // 2), 0) from baseline_cells),
            (select coalesce(sum(s * (s - 1) // 2), 0)
             from (select sum(n) as s from baseline_cells group by cluster_id)),
            (select coalesce(sum(s * (s - 1) // 2), 0)
             from (select sum(n) as s from baseline_cells group by person_id)),
            (select coalesce(sum(n), 0) from baseline_cells)"""
    ).fetchall()[0]
    tp, predicted, true_pairs = int(tp), int(predicted), int(true_pairs)
    precision = tp / predicted if predicted else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records_scored": int(scored),
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
        "tp": tp,
        "fp": predicted - tp,
        "fn": true_pairs - tp,
    }


def _pair_accuracy(con: engine.Connection, predictions: str) -> dict:
    tp, pairs = con.execute(
        f"""select count(*) filter (where tl.person_id = tr.person_id), count(*)
        from {predictions} p
        join baseline_truth tl on tl.unique_id = p.unique_id_l
        join baseline_truth tr on tr.unique_id = p.unique_id_r"""
    ).fetchall()[0]
    return {"precision": round(tp / pairs, 6) if pairs else 1.0, "tp": int(tp), "pairs": int(pairs)}


def run_baseline(
    landing: Path,
    work_dir: Path,
    truth: Path | None = None,
    *,
    count_comparisons: bool = True,
    keep: bool = False,
) -> dict:
    """Run the baseline; return wall seconds per step and what it found.

    `seconds` holds load, train, predict, cluster and their total; counting
    the comparisons the blocking rules make (a user's check before predict)
    is timed apart and not in the total. With `truth` (a folder holding
    person_links.parquet), pairwise precision and recall of the clusters are
    added, and the precision of the predicted pairs."""
    from splink import Linker, block_on

    landing, work_dir = Path(landing), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    db_file = work_dir / "baseline.duckdb"
    db_file.unlink(missing_ok=True)
    seconds: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 1)
        clock = now

    con = warehouse.connect(db_file)
    try:
        con.execute(f"create table {INPUT_TABLE} as {input_sql(landing)}")
        records = con.execute(f"select count(*) from {INPUT_TABLE}").fetchall()[0][0]
        lap("load")

        present = present_columns(con)
        if not {"first_name", "last_name"} <= present:
            raise ValueError("the baseline needs first and last names in the landing zone")
        db_api = engine.splink_api(con)
        linker = Linker(db_api.register(INPUT_TABLE), settings(present), log_level=logging.WARNING)

        comparisons, count_seconds = None, 0.0
        if count_comparisons:
            counted = linker.blocking_analysis.count_comparisons_from_blocking_rules(
                record_sample_proportion=1.0
            )
            comparisons = int(counted[-1]["cumulative_comparison_count"])
            now = time.perf_counter()
            count_seconds = now - clock
            clock = now

        prior_rules = _usable(PRIOR_RULES, present) or [("first_name", "last_name")]
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*rule) for rule in prior_rules], recall=PRIOR_RECALL
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=42)
        em_blocks = [("first_name", "last_name")]
        em_blocks += [(c,) for c in SECOND_EM_BLOCK if c in present][:1]
        for block in em_blocks:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*block))
        lap("train")

        predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
        pairs = con.execute(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
        lap("predict")

        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=THRESHOLD
        )
        n_clusters = con.execute(
            f"select count(distinct cluster_id) from {clusters.physical_name}"
        ).fetchall()[0][0]
        lap("cluster")
        seconds["total"] = round(time.perf_counter() - start - count_seconds, 1)

        result: dict = {
            "benchmark": "baseline",
            "tool": "splink " + _version("splink"),
            "threshold": THRESHOLD,
            "seconds": seconds,
            "records": int(records),
            "comparisons": comparisons,
            "pairs": int(pairs),
            "clusters": int(n_clusters),
        }
        absent = [c for c in COLUMNS if c not in present]
        if absent:
            # What this landing made the script leave out.
            result["columns_without_values"] = absent
            result["em_blocks"] = ["+".join(block) for block in em_blocks]
        if count_comparisons:
            result["count_comparisons_seconds"] = round(count_seconds, 1)
        if truth is not None and (Path(truth) / "person_links.parquet").exists():
            result["accuracy"] = _accuracy(con, clusters.physical_name, Path(truth))
            result["accuracy"]["pairs_precision"] = _pair_accuracy(con, predictions.physical_name)[
                "precision"
            ]
    finally:
        con.close()
        if not keep:
            db_file.unlink(missing_ok=True)
            Path(f"{db_file}.wal").unlink(missing_ok=True)
    return result


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--landing", required=True, type=Path)
    parser.add_argument("--truth", type=Path, help="DIR/truth of `c360 generate`")
    parser.add_argument("--work-dir", type=Path, default=Path("bench_out/baseline"))
    parser.add_argument("--keep", action="store_true", help="keep the baseline's DuckDB file")
    args = parser.parse_args(argv)
    result = run_baseline(args.landing, args.work_dir, args.truth, keep=args.keep)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
