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

from c360 import engine
from splink_models import identity

logger = logging.getLogger(__name__)

SCHEMA = "matching"
MODELS_TABLE = f"{SCHEMA}.splink_models"
PAIRS_TABLE = f"{SCHEMA}.splink_match_pairs"
RUNS_TABLE = f"{SCHEMA}.splink_scoring_runs"
# What each record looked like (a hash of the columns the model reads) when
# its pairs were last scored, and by which model: a daily run re-scores only
# the pairs of records that changed since.
SCORED_TABLE = f"{SCHEMA}.splink_scored_records"
# The term frequencies a model scores with, counted once, at its first
# scoring (docs/incremental.md, "Term frequencies"): a pair's score is then a
# function of its two records and the model alone, so a pair scored on day 3
# and the same pair scored again by a full refresh on day 30 agree. Values
# by digest, and only those two or more records held: a value one record
# held scores as one held once, as every value first seen later does.
TERM_FREQUENCIES_TABLE = f"{SCHEMA}.splink_term_frequencies"
INPUT_RELATION = "intermediate.int_identity_records"
_INPUT_TABLE = "c360_splink_input"
_FROZEN_TERM_FREQUENCIES = "c360_term_frequencies"

# An EM session needs pairs to learn from; a deployment whose sources lack a
# column (no emails at all) skips the sessions that block on it.
MIN_TRAINING_PAIRS = 500
# Below MIN_TRAINING_PAIRS everywhere, the best block is still used down to
# this many pairs (a deployment of a few thousand records); below it, the
# defaults alone.
MIN_FALLBACK_TRAINING_PAIRS = 50

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
    # How training went: its EM sessions, and every parameter set from a
    # default or floor rather than estimated from the records.
    notes: tuple[str, ...] = ()

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


def _ensure_schema(con: engine.Connection) -> None:
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
    con.execute(f"alter table {MODELS_TABLE} add column if not exists training_notes varchar")
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
    con.execute(
        f"""create table if not exists {TERM_FREQUENCIES_TABLE} (
            model_version varchar not null,
            column_name varchar not null,
            value_digest varchar,
            value_records bigint not null
        )"""
    )


def _stage_input(con: engine.Connection, *, changed_since_scoring: bool = False) -> int:
    """Stage the model's input as a temp table; `_is_changed` marks every
    record, or with `changed_since_scoring` those whose features hash differs
    from the one they were last scored with (or that were never scored)."""
    if not engine.relation_exists(con, "intermediate", "int_identity_records"):
        raise ValueError(
            f"{INPUT_RELATION} does not exist: build the dbt models up to it first "
            "(c360 run does this)"
        )
    # The hash covers the fuzzy block keys too: a record whose key a growing
    # group capped (or freed) is scored again, with its blocks as they are.
    columns = ", ".join([*identity.INPUT_COLUMNS, *identity.fuzzy_block_keys()])
    hashed = (
        f"select {columns}, hash({columns}) as _features_hash "
        f"from ({identity.model_input_sql(INPUT_RELATION)})"
    )
    if changed_since_scoring:
        # A join, not an update of the staged table: one statement every
        # engine runs (an update with a join is no Parquet statement).
        con.execute(
            f"create or replace temp table {_INPUT_TABLE} as "
            "select staged.*, scored.record_key is null as _is_changed "
            f"from ({hashed}) as staged left join {SCORED_TABLE} as scored "
            "on staged.record_key = scored.record_key "
            "and staged._features_hash = scored.features_hash"
        )
    else:
        # In key order: the u-sampling draws rows by position, so the model
        # (and its version, a hash of it) would otherwise follow how the
        # records happen to lie in storage (checkpointed or not yet).
        con.execute(
            f"create or replace temp table {_INPUT_TABLE} as "
            f"select *, true as _is_changed from ({hashed}) order by record_key"
        )
    return con.execute(f"select count(*) from {_INPUT_TABLE}").fetchall()[0][0]


