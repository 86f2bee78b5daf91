"""No raw PII in the marts: no value shaped like an email or a phone, none of the
vault's values in any shape, and the dbt scan that fails when one is planted."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.support.privacy_scan import mart_text_columns, pii_shaped, pii_shaped_mart_values
from tests.support.warehouse_files import copy_warehouse
from tests.support.warehouse_files import query as _query

MARTS = {
    "customer_source_xref",
    "dim_customer",
    "fct_orders",
    "fct_app_events",
    "fct_pos_transactions",
    "fct_tickets",
}


def test_marts_hold_no_raw_pii(warehouse) -> None:
    path, _ = warehouse
    columns = mart_text_columns(path)
    assert {table for table, _ in columns} >= MARTS
    assert len(columns) > 30
    assert pii_shaped_mart_values(path) == []
    # The shapes are not too narrow: they catch every email and phone the vault holds.
    emails, shaped_emails, phones, shaped_phones = _query(
        path,
        f"""
        select
            count(email_normalized), count(*) filter (where {pii_shaped("email_normalized")}),
            count(phone_e164), count(*) filter (where {pii_shaped("phone_e164")})
        from vault.vault_identity_pii
        """,
    )[0]
    assert emails > 1000 and shaped_emails == emails
    assert phones > 1000 and shaped_phones == phones
    # Nor does any raw value reach a mart in another shape.
    raw = """
        select email_normalized as v from vault.vault_identity_pii
        union select phone_e164 from vault.vault_identity_pii
        union select street_address_normalized from vault.vault_identity_pii
    """
    raw_values = _query(path, f"select count(*) from ({raw}) where v is not null")[0][0]
    assert raw_values > 5000
    found = _query(
        path,
        f"with raw as ({raw}) "
        + " union all ".join(
            f"select '{table}', '{column}', count(*) from marts.\"{table}\" "
            f'where "{column}" in (select v from raw where v is not null)'
            for table, column in columns
        ),
    )
    assert [row for row in found if row[2]] == []


def test_the_dbt_pii_scan_fails_on_an_email_planted_in_a_mart(
    warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from c360.dbt import DbtError, run_dbt

    path, _ = warehouse
    select = ["test", "--select", "marts_hold_no_raw_pii"]
    results = run_dbt(select, warehouse=path)
    assert [str(r.status) for r in results] == ["pass"]

    copy = copy_warehouse(path, tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(copy))
    try:
        # In the marts readers see, and where dbt builds and audits them
        # before publishing (write-audit-publish): dbt's scan reads the latter.
        planted = [
            con.execute(
                f"update {schema}.fct_tickets set channel = 'someone@example.com' "
                f"where ticket_id = (select min(ticket_id) from {schema}.fct_tickets)"
            ).fetchall()
            for schema in ("marts", "marts__wap")
        ]
    finally:
        con.close()
    assert planted == [[(1,)], [(1,)]]
    assert pii_shaped_mart_values(copy) == [("fct_tickets", "channel", "someone@example.com")]
    with pytest.raises(DbtError):
        run_dbt(select, warehouse=copy)
