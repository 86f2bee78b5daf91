"""Ten generated days through `c360 run`, each processed in order with its
metrics; a day re-clusters only what it touched and gets what clustering
everything gets; a rerun, by `c360 run` or by hand, changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from c360 import pipeline
from tests.support.generated_data import DAILY_DAYS as DAYS
from tests.support.generated_data import DAILY_START as START
from tests.support.warehouse_files import copy_warehouse
from tests.support.warehouse_files import query as _query


def test_every_day_is_processed_in_order_with_metrics(ten_days) -> None:
    path, result = ten_days
    dates = [day.run_date for day in result.days]
    assert dates == [START + dt.timedelta(days=d) for d in range(DAYS + 1)]
    metrics = _query(
        path,
        "select run_date, records_added, records_changed, records_deleted, ids_kept, "
        "ids_minted, untouched_ids_changed, records_rescored, records_live "
        "from marts.identity_run_metrics order by run_date",
    )
    assert [m[0] for m in metrics] == dates
    first, later = metrics[0], metrics[1:]
    assert first[1] == first[8] > 3000 and first[4] == 0 and first[5] > 1000
    for row in later:
        # Untouched customers keep their ids; a day re-scores its changes only.
        assert row[6] == 0
        assert row[7] < 0.1 * row[8]
        assert row[4] > 0.95 * metrics[0][5]
    assert sum(row[1] + row[2] + row[3] for row in later) > 50
    text = pipeline.format_run(result)
    assert "churn among untouched customers 0" in text


def test_incremental_clustering_equals_clustering_everything(ten_days, tmp_path: Path) -> None:
    """The change days re-clustered only the components they touched, and got
    what clustering every record again gets. A day whose changes move no
    edge re-clusters nothing: scores no longer drift with the day's term
    frequencies, so the last day alone may have nothing to do."""
    from c360.dbt import run_dbt

    path, result = ten_days
    reclustered, total = _query(
        path,
        "select count(*) filter (where reclustered_on > ?), count(*) "
        "from intermediate.int_identity_clusters",
        [result.days[0].run_date],
    )[0]
    assert 0 < reclustered < 0.1 * total
    clusters = "select record_key, cluster_id, is_flagged_for_review from "
    clusters += "intermediate.int_identity_clusters order by all"
    incremental = _query(path, clusters)
    copy = copy_warehouse(path, tmp_path / "full.duckdb")
    last = result.days[-1].run_date.isoformat()
    run_dbt(
        [
            "run",
            "--select",
            "int_identity_clusters",
            "--quiet",
            "--vars",
            f"{{full_recluster: true, run_date: '{last}'}}",
        ],
        warehouse=copy,
    )
    assert _query(copy, clusters) == incremental


def test_a_rerun_with_nothing_new_is_a_no_op(generated: Path, ten_days) -> None:
    path, _ = ten_days
    tables = [
        "marts.customer_source_xref",
        "marts.customer_id_history",
        "marts.identity_events",
        "marts.dim_customer",
        "snapshots.snp_customer_memberships",
    ]
    before = {t: _query(path, f"select * from {t} order by all") for t in tables}
    again = pipeline.run(generated / "landing", path)
    assert again.days == []
    assert {t: _query(path, f"select * from {t} order by all") for t in tables} == before


def test_rerunning_the_last_day_by_hand_changes_nothing(ten_days) -> None:
    """An analytics engineer's `dbt build` repeats the newest day: every stateful
    model first undoes what that day wrote, then writes the same again."""
    path, result = ten_days
    tables = [
        "intermediate.int_customer_id_assignments",
        "intermediate.int_customer_id_registry",
        "marts.identity_events",
        "marts.identity_run_metrics",
        "marts.customer_source_xref",
        "snapshots.snp_customer_memberships",
    ]
    before = {t: _query(path, f"select * from {t} order by all") for t in tables}
    pipeline.build_after_scoring(path, run_date=result.days[-1].run_date, quiet=True)
    assert {t: _query(path, f"select * from {t} order by all") for t in tables} == before