def _linker(
    con: engine.Connection,
    settings,
    log_level: int = logging.WARNING,
    term_frequency_columns: tuple[str, ...] = (),
):
    """A linker over the staged input; for the columns named, with the
    term frequencies `_stage_term_frequencies` staged rather than counted
    from the input by Splink."""
    from splink import Linker

    api = engine.splink_api(con)
    linker = Linker(api.register(_INPUT_TABLE), settings, log_level=log_level)
    for column in term_frequency_columns:
        linker.table_management.register_term_frequency_lookup(
            api.register(_term_frequency_lookup(column)), column
        )
    return linker


def _term_frequency_columns(model: dict) -> tuple[str, ...]:
    return tuple(
        sorted(
            {
                level["tf_adjustment_column"]
                for comparison in model.get("comparisons", [])
                for level in comparison.get("comparison_levels", [])
                if level.get("tf_adjustment_column")
            }
        )
    )


def _term_frequency_lookup(column: str) -> str:
    return f"c360_tf_{column}"


def _has_term_frequencies(con: engine.Connection, model_version: str) -> bool:
    return bool(
        con.execute(
            f"select count(*) from {TERM_FREQUENCIES_TABLE} where model_version = ?",
            [model_version],
        ).fetchall()[0][0]
    )


def _stage_term_frequencies(
    con: engine.Connection, model_version: str, columns: tuple[str, ...], *, counted: bool
) -> int | None:
    """Stage, for each term-frequency column, Splink's lookup of every value
    the input holds (value, tf_<column>): from the model's stored counts if
    `counted`, else from counts of the staged input, which
    `_FROZEN_TERM_FREQUENCIES` then holds for the scoring to store. Returns
    how many records held a first name when counted."""
    if counted:
        con.execute(
            f"create or replace temp table {_FROZEN_TERM_FREQUENCIES} as "
            "select column_name, value_digest, value_records "
            f"from {TERM_FREQUENCIES_TABLE} where model_version = ?",
            [model_version],
        )
    else:
        # The row without a digest holds how many records held any value.
        con.execute(
            f"create or replace temp table {_FROZEN_TERM_FREQUENCIES} as "
            + " union all ".join(
                f"select '{column}' as column_name, md5({column}) as value_digest, "
                f"count(*) as value_records from {_INPUT_TABLE} where {column} is not null "
                f"group by {column} having count(*) > 1 "
                f"union all select '{column}', null, count({column}) from {_INPUT_TABLE}"
                for column in columns
            )
        )
    for column in columns:
        con.execute(
            f"""create or replace temp table {_term_frequency_lookup(column)} as
            select
                staged.{column},
                cast(coalesce(frozen.value_records, 1) as double)
                    / greatest(total.value_records, 1) as tf_{column}
            from (select distinct {column} from {_INPUT_TABLE}
                where {column} is not null) as staged
            cross join (select value_records from {_FROZEN_TERM_FREQUENCIES}
                where column_name = '{column}' and value_digest is null) as total
            left join {_FROZEN_TERM_FREQUENCIES} as frozen
                on frozen.column_name = '{column}'
                and frozen.value_digest = md5(staged.{column})"""
        )
    first_name_records = con.execute(
        f"select max(value_records) from {_FROZEN_TERM_FREQUENCIES} "
        "where column_name = 'first_name_normalized' and value_digest is null"
    ).fetchall()[0][0]
    return first_name_records


def _pairs_in_block(con: engine.Connection, columns: tuple[str, ...]) -> int:
    keys = ", ".join(columns)
    present = " and ".join(f"{c} is not null" for c in columns)
    return con.execute(
        f"select coalesce(sum(n * (n - 1) // 2), 0) from ("
        f"select count(*) as n from {_INPUT_TABLE} where {present} group by {keys})"
    ).fetchall()[0][0]


