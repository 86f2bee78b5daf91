"""Training and scoring the identity model against a warehouse.

Trained models are versioned artifacts of the deployment, stored in the
warehouse itself (`matching.splink_models`): the JSON Splink writes (settings,
m and u per level, prior), its version (a hash of that JSON), when and on how
many records it was trained. Exactly one version is current; scoring always
uses it, so daily runs do not drift between re-trainings.

Scoring writes `matching.splink_match_pairs` (the scored pairs worth keeping)
and appends to `matching.splink_scoring_runs` how many comparisons it made.
dbt reads the pairs as a source and decides what they mean (thresholds,
bands, deterministic pairs already linked).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass

import duckdb

from splink_models import identity

SCHEMA = "matching"
MODELS_TABLE = f"{SCHEMA}.splink_models"
PAIRS_TABLE = f"{SCHEMA}.splink_match_pairs"
RUNS_TABLE = f"{SCHEMA}.splink_scoring_runs"
# What each record looked like (a hash of the columns the model reads) when
# its pairs were last scored, and by which model: a daily run re-scores only
# the pairs of records that changed since.
SCORED_TABLE = f"{SCHEMA}.splink_scored_records"
INPUT_RELATION = "intermediate.int_identity_records"
_INPUT_TABLE = "c360_splink_input"

# An EM session needs pairs to learn from; a deployment whose sources lack a
# column (no emails at all) skips the sessions that block on it.
MIN_TRAINING_PAIRS = 500

# Pairs below this probability are kept nowhere: they are neither links nor
# worth a steward's look (the dbt vars set the bands above it).
STORE_FLOOR = 0.5


class UntrainableModel(ValueError):
    """The records do not yet hold enough comparable pairs to estimate a model."""


@dataclass(frozen=True)
class TrainedModel:
    version: str
    trained_at: dt.datetime
    records: int
    model: dict
    definition_version: str | None = None

    @property
    def fits_the_code(self) -> bool:
        return self.definition_version == identity.definition_version()


@dataclass(frozen=True)
class ScoringResult:
    model_version: str
    records: int
    comparisons: int
    pairs_kept: int
    # Records scored against all others this run: every record when scoring
    # in full, else those new or changed since the last scoring.
    records_rescored: int = 0
    is_full: bool = True


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(
        f"""create table if not exists {MODELS_TABLE} (
            model_version varchar primary key,
            model_name varchar not null,
            trained_at timestamp not null,
            trained_on_records bigint not null,
            is_current boolean not null,
            model_json varchar not null
        )"""
    )
    # Models stored before definitions were versioned count as not fitting.
    con.execute(f"alter table {MODELS_TABLE} add column if not exists definition_version varchar")
    con.execute(
        f"""create table if not exists {RUNS_TABLE} (
            scored_at timestamp not null,
            model_version varchar not null,
            records bigint not null,
            comparisons bigint not null,
            pairs_kept bigint not null
        )"""
    )
    con.execute(f"alter table {RUNS_TABLE} add column if not exists run_date date")
    con.execute(f"alter table {RUNS_TABLE} add column if not exists records_rescored bigint")
    con.execute(f"alter table {RUNS_TABLE} add column if not exists is_full boolean")
    con.execute(
        f"""create table if not exists {SCORED_TABLE} (
            record_key varchar primary key,
            features_hash ubigint not null,
            model_version varchar not null
        )"""
    )
    con.execute(f"alter table {SCORED_TABLE} add column if not exists scored_on date")


def _stage_input(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'intermediate' and table_name = 'int_identity_records'"
    ).fetchall()[0][0]
    if not exists:
        raise ValueError(
            f"{INPUT_RELATION} does not exist: build the dbt models up to it first "
            "(c360 run does this)"
        )
    columns = ", ".join(identity.INPUT_COLUMNS)
    con.execute(
        f"create or replace temp table {_INPUT_TABLE} as select {columns}, "
        f"hash({columns}) as _features_hash, true as _is_changed from {INPUT_RELATION}"
    )
    return con.execute(f"select count(*) from {_INPUT_TABLE}").fetchall()[0][0]


def _linker(con: duckdb.DuckDBPyConnection, settings, log_level: int = logging.WARNING):
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection=con)
    frame = db_api.register(_INPUT_TABLE)
    return Linker(frame, settings, log_level=log_level)


def _pairs_in_block(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...]) -> int:
    keys = ", ".join(columns)
    present = " and ".join(f"{c} is not null" for c in columns)
    return con.execute(
        f"select coalesce(sum(n * (n - 1) // 2), 0) from ("
        f"select count(*) as n from {_INPUT_TABLE} where {present} group by {keys})"
    ).fetchall()[0][0]


def current_model(con: duckdb.DuckDBPyConnection) -> TrainedModel | None:
    _ensure_schema(con)
    rows = con.execute(
        f"select model_version, trained_at, trained_on_records, model_json, definition_version "
        f"from {MODELS_TABLE} where is_current"
    ).fetchall()
    if not rows:
        return None
    version, trained_at, records, model_json, definition = rows[0]
    return TrainedModel(version, trained_at, records, json.loads(model_json), definition)


def train(
    con: duckdb.DuckDBPyConnection,
    *,
    u_max_pairs: float = 5e6,
    seed: int = 42,
    prior_recall: float = 0.7,
) -> TrainedModel:
    """Estimate the model from the warehouse's identity records and make it current.

    u comes from random sampling (random pairs are almost all non-matches);
    m from expectation maximisation over the training blocks; the prior from
    near-certain rules divided by their assumed recall.
    """
    _ensure_schema(con)
    records = _stage_input(con)
    if records < 2:
        raise UntrainableModel(f"cannot train on {records} identity record(s)")
    linker = _linker(con, identity.settings())
    linker.training.estimate_probability_two_random_records_match(
        identity.deterministic_rules_for_prior(), recall=prior_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    sessions = [
        columns
        for columns in identity.TRAINING_BLOCKS
        if _pairs_in_block(con, columns) >= MIN_TRAINING_PAIRS
    ]
    if not sessions:
        raise UntrainableModel(
            "no training block yields enough pairs to estimate the model "
            f"(at least {MIN_TRAINING_PAIRS} needed): the identity records share too little"
        )
    from splink import block_on

    for columns in sessions:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*columns))
    model = linker.misc.save_model_to_json()
    # The linker's uid is random per run; leaving it out makes the version a
    # function of what was learned.
    model.pop("linker_uid", None)
    text = json.dumps(model, sort_keys=True)
    version = f"{identity.MODEL_NAME}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    con.execute(f"update {MODELS_TABLE} set is_current = false")
    con.execute(f"delete from {MODELS_TABLE} where model_version = ?", [version])
    definition = identity.definition_version()
    con.execute(
        f"insert into {MODELS_TABLE} (model_version, model_name, trained_at, trained_on_records, "
        "is_current, model_json, definition_version) values (?, ?, ?, ?, true, ?, ?)",
        [version, identity.MODEL_NAME, trained_at, records, text, definition],
    )
    con.execute("commit")
    linker.table_management.delete_tables_created_by_splink_from_db()
    return TrainedModel(version, trained_at, records, model, definition)


def score(
    con: duckdb.DuckDBPyConnection,
    model: TrainedModel | None = None,
    *,
    run_date: dt.date | None = None,
    full: bool = False,
) -> ScoringResult:
    """Score identity record pairs with the current model.

    Incremental unless told otherwise: only pairs with at least one record
    that is new or changed since the last scoring (by a hash of the columns
    the model reads) are scored; pairs of records that left are dropped; the
    other stored pairs stand, since their inputs have not changed. In full
    (first run, a new current model, or `full=True`) every blocked pair is
    scored again. Term frequencies are always those of all records today, so
    an incrementally kept pair can differ by the drift of a name's frequency
    since it was scored; re-training re-scores everything.
    """
    _ensure_schema(con)
    model = model or current_model(con)
    if model is None:
        raise ValueError("no trained identity model in this warehouse: run `c360 train`")
    records = _stage_input(con)
    scored_by = {
        r[0] for r in con.execute(f"select distinct model_version from {SCORED_TABLE}").fetchall()
    }
    pairs_exist = con.execute(
        "select count(*) from information_schema.tables "
        f"where table_schema = '{SCHEMA}' and table_name = 'splink_match_pairs'"
    ).fetchall()[0][0]
    full = full or not pairs_exist or scored_by != {model.version}
    settings = json.loads(json.dumps(model.model))
    if not full:
        con.execute(
            f"""update {_INPUT_TABLE} as input set _is_changed = false
            from {SCORED_TABLE} as scored
            where input.record_key = scored.record_key
              and input._features_hash = scored.features_hash"""
        )
        # A pair is worth scoring only if one side changed: the same blocks,
        # restricted. Each rule is split in two, the changed record on the
        # left and on the right, so that the engine filters one side of the
        # join before joining (a hash table of the changed records, probed by
        # every record) instead of joining every block whole and filtering
        # after: `l._is_changed or r._is_changed` cannot be pushed down.
        # Splink still generates each pair once: a rule excludes the pairs of
        # the rules before it.
        settings["blocking_rules_to_generate_predictions"] = [
            {**rule, "blocking_rule": f"({rule['blocking_rule']}) and {side}"}
            for rule in settings["blocking_rules_to_generate_predictions"]
            for side in ("l._is_changed", "r._is_changed and not l._is_changed")
        ]
    rescored = con.execute(f"select count(*) from {_INPUT_TABLE} where _is_changed").fetchall()[0][
        0
    ]
    comparisons = 0
    con.execute(
        """create or replace temp table c360_scored_pairs (
            record_key_a varchar, record_key_b varchar)"""
    )
    if rescored:
        # Training already reported which levels it could not estimate; scoring
        # would repeat it on every daily run.
        linker = _linker(con, settings, log_level=logging.ERROR)
        predictions = linker.inference.predict()
        # The index of the model's rule a pair came from, as a full scoring numbers it.
        rule_index = "match_key" if full else "cast(cast(match_key as integer) // 2 as varchar)"
        scored = predictions.physical_name
        comparisons = con.execute(f"select count(*) from {scored}").fetchall()[0][0]
        con.execute(
            f"""create or replace temp table c360_scored_pairs as
            select
                least(record_key_l, record_key_r) as record_key_a,
                greatest(record_key_l, record_key_r) as record_key_b,
                match_weight,
                match_probability,
                '{model.version}' as model_version,
                {rule_index} as blocking_rule_index,
                {", ".join(_weight_columns(con, scored))}
            from {scored}
            where match_probability >= {STORE_FLOOR}"""
        )
        linker.table_management.delete_tables_created_by_splink_from_db()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    if full:
        if rescored:
            con.execute(f"create or replace table {PAIRS_TABLE} as select * from c360_scored_pairs")
        else:
            _create_empty_pairs(con)
        con.execute(f"delete from {SCORED_TABLE}")
    else:
        stale = f"""(select record_key from {_INPUT_TABLE} where _is_changed
            union all select record_key from {SCORED_TABLE}
            where record_key not in (select record_key from {_INPUT_TABLE}))"""
        con.execute(
            f"delete from {PAIRS_TABLE} where record_key_a in {stale} or record_key_b in {stale}"
        )
        if rescored:
            con.execute(f"insert into {PAIRS_TABLE} by name select * from c360_scored_pairs")
        con.execute(
            f"delete from {SCORED_TABLE} where record_key not in "
            f"(select record_key from {_INPUT_TABLE}) or record_key in "
            f"(select record_key from {_INPUT_TABLE} where _is_changed)"
        )
    con.execute(
        f"insert into {SCORED_TABLE} (record_key, features_hash, model_version, scored_on) "
        f"select record_key, _features_hash, ?, ? from {_INPUT_TABLE} where _is_changed",
        [model.version, run_date],
    )
    kept = con.execute(f"select count(*) from {PAIRS_TABLE}").fetchall()[0][0]
    con.execute(
        f"insert into {RUNS_TABLE} (scored_at, model_version, records, comparisons, pairs_kept, "
        "run_date, records_rescored, is_full) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [now, model.version, records, comparisons, kept, run_date, rescored, full],
    )
    con.execute("commit")
    return ScoringResult(model.version, records, comparisons, kept, rescored, full)


def _create_empty_pairs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""create or replace table {PAIRS_TABLE} (
            record_key_a varchar, record_key_b varchar, match_weight double,
            match_probability double, model_version varchar, blocking_rule_index varchar
        )"""
    )


def score_nothing(
    con: duckdb.DuckDBPyConnection, *, run_date: dt.date | None = None
) -> ScoringResult:
    """Record that no model could score this run: no pairs, so the records are
    linked by the deterministic rules alone (and stale pairs of an earlier
    run are not reused)."""
    _ensure_schema(con)
    records = _stage_input(con)
    con.execute("begin transaction")
    _create_empty_pairs(con)
    con.execute(f"delete from {SCORED_TABLE}")
    con.execute(
        f"insert into {RUNS_TABLE} (scored_at, model_version, records, comparisons, pairs_kept, "
        "run_date, records_rescored, is_full) values (?, 'none', ?, 0, 0, ?, 0, true)",
        [dt.datetime.now(dt.UTC).replace(tzinfo=None), records, run_date],
    )
    con.execute("commit")
    return ScoringResult("none", records, 0, 0, 0, True)


def _weight_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Each comparison's share of the match weight: why a pair scored what it did."""
    cols = [r[1] for r in con.execute(f"pragma table_info('{table}')").fetchall()]
    return [c for c in cols if c.startswith("mw_")]
