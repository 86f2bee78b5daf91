"""The daily pipeline, as plain functions: the CLI and Dagster both call these."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from c360 import dbt, engine, privacy, quarantine, tokenization, warehouse, writer_lock
from c360.progress import Log, Progress
from splink_models import runtime

T = TypeVar("T")


@dataclass
class DayResult:
    run_date: dt.date
    loaded: list[warehouse.LoadedPartition] = field(default_factory=list)
    trained: runtime.TrainedModel | None = None
    scoring: runtime.ScoringResult | None = None
    privacy: privacy.IntakeResult | None = None
    purged: privacy.FinishResult | None = None
    metrics: dict[str, object] = field(default_factory=dict)
    # Wall-clock seconds per stage: load, build_before, score, build_after.
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    warehouse: str
    days: list[DayResult] = field(default_factory=list)
    staged_rows: dict[str, int] = field(default_factory=dict)

    @property
    def loaded(self) -> list[warehouse.LoadedPartition]:
        return [p for day in self.days for p in day.loaded]

    @property
    def trained(self) -> runtime.TrainedModel | None:
        models = [day.trained for day in self.days if day.trained]
        return models[-1] if models else None

    @property
    def scoring(self) -> runtime.ScoringResult | None:
        return self.days[-1].scoring if self.days else None


def prepare_warehouse(con) -> None:
    """The tables Python owns, before anything reads them: raw and the run logs,
    and the privacy intake's state, which dbt reads as a source (it exists
    before the first build even when no request ever came)."""
    warehouse.ensure_raw_tables(con)
    quarantine.ensure_tables(con)
    privacy.ensure_tables(con)
    warehouse.adopt_published_tables(con)


def load(
    landing: str | os.PathLike,
    warehouse_file: str | os.PathLike | None = None,
    *,
    through: dt.date | None = None,
    log: Log | None = None,
):
    """Load the landing partitions not loaded yet (through a date), reporting
    rows and rows per second as it goes (c360/progress.py), then quarantine
    what the loads delivered amiss (c360/quarantine.py), reporting that and
    what an operator should know of each partition."""
    report = log or _stderr
    con = warehouse.connect(warehouse_file)
    try:
        prepare_warehouse(con)
        with Progress("load", unit="rows", log=log) as progress:
            loaded = warehouse.load_landing(
                con,
                landing,
                through=through,
                progress=lambda part: progress.update(part.rows, f"{part.table} dt={part.dt}"),
            )
        for part in loaded:
            for note in part.notes:
                report(f"{part.table} dt={part.dt}: {note}")
        quarantined = quarantine.check_loads(con)
        if quarantined:
            reasons = ", ".join(f"{n:,} {reason}" for reason, n in sorted(quarantined.items()))
            report(f"quarantined ({quarantine.QUARANTINE}): {reasons}")
        return loaded
    finally:
        # dbt opens the file itself; DuckDB allows one writer configuration per process.
        con.close()


def pending_run_dates(
    landing: str | os.PathLike, warehouse_file: str | os.PathLike | None = None
) -> list[dt.date]:
    con = warehouse.connect(warehouse_file)
    try:
        prepare_warehouse(con)
        return warehouse.pending_run_dates(con, landing)
    finally:
        con.close()


def row_counts(schema: str, warehouse_file: str | os.PathLike | None = None) -> dict[str, int]:
    """Rows in every table and view of a schema (staging: current records per
    model; marts: what was published)."""
    con = warehouse.connect(warehouse_file)
    try:
        return {
            name: engine.scalar(con, f"select count(*) from {schema}.{name}")
            for name in engine.relation_names(con, schema)
        }
    finally:
        con.close()


def staged_row_counts(warehouse_file: str | os.PathLike | None = None) -> dict[str, int]:
    return row_counts("staging", warehouse_file)


# Seeds that incremental models read: a change must reach every row, not only
# the rows that change, so it asks for a full refresh. (Steward overrides
# feed int_identity_edges, rebuilt whole, and incremental clustering, which
# compares edges.)
SEEDS_NEEDING_FULL_REFRESH = ("survivorship_rules", "name_nicknames", "match_rules")


def seed_file_digests() -> dict[str, str]:
    """sha256 of each seed file of the dbt project (and of their YAML, which
    holds their tests and column types), by seed name."""
    import hashlib

    seeds = dbt.project_dir() / "seeds"
    return {
        path.stem: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(seeds.iterdir())
        if path.suffix in (".csv", ".yml")
    }


def seeds_to_reload(warehouse_file: str | os.PathLike | None = None) -> set[str]:
    """The seeds whose files changed since the warehouse last loaded them (all of
    them on a new warehouse)."""
    digests = seed_file_digests()
    con = warehouse.connect(warehouse_file)
    try:
        stored = warehouse.seed_digests(con)
    finally:
        con.close()
    return {name for name, digest in digests.items() if stored.get(name) != digest}


def seeds_reloaded(changed: set[str], warehouse_file: str | os.PathLike | None = None) -> None:
    """Remember the seed files just loaded; a changed seed that incremental
    models read makes the next build a full refresh."""
    con = warehouse.connect(warehouse_file)
    try:
        had_seeds = bool(warehouse.seed_digests(con))
        stale = sorted(changed & set(SEEDS_NEEDING_FULL_REFRESH))
        if had_seeds and stale:
            warehouse.request_full_refresh(con, f"seed changed: {', '.join(stale)}")
        warehouse.record_seed_digests(con, seed_file_digests())
    finally:
        con.close()


def load_seeds(warehouse_file: str | os.PathLike | None = None, *, quiet: bool = False) -> None:
    """Reload and test the seeds, if a seed file changed since the last load."""
    changed = seeds_to_reload(warehouse_file)
    if not changed:
        return
    dbt.run(dbt.seed_invocation(warehouse_file, quiet=quiet))
    seeds_reloaded(changed, warehouse_file)


def build_phase(
    phase: str,
    warehouse_file: str | os.PathLike | None = None,
    *,
    run_date: dt.date | None = None,
    quiet: bool = False,
    full_refresh: bool = False,
) -> None:
    dbt.run(
        dbt.phase_invocation(
            phase, warehouse_file, run_date=run_date, full_refresh=full_refresh, quiet=quiet
        )
    )


def build_before_scoring(
    warehouse_file: str | os.PathLike | None = None,
    *,
    run_date: dt.date | None = None,
    quiet: bool = False,
    full_refresh: bool = False,
) -> None:
    """dbt build of everything the scoring step does not feed (staging .. identity records)."""
    build_phase(
        "before_scoring", warehouse_file, run_date=run_date, quiet=quiet, full_refresh=full_refresh
    )


def build_after_scoring(
    warehouse_file: str | os.PathLike | None = None,
    *,
    run_date: dt.date | None = None,
    quiet: bool = False,
) -> None:
    """dbt build of what reads the scored pairs (edges, clusters, ids, golden
    record), then, if all of that passed its checks, the marts and snapshots,
    published once they passed theirs."""
    build_phase("after_scoring", warehouse_file, run_date=run_date, quiet=quiet)
    build_phase("publish", warehouse_file, run_date=run_date, quiet=quiet)
    publish(warehouse_file)


def train(warehouse_file: str | os.PathLike | None = None, **options) -> runtime.TrainedModel:
    con = warehouse.connect(warehouse_file)
    try:
        return runtime.train(con, **options)
    finally:
        con.close()


def export_model(
    out: str | os.PathLike, warehouse_file: str | os.PathLike | None = None
) -> runtime.TrainedModel:
    """Write the current identity model to a JSON file: the artifact a
    deployment versions and another warehouse (or engine) imports."""
    import json

    con = warehouse.connect(warehouse_file)
    try:
        artifact = runtime.export_model(con)
        model = runtime.current_model(con)
    finally:
        con.close()
    Path(out).write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
    return model


def import_model(
    artifact_file: str | os.PathLike, warehouse_file: str | os.PathLike | None = None
) -> runtime.TrainedModel:
    """Make an exported model current in this warehouse, without training: the
    next run scores every pair with it."""
    import json

    try:
        artifact = json.loads(Path(artifact_file).read_text())
    except json.JSONDecodeError as bad:
        raise ValueError(f"{artifact_file}: not JSON ({bad})") from None
    con = warehouse.connect(warehouse_file)
    try:
        prepare_warehouse(con)
        return runtime.install_model(con, artifact)
    finally:
        con.close()


def score(
    warehouse_file: str | os.PathLike | None = None,
    *,
    train_if_missing: bool = True,
    run_date: dt.date | None = None,
    full: bool = False,
) -> tuple[runtime.TrainedModel | None, runtime.ScoringResult]:
    """Score identity records with the current model; train one first if there is none,
    or if the current one was trained for another model definition."""
    con = warehouse.connect(warehouse_file)
    try:
        trained = None
        current = runtime.current_model(con)
        if current is not None and not current.fits_the_code:
            print(
                f"the current identity model {current.version} was trained for another "
                "model definition (splink_models/identity.py changed): re-training",
                file=sys.stderr,
            )
        if train_if_missing and (current is None or not current.fits_the_code):
            try:
                trained = runtime.train(con)
            except runtime.UntrainableModel as reason:
                # A young or narrow deployment (two sources, few records) still
                # resolves by its rules; the next run tries training again.
                print(
                    f"no identity model could be trained yet ({reason}); "
                    "linking by the deterministic rules only",
                    file=sys.stderr,
                )
                return None, runtime.score_nothing(con, run_date=run_date)
        return trained, runtime.score(con, run_date=run_date, full=full)
    finally:
        con.close()


def run_day(
    landing: str | os.PathLike,
    run_date: dt.date,
    warehouse_file: str | os.PathLike | None = None,
    *,
    quiet: bool = False,
    full_refresh: bool = False,
    log: Log | None = None,
) -> DayResult:
    """One run date: load its partitions, build, act on privacy requests, score,
    cluster, assign ids, publish, purge."""
    clock = time.perf_counter()
    loaded = load(landing, warehouse_file, through=run_date, log=log)
    seconds = {"load": round(time.perf_counter() - clock, 1)}
    # A rerun that loaded nothing new continues an interrupted run of the date.
    day = build_day(
        run_date,
        warehouse_file,
        quiet=quiet,
        full_refresh=full_refresh,
        resume=not loaded and not full_refresh,
        log=log,
    )
    day.loaded = loaded
    day.seconds = seconds | day.seconds
    record_stage_timings(run_date, day.seconds, warehouse_file)
    return day


def record_stage_timings(
    run_date: dt.date, seconds: dict[str, float], warehouse_file: str | os.PathLike | None = None
) -> None:
    _on_warehouse(warehouse_file, warehouse.record_stage_timings, run_date, seconds)


# The stages of a run date after loading, in order. A run killed part-way
# resumes after the last one it finished (raw._pipeline_stage_log), unless
# it loaded something new for the date.
DAY_STAGES = ("build_before", "privacy", "score", "build_after", "publish", "purge")


def build_day(
    run_date: dt.date,
    warehouse_file: str | os.PathLike | None = None,
    *,
    quiet: bool = False,
    full_refresh: bool = False,
    resume: bool = False,
    log: Log | None = None,
) -> DayResult:
    """Everything of a run date after loading: its dbt phases around the privacy
    intake and the scoring, then the purge of what the day erased. With
    `full_refresh`, every derived table is rebuilt from raw and every record
    re-scored: the slow path whose result the incremental one must equal. A
    full refresh requested in the warehouse (by a key rotation) is done too.

    With `resume`, the stages an interrupted run of the date finished are not
    run again. Each stage's rerun gives its result (every stateful model
    reopens its rows of the run date first), except once the day's erasures
    are purged from the published history: a date run again after that counts
    what the purged history still shows, so a run killed after it finishes
    rather than starting over."""
    full_refresh = full_refresh or full_refresh_requested(warehouse_file)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    report = log or _stderr
    finished = stages_finished(run_date, warehouse_file) if resume else {}
    if not resume:
        forget_stages(run_date, warehouse_file)
    # Tags the rows the day's purges delete (privacy.purge_log); one a run date,
    # across a resumed run.
    purge_id = next(iter(finished.values()), None) or f"{run_date}-{uuid.uuid4().hex[:12]}"
    day = DayResult(run_date, seconds=seconds)

    def stage(name: str, work) -> None:
        nonlocal clock
        if name in finished:
            report(f"{run_date} {name}: finished before the run was interrupted")
            clock = time.perf_counter()
            return
        work()
        record_stage(run_date, name, purge_id, warehouse_file)
        now = time.perf_counter()
        seconds[name] = round(now - clock, 1)
        clock = now
        report(f"{run_date} {name}: {seconds[name]:.1f} s")

    def privacy_intake() -> None:
        day.privacy = privacy.intake(run_date, warehouse_file)
        purge_dbt_tables("intake", purge_id, warehouse_file, run_date=run_date, quiet=quiet)

    def scoring() -> None:
        day.trained, day.scoring = score(warehouse_file, run_date=run_date, full=full_refresh)

    def purge_publish_and_finish() -> None:
        # The erased leave the day's marts and snapshots before readers see
        # them; the file's rewrite, when due, follows the publication, so no
        # freed block of the tables it replaced keeps an erased value.
        purge_dbt_tables("published", purge_id, warehouse_file, run_date=run_date, quiet=quiet)
        publish(warehouse_file)
        day.purged = privacy.finish(warehouse_file, purge_id=purge_id)

    stage(
        "build_before",
        lambda: build_before_scoring(
            warehouse_file, run_date=run_date, quiet=quiet, full_refresh=full_refresh
        ),
    )
    stage("privacy", privacy_intake)
    stage("score", scoring)
    for phase, name in (("after_scoring", "build_after"), ("publish", "publish")):
        stage(
            name,
            lambda phase=phase: build_phase(
                phase, warehouse_file, run_date=run_date, quiet=quiet, full_refresh=full_refresh
            ),
        )
    stage("purge", purge_publish_and_finish)
    day.metrics = finish_day(run_date, warehouse_file, full_refresh=full_refresh)
    return day


def _on_warehouse(warehouse_file: str | os.PathLike | None, work: Callable[..., T], *args) -> T:
    """`work(con, *args)` on a connection of its own, closed after."""
    con = warehouse.connect(warehouse_file)
    try:
        return work(con, *args)
    finally:
        con.close()


def publish(warehouse_file: str | os.PathLike | None = None) -> dict[str, int]:
    """Publish what dbt built and tested for the day (c360.warehouse.publish)."""
    return _on_warehouse(warehouse_file, warehouse.publish)


def stages_finished(
    run_date: dt.date, warehouse_file: str | os.PathLike | None = None
) -> dict[str, str]:
    return _on_warehouse(warehouse_file, warehouse.stages_finished, run_date)


def record_stage(
    run_date: dt.date, stage: str, purge_id: str, warehouse_file: str | os.PathLike | None = None
) -> None:
    _on_warehouse(warehouse_file, warehouse.record_stage, run_date, stage, purge_id)


def forget_stages(run_date: dt.date, warehouse_file: str | os.PathLike | None = None) -> None:
    _on_warehouse(warehouse_file, warehouse.forget_stages, run_date)


def purge_invocation(
    stage: str,
    purge_id: str,
    warehouse_file: str | os.PathLike | None = None,
    *,
    run_date: dt.date | None = None,
    quiet: bool = False,
) -> dbt.DbtInvocation | None:
    """The dbt operation that deletes what dbt's tables hold of the records the
    privacy intake erased or suppressed (macros/privacy/purge_pending_erasures.sql):
    after the intake, from what the rest of the day reads; once the day is
    published, from every table and snapshot. None on the many days with
    nothing to purge. `c360 run` and the Dagster privacy assets run it."""
    if not privacy.has_pending_purge(warehouse_file):
        return None
    return dbt.operation_invocation(
        "purge_pending_erasures",
        privacy.dbt_purge_args(stage, purge_id),
        warehouse_file,
        run_date=run_date,
        quiet=quiet,
    )


def purge_dbt_tables(
    stage: str,
    purge_id: str,
    warehouse_file: str | os.PathLike | None = None,
    *,
    run_date: dt.date | None = None,
    quiet: bool = False,
) -> None:
    """Run the purge_invocation of a stage in this process, if there is one."""
    operation = purge_invocation(stage, purge_id, warehouse_file, run_date=run_date, quiet=quiet)
    if operation is not None:
        dbt.run(operation)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def last_run_date(warehouse_file: str | os.PathLike | None = None) -> dt.date | None:
    con = warehouse.connect(warehouse_file)
    try:
        prepare_warehouse(con)
        return engine.scalar(con, f"select max(run_date) from {warehouse.RUN_LOG}")
    finally:
        con.close()


def rebuild(
    warehouse_file: str | os.PathLike | None = None,
    *,
    quiet: bool = False,
    full_refresh: bool = False,
    log: Log | None = None,
) -> DayResult:
    """Run the last finished run date again without loading anything: what an
    ad hoc privacy request or a key rotation needs to take effect at once, and,
    with `full_refresh`, the check that the incremental tables equal a rebuild
    from raw. Like every rerun of a date, it gives that date's result for what
    the warehouse now holds."""
    path = warehouse.warehouse_path(warehouse_file)
    with writer_lock.hold(path, "c360 rebuild", log=log):
        run_date = last_run_date(path)
        if run_date is None:
            raise RuntimeError("the warehouse has no finished run date to rebuild; run `c360 run`")
        load_seeds(path, quiet=quiet)
        day = build_day(run_date, path, quiet=quiet, full_refresh=full_refresh, log=log)
        record_stage_timings(run_date, day.seconds, path)
    return day


def rotate_tokenization_key(
    new_key: bytes, warehouse_file: str | os.PathLike | None = None, *, at_next_run: bool = False
) -> privacy.RotationResult:
    """Key rotation (docs/privacy.md, "Keys"): re-tokenize the snapshot history,
    then build the last run date again under the new key, which re-tokenizes
    everything else from the vault's values; finally count the old tokens left
    anywhere (none, or the rotation failed). With `at_next_run` the next daily
    run does the rebuild, under the new key it must then be given. Links are
    by record and customer id, never by token, so no link changes; the
    rebuild scores every record once more, since the tokens are among the
    features the model reads.

    The new key is in use for the rebuild only, and not through the
    environment: after it, finished or failed, the process tokenizes with the
    key it had."""
    path = warehouse.warehouse_path(warehouse_file)
    with writer_lock.hold(path, "c360 rotate-key"):
        result, old_tokens = privacy.prepare_key_rotation(
            new_key, tokenization.tokenization_key(), path
        )
        if not at_next_run:
            with tokenization.key_in_use(new_key):
                rebuild(path, quiet=True)
            result.old_tokens_left = privacy.old_tokens_left(path, old_tokens)
    return result


def full_refresh_requested(warehouse_file: str | os.PathLike | None = None) -> bool:
    """Whether the next run date must rebuild from raw (a key rotation asked for it)."""
    return _on_warehouse(warehouse_file, warehouse.full_refresh_requested)


def finish_day(
    run_date: dt.date,
    warehouse_file: str | os.PathLike | None = None,
    *,
    full_refresh: bool = False,
) -> dict:
    """Record the run date as finished; return its row of identity_run_metrics."""
    con = warehouse.connect(warehouse_file)
    try:
        warehouse.record_run(con, run_date, full_refresh=full_refresh)
        engine.checkpoint(con)
        return run_metrics(con, run_date)
    finally:
        con.close()


def match_band_counts(warehouse_file: str | os.PathLike | None = None) -> dict[str, int]:
    """Model pairs in the auto-link and review bands, as the last build decided."""
    con = warehouse.connect(warehouse_file)
    try:
        rows = con.execute(
            "select match_band, count(*) from intermediate.int_identity_edges__probabilistic "
            "group by match_band"
        ).fetchall()
    finally:
        con.close()
    counts = dict(rows)
    return {
        "model_auto_links": counts.get("auto_link", 0),
        "model_review_pairs": counts.get("review", 0),
    }


def run_metrics(con, run_date: dt.date) -> dict[str, object]:
    cursor = con.execute("select * from marts.identity_run_metrics where run_date = ?", [run_date])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else {}


def run(
    landing: str | os.PathLike,
    warehouse_file: str | os.PathLike | None = None,
    *,
    quiet: bool = False,
    full_refresh: bool = False,
    log: Log | None = None,
) -> RunResult:
    """Process every landing date not processed yet, one run date at a time, oldest
    first; with nothing new, do nothing. With `full_refresh`, each date is built
    from raw whole, and with nothing new the last finished date is rebuilt so."""
    path = warehouse.warehouse_path(warehouse_file)
    with writer_lock.hold(path, f"c360 run --landing {landing}", log=log):
        dates = pending_run_dates(landing, path)
        result = RunResult(str(path))
        if dates or full_refresh:
            load_seeds(path, quiet=quiet)
        for run_date in dates:
            day = run_day(landing, run_date, path, quiet=quiet, full_refresh=full_refresh, log=log)
            result.days.append(day)
        if full_refresh and not dates and last_run_date(path) is not None:
            result.days.append(rebuild(path, quiet=quiet, full_refresh=True, log=log))
        result.staged_rows = staged_row_counts(path)
    return result


def format_day(day: DayResult) -> str:
    rows = sum(p.rows for p in day.loaded)
    line = f"{day.run_date}: loaded {len(day.loaded)} partition(s), {rows:,} rows"
    if day.trained:
        line += f"; trained {day.trained.version} on {day.trained.records:,} records"
    if day.scoring and day.scoring.model_version == "none":
        line += "; no identity model yet: linked by the deterministic rules only"
    elif day.scoring:
        line += (
            f"; scored {day.scoring.records:,} records ({day.scoring.comparisons:,} comparisons)"
        )
    if day.trained:
        # The sessions EM ran, then what was set rather than estimated.
        line += "".join(f"\n  model: {note}" for note in day.trained.notes)
    m = day.metrics
    if m:
        line += (
            f"\n  records +{m['records_added']:,} ~{m['records_changed']:,} "
            f"-{m['records_deleted']:,}; customer ids kept {m['ids_kept']:,}, "
            f"minted {m['ids_minted']:,}, merged {m['ids_merged']:,}, split {m['ids_split']:,}, "
            f"retired {m['ids_retired']:,}, erased {m.get('ids_erased', 0):,}; "
            "churn among untouched customers "
            f"{m['untouched_ids_changed']:,}"
        )
    intake = day.privacy
    if intake and (intake.requests or intake.records_suppressed or intake.deferred):
        done = ", ".join(f"{n} {status}" for status, n in sorted(intake.requests.items()))
        line += (
            f"\n  privacy requests: {done or 'none'}; records erased {intake.records_erased:,}, "
            f"suppressed on delivery {intake.records_suppressed:,}, activity rows unlinked "
            f"{intake.activity_rows_unlinked:,}"
        )
        if intake.deferred:
            line += f"; {intake.deferred} waiting for the first customers"
    if day.purged and (day.purged.compacted or day.purged.rows_deleted):
        line += f"\n  purged {day.purged.rows_deleted:,} rows of state and history; " + (
            "warehouse file rewritten"
            if day.purged.compacted
            else f"file rewrite (erased values out of its bytes) due by "
            f"{day.purged.bytes_purge_due_on}"
        )
    if day.seconds:
        stages = ", ".join(f"{stage} {s:.1f}" for stage, s in day.seconds.items())
        line += f"\n  {sum(day.seconds.values()):.1f} s ({stages})"
    return line


def format_run(result: RunResult) -> str:
    lines = [f"warehouse: {result.warehouse}"]
    if not result.days:
        lines.append("no new landing partitions: nothing to do")
    lines += [format_day(day) for day in result.days]
    lines.append("staging (current records per model):")
    lines += [f"  {name:<32} {n:>10,}" for name, n in result.staged_rows.items()]
    return "\n".join(lines)
