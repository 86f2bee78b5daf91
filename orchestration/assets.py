"""The daily refresh as Dagster assets, one daily partition per landing date.

Every step calls the functions `c360 run` calls (c360/pipeline.py): loading,
the three dbt phases with the same selections, scoring and training, and
finishing the day. Dagster adds the graph, partitions, retries, checks and
metadata; no pipeline logic lives only here.

dbt runs where the engine allows (`dbt_in_subprocess`): on DuckDB in a dbt
subprocess through dagster-dbt; on Spark in the step's own process, through
c360.dbt as `c360 run` runs it (orchestration/dbt_in_process.py), since one
process at a time may open a Spark warehouse. The assets, checks and
events are the same either way.
"""

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Optional

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Backoff,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    RetryPolicy,
    asset,
    multi_asset,
)
from dagster_dbt import DbtCliResource, dbt_assets

from c360 import dbt as c360_dbt
from c360 import pipeline, privacy, warehouse, writer_lock
from c360.contract import TABLES
from c360.dbt import phase_invocation, seed_invocation
from c360.settings import settings
from orchestration import dbt_in_process
from orchestration.partitions import daily_partitions
from orchestration.project import dbt_project
from orchestration.translator import C360Translator

# Transient failures (a locked file, a busy disk) get two more tries.
RETRY = RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL)

# One target folder for every dbt invocation of the daily job (one partition
# runs at a time), so each reuses the previous one's partial parse instead of
# parsing the project again.
DBT_TARGET = settings().dbt_target_path / "dagster"

RAW_KEYS = [AssetKey([warehouse.RAW_SCHEMA, name]) for name in TABLES]
IDENTITY_RECORDS = AssetKey(["intermediate", "int_identity_records"])
MATCH_PAIRS = AssetKey(["matching", "splink_match_pairs"])
SCORING_KEYS = [
    MATCH_PAIRS,
    AssetKey(["matching", "splink_scoring_runs"]),
    AssetKey(["matching", "splink_scored_records"]),
]
MODEL_KEY = AssetKey(["matching", "splink_models"])
RUN_METRICS = AssetKey(["marts", "identity_run_metrics"])
# What the privacy intake writes (dbt reads them as the privacy_actions source).
PRIVACY_KEYS = [
    AssetKey([privacy.SCHEMA, name])
    for name in ("request_log", "erased_customers", "sale_preferences", "suppression_log")
]
SNAPSHOT_KEYS = [
    AssetKey(["snapshots", name])
    for name in ("snp_customer_memberships", "snp_customer_golden_records")
]
PURGE_KEY = AssetKey([privacy.SCHEMA, "purge"])


class C360Settings(ConfigurableResource):
    """Where the landing zone and the warehouse are (defaults: the environment,
    then the demo's landing zone and the default warehouse file), and
    optionally the generator's truth, to report accuracy on every run."""

    landing: str = str(settings().landing)
    warehouse: str = str(settings().warehouse)
    truth: Optional[str] = str(settings().truth) if settings().truth else None  # noqa: UP045 (pydantic)


def dbt_in_subprocess() -> bool:
    """Whether dbt runs in a subprocess of the step (DuckDB: its plugin binds
    the pads in dbt's process, and the step holds no connection while dbt
    runs) or in the step's process (Spark: the step's session is the only
    one that may open the warehouse, and the pads are bound on it)."""
    return settings().engine == "duckdb"


