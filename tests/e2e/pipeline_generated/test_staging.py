"""Staging on generated data: the live records of the truth, normalized PII
that matches the truth's values, and unusable values quarantined, not dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.contract import IDENTITY_TABLES
from c360.privacy import STAGING_MODELS
from c360.tools.generator.pools import PLACEHOLDER_EMAILS
from tests.support.warehouse_files import query as _query

STAGING = STAGING_MODELS


def test_staging_holds_the_live_records_of_the_truth(generated: Path, warehouse) -> None:
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    for spec in IDENTITY_TABLES:
        live_truth = _query(
            path, f"select count(*) from {links} where source_table = '{spec.name}' and is_live"
        )[0][0]
        live_staged = _query(
            path, f"select count(*) from staging.{STAGING[spec.name]} where not is_deleted"
        )[0][0]
        assert live_staged == live_truth > 0, spec.name


def _gmail_fold(column: str) -> str:
    return (
        f"case when split_part({column}, '@', 2) in ('gmail.com', 'googlemail.com') "
        f"then replace(split_part({column}, '@', 1), '.', '') || '@gmail.com' else {column} end"
    )


@pytest.mark.parametrize(
    "model,key",
    [
        ("stg_ecommerce__customers", "customer_account_id"),
        ("stg_loyalty__members", "loyalty_id"),
        ("stg_enrichment__profiles", "provider_record_id"),
    ],
)
def test_normalized_pii_matches_the_truth(generated: Path, warehouse, model: str, key: str):
    path, _ = warehouse
    truth = generated / "truth"
    emails, email_hits, phones, phone_hits, zips, zip_hits = _query(
        path,
        f"""
        select
            count(s.email_normalized),
            count(*) filter (where s.email_normalized in
                ({_gmail_fold("p.email")}, {_gmail_fold("p.alt_email")})),
            count(s.phone_e164),
            count(*) filter (where s.phone_e164 in (p.phone_e164, p.home_phone_e164)),
            count(s.postal_code_normalized),
            count(*) filter (where s.postal_code_normalized = p.postal_code)
        from staging.{model} s
        join read_parquet('{truth}/person_links.parquet') l on l.source_record_id = s.{key}
        join read_parquet('{truth}/persons.parquet') p on p.person_id = l.person_id
        where not s.is_deleted
        """,
    )[0]
    assert emails > 100 and phones > 100 and zips > 100
    # Old addresses stay in systems a life event did not reach, so the
    # person's current values are matched, not every historical one.
    assert email_hits >= 0.98 * emails
    assert phone_hits >= 0.98 * phones
    assert zip_hits >= 0.97 * zips


def test_unusable_values_are_quarantined_not_dropped(generated: Path, warehouse) -> None:
    path, _ = warehouse
    placeholders = ", ".join(f"'{e}'" for e in PLACEHOLDER_EMAILS)
    staged, flagged = _query(
        path,
        f"""
        select count(*), count(i.source_record_id)
        from staging.stg_ecommerce__customers c
        left join intermediate.int_pii_data_issues i
            on i.source_table = 'ecommerce_customers'
           and i.source_record_id = c.customer_account_id and i.field_name = 'email'
           and i.reason = 'placeholder_email'
        where not c.is_deleted and lower(trim(c.email)) in ({placeholders})
        """,
    )[0]
    assert staged > 0 and flagged == staged
    reasons = dict(
        _query(path, "select reason, count(*) from intermediate.int_pii_data_issues group by 1")
    )
    assert {"placeholder_email", "placeholder_phone", "placeholder_name"} <= set(reasons)
    # The records stay: an issue never removes the record from staging.
    lost = _query(
        path,
        """
        select count(*) from intermediate.int_pii_data_issues i
        where i.source_table = 'ecommerce_customers' and not exists (
            select 1 from staging.stg_ecommerce__customers c
            where c.customer_account_id = i.source_record_id)
        """,
    )[0][0]
    assert lost == 0