def current_model(con: engine.Connection) -> TrainedModel | None:
    _ensure_schema(con)
    rows = con.execute(
        "select model_version, trained_at, trained_on_records, model_json, definition_version, "
        f"training_notes from {MODELS_TABLE} where is_current"
    ).fetchall()
    if not rows:
        return None
    version, trained_at, records, model_json, definition, notes = rows[0]
    return TrainedModel(
        version,
        trained_at,
        records,
        json.loads(model_json),
        definition,
        tuple(notes.split("\n")) if notes else (),
    )


def train(
    con: engine.Connection,
    *,
    u_max_pairs: float = 5e6,
    seed: int = 42,
    prior_recall: float = 0.7,
) -> TrainedModel:
    """Estimate the model from the warehouse's identity records and make it current.

    u comes from random sampling (random pairs are almost all non-matches);
    m from expectation maximisation over the training blocks that yield
    pairs, then the fallback blocks for comparisons those left without an
    estimate; the prior from near-certain rules divided by their assumed
    recall. Whatever the records cannot estimate (a narrow or young
    deployment) is set from documented defaults and listed in the model's
    `training_notes`: every deployment gets a model, and says how.
    """
    _ensure_schema(con)
    records = _stage_input(con)
    if records < 2:
        raise UntrainableModel(f"cannot train on {records} identity record(s)")
    linker = _linker(con, identity.settings())
    notes: list[str] = []
    # EM reports, per session, every level its blocked pairs never show: a
    # session blocked on the postal code never sees another postal code, by
    # design. What matters is the model after all sessions, reported below.
    em_logger = logging.getLogger("splink.internals.expectation_maximisation")
    previous_level = em_logger.level
    em_logger.setLevel(logging.ERROR)
    try:
        # Each prior rule is a conjunction of equal columns: its pairs are
        # counted by a group-by, not a self-join.
        if any(
            _pairs_in_block(con, tuple(column for _, _, column in rule))
            for rule in identity.PRIOR_RULES
        ):
            linker.training.estimate_probability_two_random_records_match(
                identity.deterministic_rules_for_prior(), recall=prior_recall
            )
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        sessions = _training_sessions(con)
        from splink import block_on

        for columns in sessions:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*columns))
        estimated = _comparisons_with_m_estimates(linker)
        with_data = _comparisons_with_data(con)
        for columns in identity.FALLBACK_TRAINING_BLOCKS:
            lacking = with_data - estimated - identity.comparisons_blocked_by(columns)
            if lacking and _pairs_in_block(con, columns) >= MIN_FALLBACK_TRAINING_PAIRS:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*columns)
                )
                sessions.append(columns)
                estimated = _comparisons_with_m_estimates(linker)
    finally:
        em_logger.setLevel(previous_level)
    if sessions:
        notes.append("m estimated by EM blocked on " + "; ".join(map(" + ".join, sessions)))
    else:
        notes.append(
            "no block yields enough pairs for EM "
            f"(at least {MIN_FALLBACK_TRAINING_PAIRS}): every m from the documented defaults"
        )
    model = linker.misc.save_model_to_json()
    notes += _implied_prior(con, model, records=records, assumed_recall=prior_recall)
    notes += _complete(
        model,
        records=records,
        u_pairs=min(u_max_pairs, records * (records - 1) / 2),
        with_data=with_data,
    )
    # The linker's uid is random per run; leaving it out makes the version a
    # function of what was learned.
    model.pop("linker_uid", None)
    text = json.dumps(model, sort_keys=True)
    version = f"{identity.MODEL_NAME}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    definition = identity.definition_version()
    _make_current(con, version, trained_at, records, text, definition, notes)
    linker.table_management.delete_tables_created_by_splink_from_db()
    for note in notes:
        logger.info("%s: %s", version, note)
    return TrainedModel(version, trained_at, records, model, definition, tuple(notes))