def _run_date(context: AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


@contextlib.contextmanager
def _writing(context: AssetExecutionContext, c360: C360Settings) -> Iterator[None]:
    """The warehouse's writer lock for the step (c360/writer_lock.py), as
    `c360 run` holds it. Another run holding it, or a landing file the loader
    refuses, fails the step at once and without retries: waiting would mend
    neither."""
    partition = f", partition {context.partition_key}" if context.has_partition_key else ""
    try:
        with writer_lock.hold(
            warehouse.warehouse_path(c360.warehouse),
            f"dagster run {context.run_id} (step {context.op_def.name}{partition})",
            log=context.log.warning,
        ):
            yield
    except (writer_lock.WarehouseInUse, warehouse.LandingError) as refused:
        raise Failure(description=str(refused), allow_retries=False) from None


@multi_asset(
    specs=[AssetSpec(key, group_name="landing") for key in RAW_KEYS],
    partitions_def=daily_partitions,
    retry_policy=RETRY,
)
def landing(context: AssetExecutionContext, c360: C360Settings):
    """The day's landing partitions (and any older one not loaded yet) into raw."""
    with _writing(context, c360):
        loaded = pipeline.load(
            c360.landing, c360.warehouse, through=_run_date(context), log=context.log.info
        )
        rows, files = defaultdict(int), defaultdict(int)
        for partition in loaded:
            rows[partition.table] += partition.rows
            files[partition.table] += partition.files
        for key in RAW_KEYS:
            table = key.path[-1]
            yield MaterializeResult(
                asset_key=key, metadata={"rows_loaded": rows[table], "files_loaded": files[table]}
            )


def _succeeded(invocation) -> None:
    """dbt exits 1 when a model or a test failed: the data or the code is wrong,
    and a retry would fail the same way; anything else (2: the warehouse file
    locked, say) may pass on a retry."""
    invocation.wait()
    if invocation.is_successful():
        return
    if invocation.process.returncode == 1:
        raise Failure(
            description=f"dbt failed a model or a check: {invocation.get_error()}",
            allow_retries=False,
        )
    raise invocation.get_error() or RuntimeError("dbt failed")


def _purge_id(context: AssetExecutionContext) -> str:
    """One id for the day's two purges within a run (privacy.purge_log)."""
    return f"{context.partition_key}-{context.run_id[:12]}"


def _purge_dbt_tables(
    context: AssetExecutionContext, dbt: DbtCliResource, stage: str, target: str
) -> None:
    """The purge operation `c360 run` invokes (pipeline.purge_invocation), in a
    dbt subprocess or in this process (`dbt_in_subprocess`)."""
    operation = pipeline.purge_invocation(
        stage, _purge_id(context), target, run_date=_run_date(context)
    )
    if operation is None:
        return
    if dbt_in_subprocess():
        _succeeded(dbt.cli(operation.args(), target_path=DBT_TARGET, raise_on_error=False))
    else:
        _ran(lambda: c360_dbt.run(operation))


def _ran(invoke) -> None:
    """An in-process dbt invocation, failing as `_succeeded` fails a subprocess's."""
    try:
        invoke()
    except c360_dbt.DbtNodesFailed as failed:
        raise Failure(
            description=f"dbt failed a model or a check: {failed}", allow_retries=False
        ) from failed


def _phase_invocation(context: AssetExecutionContext, phase: str, target):
    return phase_invocation(
        phase,
        target,
        run_date=_run_date(context),
        # A full refresh a key rotation asked for (c360/pipeline.py, build_day).
        full_refresh=pipeline.full_refresh_requested(target),
    )


def _dbt_phase(phase: str):
    @dbt_assets(
        manifest=dbt_project().manifest_path,
        project=dbt_project(),
        selector=phase,
        name=phase,
        partitions_def=daily_partitions,
        dagster_dbt_translator=C360Translator(),
        retry_policy=RETRY,
    )
    def _assets(context: AssetExecutionContext, dbt: DbtCliResource, c360: C360Settings):
        with _writing(context, c360):
            # The invocation `c360 run` makes (c360/dbt.py), with the selection
            # dagster-dbt makes (the phase's selector, or the subset of it asked
            # for): in this process on Spark, else in a dbt subprocess.
            target = warehouse.warehouse_path(c360.warehouse).resolve()
            if not dbt_in_subprocess():
                if phase == "before_scoring":
                    _ran(lambda: pipeline.load_seeds(target))
                yield from dbt_in_process.build(context, _phase_invocation(context, phase, target))
                return
            if phase == "before_scoring":
                # In the dbt subprocess too: an in-process dbt run would keep the
                # warehouse file open and locked against the subprocess.
                changed = pipeline.seeds_to_reload(target)
                if changed:
                    seeds = seed_invocation(target)
                    _succeeded(dbt.cli(seeds.args(), target_path=DBT_TARGET, raise_on_error=False))
                    pipeline.seeds_reloaded(changed, target)
            build = dbt.cli(
                _phase_invocation(context, phase, target).args(with_selector=False),
                context=context,
                target_path=DBT_TARGET,
                raise_on_error=False,
            )
            yield from build.stream()
            _succeeded(build)

    return _assets


before_scoring = _dbt_phase("before_scoring")
after_scoring = _dbt_phase("after_scoring")
publish = _dbt_phase("publish")


@multi_asset(
    specs=[
        AssetSpec(
            key,
            group_name="privacy",
            deps=[IDENTITY_RECORDS, AssetKey([warehouse.RAW_SCHEMA, "privacy_requests"])],
        )
        for key in PRIVACY_KEYS
    ],
    partitions_def=daily_partitions,
    retry_policy=RETRY,
)
def privacy_intake(context: AssetExecutionContext, dbt: DbtCliResource, c360: C360Settings):
    """The day's privacy requests (erasure, access, opt-out and opt-in of sale) and
    the suppression of erased people in the day's deliveries (c360/privacy/),
    then dbt's purge of whom it erased from its tables: before scoring, so the
    rest of the day runs without them."""
    with _writing(context, c360):
        result = privacy.intake(_run_date(context), c360.warehouse)
        _purge_dbt_tables(context, dbt, "intake", c360.warehouse)
        metadata = {f"requests_{status}": n for status, n in result.requests.items()}
        metadata.update(
            {
                "records_erased": result.records_erased,
                "records_suppressed": result.records_suppressed,
                "activity_rows_unlinked": result.activity_rows_unlinked,
                "landing_files_to_purge": result.landing_files_to_purge,
                "access_exports": len(result.exports),
                "requests_deferred": result.deferred,
            }
        )
        for key in PRIVACY_KEYS:
            yield MaterializeResult(
                asset_key=key, metadata=metadata if key == PRIVACY_KEYS[0] else {}
            )


@asset(
    key=PURGE_KEY,
    deps=[RUN_METRICS, *SNAPSHOT_KEYS],
    partitions_def=daily_partitions,
    group_name="privacy",
    retry_policy=RETRY,
)
def privacy_purge(
    context: AssetExecutionContext, dbt: DbtCliResource, c360: C360Settings
) -> MaterializeResult:
    """Once the day is published: delete what state and snapshot history still hold
    of the records erased or suppressed (dbt's tables by dbt, the scoring's
    state here), and rewrite the warehouse file when the byte purge is due."""
    with _writing(context, c360):
        _purge_dbt_tables(context, dbt, "published", c360.warehouse)
        # What `c360 run` publishes, once every check passed and the day's
        # erased are gone from it (docs/faults.md, "Write-audit-publish").
        pipeline.publish(c360.warehouse)
        result = privacy.finish(c360.warehouse, purge_id=_purge_id(context))
        return MaterializeResult(
            metadata={"rows_deleted": result.rows_deleted, "file_rewritten": result.compacted}
        )


@asset(key=MODEL_KEY, deps=[IDENTITY_RECORDS], group_name="matching")
def splink_model(context: AssetExecutionContext, c360: C360Settings) -> MaterializeResult:
    """Re-estimate the identity model (`c360 train`): materialize on demand. The
    daily scoring trains one itself when none is current."""
    with _writing(context, c360):
        model = pipeline.train(c360.warehouse)
        return MaterializeResult(
            metadata={"model_version": model.version, "trained_on_records": model.records}
        )


@multi_asset(
    specs=[
        AssetSpec(key, group_name="matching", deps=[IDENTITY_RECORDS, MODEL_KEY, *PRIVACY_KEYS])
        for key in SCORING_KEYS
    ],
    partitions_def=daily_partitions,
    retry_policy=RETRY,
)
def splink_scoring(context: AssetExecutionContext, c360: C360Settings):
    """Score the records that changed since they were last scored (`c360 score`)."""
    with _writing(context, c360):
        trained, scoring = pipeline.score(
            c360.warehouse,
            run_date=_run_date(context),
            full=pipeline.full_refresh_requested(c360.warehouse),
        )
        metadata = {
            "model_version": scoring.model_version,
            "records": scoring.records,
            "records_rescored": scoring.records_rescored,
            "comparisons_scored": scoring.comparisons,
            "pairs_kept": scoring.pairs_kept,
            "scored_in_full": scoring.is_full,
            "trained_a_model": trained is not None,
        }
        for key in SCORING_KEYS:
            yield MaterializeResult(asset_key=key, metadata=metadata if key == MATCH_PAIRS else {})


@asset(
    key=AssetKey(["reports", "daily_run"]),
    deps=[PURGE_KEY],
    partitions_def=daily_partitions,
    group_name="reports",
)
def daily_run(context: AssetExecutionContext, c360: C360Settings) -> MaterializeResult:
    """The day is finished: record it, and report what it did (and how accurate the
    customers are, when a truth directory is configured)."""
    with _writing(context, c360):
        run_date = _run_date(context)
        metrics = pipeline.finish_day(
            run_date, c360.warehouse, full_refresh=pipeline.full_refresh_requested(c360.warehouse)
        )
        metadata = {name: value for name, value in metrics.items() if name != "run_date"}
        metadata.update(pipeline.match_band_counts(c360.warehouse))
        # dbt runs in a subprocess that holds the warehouse file while it streams
        # events, so the marts' row counts are read here, once they are published.
        metadata.update(
            {
                f"rows_{name}": rows
                for name, rows in pipeline.row_counts("marts", c360.warehouse).items()
            }
        )
        if c360.truth:
            from c360.evaluation import evaluate

            scores = evaluate(c360.warehouse, c360.truth)
            metadata["pairwise_precision"] = scores["pairwise"]["precision"]
            metadata["pairwise_recall"] = scores["pairwise"]["recall"]
            metadata["identifiable_recall"] = scores["identifiable"]["pairwise"]["recall"]
        return MaterializeResult(metadata=metadata)


PARTITIONED = [
    landing,
    before_scoring,
    privacy_intake,
    splink_scoring,
    after_scoring,
    publish,
    privacy_purge,
    daily_run,
]
ALL_ASSETS = [*PARTITIONED, splink_model]
