"""Checks beyond dbt's tests (which dagster-dbt turns into asset checks itself):
the marts BI reads must have been refreshed within a day and a bit."""

from __future__ import annotations

import datetime as dt

from dagster import AssetKey, build_last_update_freshness_checks

MART_KEYS = [
    AssetKey(["marts", name])
    for name in (
        "dim_customer",
        "customer_source_xref",
        "customer_id_history",
        "identity_events",
        "identity_run_metrics",
        "fct_orders",
        "fct_app_events",
        "fct_pos_transactions",
        "fct_tickets",
    )
]

# A daily refresh plus a few hours' grace for a late or retried run. They
# run with the daily job, after the marts they check.
mart_freshness_checks = build_last_update_freshness_checks(
    assets=MART_KEYS, lower_bound_delta=dt.timedelta(hours=30)
)