def in_dialect(model: dict, dialect: str) -> dict:
    """A copy of a stored model whose SQL (comparison levels, blocking rules)
    is in the engine's dialect: a model trained on one engine scores on the
    other (the artifact moves between deployments, `c360 model import`)."""
    import sqlglot

    copied = json.loads(json.dumps(model))
    source = copied.get("sql_dialect") or identity.SQL_DIALECT
    if source == dialect:
        return copied
    # Splink names its dialects after sqlglot's, with its own Spark flavour.
    from splink.internals.dialects import SplinkDialect

    read = SplinkDialect.from_string(source).sqlglot_dialect
    write = SplinkDialect.from_string(dialect).sqlglot_dialect

    def translated(sql: str) -> str:
        return sqlglot.transpile(sql, read=read, write=write)[0]

    for comparison in copied.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("sql_condition") not in (None, "ELSE"):
                level["sql_condition"] = translated(level["sql_condition"])
    for rule in copied.get("blocking_rules_to_generate_predictions", []):
        rule["blocking_rule"] = translated(rule["blocking_rule"])
        rule["sql_dialect"] = dialect
    copied["sql_dialect"] = dialect
    return copied


def export_model(con: engine.Connection) -> dict:
    """The current model as an artifact: its version, what it was trained on,
    its parameters and the model definition it fits."""
    model = current_model(con)
    if model is None:
        raise ValueError("no trained identity model in this warehouse: run `c360 train`")
    return {
        "model_version": model.version,
        "model_name": identity.MODEL_NAME,
        "trained_at": model.trained_at.isoformat(),
        "trained_on_records": model.records,
        "definition_version": model.definition_version,
        "training_notes": list(model.notes),
        "model": model.model,
    }


def install_model(con: engine.Connection, artifact: dict) -> TrainedModel:
    """Make an exported model current here, as trained (no re-estimation):
    the next run scores every pair with it. It must fit this code's model
    definition, and its parameters must be the ones its version names."""
    try:
        version, model = artifact["model_version"], artifact["model"]
        trained_at = dt.datetime.fromisoformat(artifact["trained_at"])
        records = int(artifact["trained_on_records"])
    except (KeyError, TypeError, ValueError) as bad:
        raise ValueError(f"not a model artifact (c360 model export writes one): {bad}") from None
    text = json.dumps(model, sort_keys=True)
    if version != f"{identity.MODEL_NAME}-{hashlib.sha256(text.encode()).hexdigest()[:12]}":
        raise ValueError(f"model {version}: its parameters do not match its version")
    definition = artifact.get("definition_version")
    if definition != identity.definition_version():
        raise ValueError(
            f"model {version} was trained for model definition {definition}, "
            f"this code has {identity.definition_version()}: train a model here instead"
        )
    notes = tuple(artifact.get("training_notes") or ())
    _ensure_schema(con)
    _make_current(con, version, trained_at, records, text, definition, notes)
    return TrainedModel(version, trained_at, records, model, definition, notes)


def _make_current(
    con: engine.Connection,
    version: str,
    trained_at: dt.datetime,
    records: int,
    model_json: str,
    definition: str | None,
    notes,
) -> None:
    """Store a model and make it the one scoring uses, in one transaction."""
    with engine.transaction(con):
        con.execute(f"update {MODELS_TABLE} set is_current = false")
        con.execute(f"delete from {MODELS_TABLE} where model_version = ?", [version])
        con.execute(
            f"insert into {MODELS_TABLE} (model_version, model_name, trained_at, "
            "trained_on_records, is_current, model_json, definition_version, training_notes) "
            "values (?, ?, ?, ?, true, ?, ?, ?)",
            [
                version,
                identity.MODEL_NAME,
                trained_at,
                records,
                model_json,
                definition,
                "\n".join(notes),
            ],
        )


def _training_sessions(con: engine.Connection) -> list[tuple[str, ...]]:
    """The training blocks that yield enough pairs; if none does, the one that
    yields most, when it yields any useful number."""
    counted = [(columns, _pairs_in_block(con, columns)) for columns in identity.TRAINING_BLOCKS]
    sessions = [columns for columns, pairs in counted if pairs >= MIN_TRAINING_PAIRS]
    if not sessions:
        columns, pairs = max(counted, key=lambda c: c[1])
        if pairs >= MIN_FALLBACK_TRAINING_PAIRS:
            sessions = [columns]
    return sessions


