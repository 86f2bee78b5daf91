"""A full rebuild from raw against what the incremental runs left: the same
rows everywhere, but for the bookkeeping of which day did which work."""

from __future__ import annotations

from pathlib import Path

from c360 import pipeline
from tests.support.warehouse_files import copy_warehouse, query

# What a full refresh may change: which day last re-clustered a cluster (it
# re-clusters all), and the token map, which keeps every value tokenized (a
# rebuild, only those held today): there the rebuild's tokens must be a
# subset. Scores may not move: the model's term frequencies are its own
# (splink_models/runtime.py).
_TOKEN_MAP = "vault.vault_pii_tokens"
_BOOKKEEPING = {
    _TOKEN_MAP: "pii_type, token, pii_value",
    # The work a day did (a full refresh re-scores every record), and which
    # customers it recomputed, not what it found.
    "marts.identity_run_metrics": "* exclude (records_rescored, comparisons_scored)",
    "intermediate.int_touched_customers": "count(*) > 0",
    "intermediate.int_identity_changes": "count(*) > 0",
    "intermediate.int_identity_records": "* exclude (recomputed_on)",
    "intermediate.int_identity_clusters": (
        "record_key, cluster_id, cluster_size, is_flagged_for_review"
    ),
}


def assert_a_full_refresh_changes_nothing(path: Path, tmp_path: Path) -> None:
    copy = copy_warehouse(path, tmp_path / "full_refresh.duckdb")
    pipeline.rebuild(copy, quiet=True, full_refresh=True)
    relations = query(
        path,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('staging', 'vault', 'intermediate', 'marts', 'snapshots') "
        "and table_name not like 'int_identity_clusters\\_\\_%' escape '\\' order by 1",
    )
    compared = 0
    for (relation,) in relations:
        columns = _BOOKKEEPING.get(relation, "*")
        sql = f"select {columns} from {relation} order by all"
        rebuilt, incremental = query(copy, sql), query(path, sql)
        if relation == _TOKEN_MAP:
            assert set(rebuilt) <= set(incremental)
        else:
            assert rebuilt == incremental, f"{relation} differs after a full refresh"
        compared += 1
    assert compared > 30
