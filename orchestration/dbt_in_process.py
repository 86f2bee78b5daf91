"""dbt's phases in the step's own process, for the engines whose warehouse
one process at a time may open (Spark: its embedded Derby metastore).

A dbt subprocess would start a second Spark JVM beside the step's, and
could not open the catalog the step holds; nor would anything bind the
tokenization key's pads in it. So the phase runs through `c360.dbt.run`,
as `c360 run` runs it (the engine's session, the pads bound as parameters
by `engine.before_dbt`: the key is in no SQL, log or command line), and
the Dagster events are made from dbt's own: a callback receives each
result event dbt fires (the messages its JSON log carries, one a line,
which dagster-dbt parses from a subprocess) and dagster-dbt's
`DbtCoreCliEventMessage` turns them into the same Output, AssetCheckResult
and AssetObservation events the subprocess path yields. The selection is
dagster-dbt's too: the phase's selector, or the subset of its assets and
checks a run asks for.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagster import AssetExecutionContext, Failure
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY,
    DAGSTER_DBT_SELECT_METADATA_KEY,
    DAGSTER_DBT_SELECTOR_METADATA_KEY,
    get_manifest_and_translator_from_dbt_assets,
    get_subset_selection_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from c360 import dbt
from c360.dbt import DbtInvocation

# What dagster-dbt makes events of (DbtCoreCliEventMessage.is_result_event).
RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})


class _Events:
    """A dbt callback keeping the result events, as dicts shaped like the
    lines of dbt's JSON log, and the error messages."""

    def __init__(self) -> None:
        self.results: list[dict] = []
        self.errors: list[str] = []

    def __call__(self, message) -> None:
        info = message.info
        if info.name in RESULT_EVENTS:
            from dbt_common.events.functions import msg_to_dict

            self.results.append(msg_to_dict(message))
        elif info.level == "error" and info.msg:
            self.errors.append(info.msg)


def selection(context: AssetExecutionContext) -> list[str]:
    """The selection dagster-dbt gives a subprocess for this step: the
    assets' selector when the whole phase runs, else the subset asked for
    (with dbt's indirect selection switched off when some checks are left
    out). The subset is not written to a selectors file as dagster-dbt does
    past 200 resources: in-process arguments have no length limit."""
    manifest, translator, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    tags = context.op_execution_context.op.tags
    args, indirect_selection = get_subset_selection_for_context(
        context=context,
        manifest=manifest,
        select=tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY),
        selector=tags.get(DAGSTER_DBT_SELECTOR_METADATA_KEY),
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=None,
    )
    if indirect_selection:
        args += ["--indirect-selection", indirect_selection]
    return args


def build(context: AssetExecutionContext, invocation: DbtInvocation) -> Iterator:
    """Run a dbt phase's invocation in this process and yield the Dagster
    events of the nodes it ran (those that ran before a failure too); then,
    if a model or a test failed, a Failure that is not retried (the data or
    the code is wrong), or dbt's error if it could not run (retried)."""
    manifest, translator, project = get_manifest_and_translator_from_dbt_assets(
        [context.assets_def]
    )
    events = _Events()
    failed: dbt.DbtError | None = None
    try:
        dbt.run(invocation, selection=selection(context), callbacks=[events])
    except dbt.DbtError as error:
        failed = error
    for raw_event in events.results:
        yield from DbtCoreCliEventMessage(
            raw_event=raw_event, event_history_metadata={}
        ).to_default_asset_events(
            manifest=manifest, dagster_dbt_translator=translator, context=context, project=project
        )
    if isinstance(failed, dbt.DbtNodesFailed):
        description = "\n".join([f"dbt failed a model or a check: {failed}", *events.errors])
        raise Failure(description=description, allow_retries=False) from failed
    if failed is not None:
        raise failed