def _comparisons_with_m_estimates(linker) -> set[str]:
    return {
        comparison.output_column_name
        for comparison in linker._settings_obj.comparisons
        if any(
            level._has_estimated_m_values for level in comparison._comparison_levels_excluding_null
        )
    }


def _comparisons_with_data(con: engine.Connection) -> set[str]:
    """Comparisons whose columns hold a value on at least two records."""
    columns = {
        name: f"coalesce({', '.join(read)})" for name, read in identity.COMPARISON_COLUMNS.items()
    }
    counts = con.execute(
        "select "
        + ", ".join(f"count({expr})" for expr in columns.values())
        + f" from {_INPUT_TABLE}"
    ).fetchall()[0]
    return {name for name, n in zip(columns, counts, strict=True) if n >= 2}


def _implied_prior(
    con: engine.Connection, model: dict, *, records: int, assumed_recall: float
) -> list[str]:
    """The prior again, from the near-certain rules' recall as the trained
    model implies it rather than as assumed. A rule fires on a match when
    each of its columns holds a value on both records and each agrees: the
    share of records holding the column, squared, times m of the agreeing
    levels. With few emails, or birth dates often missing, the rules catch
    far fewer matches than the assumed 70%, and the assumed prior is too
    small (40 times, on the hard generator profile): every pair then scores
    too low, and the auto-link threshold, which trusts the probabilities,
    too high."""
    prior = model.get("probability_two_random_records_match")
    if not prior:
        return []
    total_pairs = records * (records - 1) / 2
    observed = prior * assumed_recall * total_pairs
    columns = sorted({column for rule in identity.PRIOR_RULES for _, _, column in rule})
    counts = con.execute(
        "select " + ", ".join(f"count({c})" for c in columns) + f" from {_INPUT_TABLE}"
    ).fetchall()[0]
    held = {c: n / records for c, n in zip(columns, counts, strict=True)}
    m = {
        comparison["output_column_name"]: [
            level.get("m_probability")
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level")
        ]
        for comparison in model["comparisons"]
    }
    missed = 1.0
    for rule in identity.PRIOR_RULES:
        fires = 1.0
        for comparison, levels, column in rule:
            agree = sum(
                identity.DEFAULT_M[comparison][i] if m[comparison][i] is None else m[comparison][i]
                for i in levels
            )
            fires *= held[column] ** 2 * min(agree, 1.0)
        missed *= 1 - fires
    # Rules of one person are not independent; a floor keeps a rule set that
    # the model believes almost never fires from inflating the prior beyond
    # reason.
    recall = min(max(1 - missed, 0.01), 1.0)
    model["probability_two_random_records_match"] = min(observed / recall / total_pairs, 0.5)
    return [
        f"prior: the near-certain rules found {observed:,.0f} pairs; the trained model says "
        f"they catch {recall:.1%} of matches (assumed {assumed_recall:.0%}): prior "
        f"{model['probability_two_random_records_match']:.3g}"
    ]


def _complete(model: dict, *, records: int, u_pairs: float, with_data: set[str]) -> list[str]:
    """Fill what training could not estimate and floor disagreement levels;
    return what was done, one note each."""
    notes: list[str] = []
    prior = model.get("probability_two_random_records_match")
    if not prior or prior <= 0:
        # About one other record of the same person for every record: the
        # prior the deployment would have if each person appeared twice.
        model["probability_two_random_records_match"] = 1 / records
        notes.append(
            f"prior: the near-certain rules found no pairs; set to 1/records ({1 / records:.3g})"
        )
    defaulted: list[str] = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = [
            level for level in comparison["comparison_levels"] if not level.get("is_null_level")
        ]
        if name not in with_data:
            # Nothing to compare: every level weighs nothing (m = u) until a
            # model is trained on records that hold the columns.
            for level, m in zip(levels, identity.DEFAULT_M[name], strict=True):
                if not level.get("fix_m_probability"):
                    level["m_probability"] = m
                if not level.get("fix_u_probability"):
                    level["u_probability"] = level["m_probability"]
            notes.append(f"{name}: no record holds it; it weighs nothing")
            continue
        # The u of the nearest level above that sampling estimated (not one
        # set by hand, such as the unsampleable swapped-name level).
        estimated_u_above = None
        for position, level in enumerate(levels):
            label = f"{name}: {level.get('label_for_charts', position)}"
            if level.get("m_probability") is None:
                level["m_probability"] = identity.DEFAULT_M[name][position]
                defaulted.append(label)
            if level.get("u_probability") is None:
                # Random sampling never met the level among u_pairs pairs: its
                # u is below about 1/u_pairs, but taken no lower than that of
                # a stronger agreement above it, lest a weaker agreement
                # weigh more than a stronger one.
                level["u_probability"] = max(1 / max(u_pairs, 1), estimated_u_above or 0)
                notes.append(
                    f"u of {label}: never met among {u_pairs:,.0f} random pairs; "
                    f"set to {level['u_probability']:.3g}"
                )
            elif not level.get("fix_u_probability"):
                estimated_u_above = level["u_probability"]
        floor = identity.DISAGREEMENT_M_FLOOR.get(name)
        last = levels[-1] if levels else None
        if floor is not None and last is not None and last["m_probability"] < floor:
            notes.append(
                f"m of {name}: {last.get('label_for_charts')} raised from "
                f"{last['m_probability']:.3g} to the floor {floor}"
            )
            last["m_probability"] = floor
    if defaulted:
        notes.append(
            f"m of {len(defaulted)} level(s) no session could estimate, from the defaults: "
            + "; ".join(defaulted)
        )
    return notes


def score(
    con: engine.Connection,
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
    scored again. Term frequencies are the model's, counted at its first
    scoring (TERM_FREQUENCIES_TABLE), so a pair kept from an earlier day
    scores what it would score today, and a full refresh changes no score;
    a new model counts them again.
    """
    _ensure_schema(con)
    model = model or current_model(con)
    if model is None:
        raise ValueError("no trained identity model in this warehouse: run `c360 train`")
    scored_by = {
        r[0] for r in con.execute(f"select distinct model_version from {SCORED_TABLE}").fetchall()
    }
    pairs_exist = engine.relation_exists(con, SCHEMA, "splink_match_pairs")
    # Pairs a model scored before its term frequencies were kept were scored
    # with others: scored again once, they all agree.
    term_frequency_columns = _term_frequency_columns(model.model)
    counted = not term_frequency_columns or _has_term_frequencies(con, model.version)
    full = full or not pairs_exist or scored_by != {model.version} or not counted
    records = _stage_input(con, changed_since_scoring=not full)
    first_name_records = _stage_term_frequencies(
        con, model.version, term_frequency_columns, counted=counted
    )
    settings = in_dialect(model.model, engine.SQL_DIALECT)
    if not full:
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
        linker = _linker(
            con, settings, log_level=logging.ERROR, term_frequency_columns=term_frequency_columns
        )
        predictions = linker.inference.predict()
        # The index of the model's rule a pair came from, as a full scoring numbers it.
        rule_index = "match_key" if full else "cast(cast(match_key as integer) // 2 as varchar)"
        scored = predictions.physical_name
        # Kept with each pair: each comparison's share of the match weight (mw_*,
        # why it scored what it did) and its first names' term frequencies.
        scored_columns = [d[0] for d in con.execute(f"select * from {scored} limit 0").description]
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
                {_first_name_records(scored_columns, first_name_records)},
                {", ".join(c for c in scored_columns if c.startswith("mw_"))}
            from {scored}
            where match_probability >= {STORE_FLOOR}"""
        )
        linker.table_management.delete_tables_created_by_splink_from_db()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.transaction(con):
        if not counted and records:
            # Scoring is by the current model only: other models' counts go.
            con.execute(f"delete from {TERM_FREQUENCIES_TABLE}")
            con.execute(
                f"insert into {TERM_FREQUENCIES_TABLE} "
                "(model_version, column_name, value_digest, value_records) "
                f"select ?, column_name, value_digest, value_records "
                f"from {_FROZEN_TERM_FREQUENCIES}",
                [model.version],
            )
        if full:
            if rescored:
                con.execute(
                    f"create or replace table {PAIRS_TABLE} as select * from c360_scored_pairs"
                )
            else:
                _create_empty_pairs(con)
            con.execute(f"delete from {SCORED_TABLE}")
        else:
            stale = f"""(select record_key from {_INPUT_TABLE} where _is_changed
                union all select scored.record_key from {SCORED_TABLE} as scored
                where not exists (select 1 from {_INPUT_TABLE} as live
                    where live.record_key = scored.record_key))"""
            con.execute(
                f"delete from {PAIRS_TABLE} "
                f"where record_key_a in {stale} or record_key_b in {stale}"
            )
            if rescored:
                con.execute(f"insert into {PAIRS_TABLE} by name select * from c360_scored_pairs")
            con.execute(
                f"delete from {SCORED_TABLE} as scored where not exists "
                f"(select 1 from {_INPUT_TABLE} as live where live.record_key = scored.record_key) "
                f"or scored.record_key in (select record_key from {_INPUT_TABLE} where _is_changed)"
            )
        con.execute(
            f"insert into {SCORED_TABLE} (record_key, features_hash, model_version, scored_on) "
            f"select record_key, _features_hash, ?, ? from {_INPUT_TABLE} where _is_changed",
            [model.version, run_date],
        )
        kept = con.execute(f"select count(*) from {PAIRS_TABLE}").fetchall()[0][0]
        con.execute(
            f"insert into {RUNS_TABLE} (scored_at, model_version, records, comparisons, "
            "pairs_kept, run_date, records_rescored, is_full) values (?, ?, ?, ?, ?, ?, ?, ?)",
            [now, model.version, records, comparisons, kept, run_date, rescored, full],
        )
    return ScoringResult(model.version, records, comparisons, kept, rescored, full)


def _create_empty_pairs(con: engine.Connection) -> None:
    con.execute(
        f"""create or replace table {PAIRS_TABLE} (
            record_key_a varchar, record_key_b varchar, match_weight double,
            match_probability double, model_version varchar, blocking_rule_index varchar,
            first_name_records_a bigint, first_name_records_b bigint
        )"""
    )


def _first_name_records(scored_columns: list[str], records: int | None) -> str:
    """How many records hold each side's first name, from the model's term
    frequencies (of `records` records with a first name): a name many records
    hold is a name, one held once is more likely a typo (the household check
    reads this)."""
    if records is None or not {
        "tf_first_name_normalized_l",
        "tf_first_name_normalized_r",
    } <= set(scored_columns):
        return "null::bigint as first_name_records_a, null::bigint as first_name_records_b"
    left, right = (
        f"cast(round(tf_first_name_normalized_{side} * {records}) as bigint)" for side in "lr"
    )
    return (
        f"case when record_key_l < record_key_r then {left} else {right} end"
        " as first_name_records_a, "
        f"case when record_key_l < record_key_r then {right} else {left} end"
        " as first_name_records_b"
    )


def score_nothing(con: engine.Connection, *, run_date: dt.date | None = None) -> ScoringResult:
    """Record that no model could score this run: no pairs, so the records are
    linked by the deterministic rules alone (and stale pairs of an earlier
    run are not reused)."""
    _ensure_schema(con)
    records = _stage_input(con)
    with engine.transaction(con):
        _create_empty_pairs(con)
        con.execute(f"delete from {SCORED_TABLE}")
        con.execute(
            f"insert into {RUNS_TABLE} (scored_at, model_version, records, comparisons, "
            "pairs_kept, run_date, records_rescored, is_full) "
            "values (?, 'none', ?, 0, 0, ?, 0, true)",
            [dt.datetime.now(dt.UTC).replace(tzinfo=None), records, run_date],
        )
    return ScoringResult("none", records, 0, 0, 0, True)
