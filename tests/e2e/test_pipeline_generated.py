"""Generated landing data through the real loader and a real `dbt build`."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from c360 import pipeline
from c360.contract import IDENTITY_TABLES, TABLES
from c360.privacy import STAGING_MODELS
from c360.tools.generator.pools import PLACEHOLDER_EMAILS
from tests.warehouse_files import copy_warehouse
from tests.warehouse_files import query as _query

STAGING = STAGING_MODELS


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Through the console entry point, as a scheduler would call it."""
    out = tmp_path_factory.mktemp("e2e_generated")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "generate",
            "--customers",
            "3000",
            "--days",
            "1",
            "--seed",
            "3",
            "--out",
            str(out),
            "--chunk-size",
            "1500",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ecommerce_customers" in result.stdout
    return out


@pytest.fixture(scope="module")
def warehouse(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("e2e_wh") / "warehouse.duckdb"
    result = pipeline.run(generated / "landing", path)
    return path, result


def test_every_partition_is_loaded_with_every_row(generated: Path, warehouse) -> None:
    path, result = warehouse
    on_disk = {
        (t.name, p.name[3:]): sum(pq.read_metadata(f).num_rows for f in p.glob("*.parquet"))
        for t in TABLES.values()
        if (generated / "landing" / t.name).exists()
        for p in (generated / "landing" / t.name).iterdir()
    }
    loaded = {(p.table, p.dt.isoformat()): p.rows for p in result.loaded}
    assert loaded == on_disk
    for table in TABLES:
        raw = _query(path, f"select count(*) from raw.{table}")[0][0]
        assert raw == sum(n for (t, _), n in on_disk.items() if t == table)


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


def test_rerun_with_nothing_new_changes_nothing(generated: Path, warehouse) -> None:
    path, first = warehouse
    xref = "select * from marts.customer_source_xref order by all"
    models = "select model_version, trained_at, is_current from matching.splink_models order by all"
    xref_before, models_before = _query(path, xref), _query(path, models)
    again = pipeline.run(generated / "landing", path)
    # Every landing date was processed: nothing is loaded, built or scored again.
    assert [d.run_date.isoformat() for d in first.days] == ["2025-01-01", "2025-01-02"]
    assert again.days == [] and again.loaded == []
    assert again.staged_rows == first.staged_rows
    assert first.trained is not None and again.trained is None
    assert _query(path, models) == models_before
    # Same records, same clusters, same customer ids.
    assert len(xref_before) > 5000
    assert _query(path, xref) == xref_before
    # Day 0 scored in full; the change days only the records that changed.
    runs = _query(
        path,
        "select run_date, is_full, records_rescored, records from matching.splink_scoring_runs "
        "order by run_date",
    )
    assert [r[1] for r in runs] == [True, False]
    assert all(r[2] < 0.05 * r[3] for r in runs[1:])


def test_dbt_unit_tests_pass(warehouse) -> None:
    """Daily runs leave the unit tests (checks of the code, not of the day's
    data) out; here they run against the built warehouse."""
    from c360.dbt import run_dbt

    path, _ = warehouse
    results = run_dbt(["test", "--select", "test_type:unit", "--quiet"], warehouse=path)
    assert len(results) > 20


def test_a_deployment_with_two_sources_runs(generated: Path, tmp_path: Path) -> None:
    # Day 0 only: what two sources can do does not need the change days.
    landing = tmp_path / "landing"
    for table in ("ecommerce_customers", "crm_contacts"):
        day0 = sorted((generated / "landing" / table).iterdir())[0]
        shutil.copytree(day0, landing / table / day0.name)
    result = pipeline.run(landing, tmp_path / "two.duckdb")
    assert len(result.days) == 1
    assert result.staged_rows["stg_ecommerce__customers"] > 0
    assert result.staged_rows["stg_crm__contacts"] > 0
    assert result.staged_rows["stg_loyalty__members"] == 0
    assert result.staged_rows["stg_mobile_app__events"] == 0
    # Few comparable pairs: the model is still trained, from what pairs there
    # are and documented defaults for the rest, and the run says which.
    assert result.trained is not None
    assert result.scoring.model_version == result.trained.version
    assert "model: m of" in pipeline.format_run(result)
    assert "deterministic rules only" not in pipeline.format_run(result)
    con = duckdb.connect(str(tmp_path / "two.duckdb"))
    try:
        xref, records = con.execute(
            "select (select count(*) from marts.customer_source_xref), "
            "(select count(*) from intermediate.int_identity_records)"
        ).fetchall()[0]
    finally:
        con.close()
    assert xref == records > 0


def test_unknown_landing_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "landing" / "ecommerce_customer" / "dt=2025-01-01").mkdir(parents=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "run",
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "not a contract table" in result.stderr


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


def test_typed_pos_loyalty_numbers_resolve_to_the_members_own_id(generated: Path, warehouse):
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    typed, resolved, same_person = _query(
        path,
        f"""
        select count(*), count(m.source_record_id),
               count(*) filter (where m.source_record_id is not null
                                and card_owner.person_id = member.person_id)
        from intermediate.int_identity_records r
        join staging.stg_pos__card_holders p on p.card_number = r.source_record_id
        left join intermediate.int_identity_records m
            on m.source_table = 'loyalty_members' and m.source_record_id = r.loyalty_id
        left join {links} card_owner on card_owner.source_record_id = r.source_record_id
        left join {links} member on member.source_record_id = r.loyalty_id
        where r.source_table = 'pos_card_holders' and p.loyalty_number <> ''
        """,
    )[0]
    assert typed > 20
    # A card can outlive the membership it was linked to (deleted since).
    assert resolved >= 0.95 * typed
    assert same_person == resolved


def test_identity_records_hold_every_live_record_once(generated: Path, warehouse) -> None:
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    live, records, missing = _query(
        path,
        f"""
        select
            (select count(*) from {links} where is_live),
            (select count(*) from intermediate.int_identity_records),
            (select count(*) from {links} l where l.is_live and not exists (
                select 1 from intermediate.int_identity_records r
                where r.source_table = l.source_table
                  and r.source_record_id = l.source_record_id))
        """,
    )[0]
    assert records == live and missing == 0


# What each token type is the HMAC of, as vault_identity_pii holds the values.
TOKENIZED = {
    "email": ("email_token", "p.email_normalized"),
    "phone": ("phone_token", "p.phone_e164"),
    "address": ("address_token", "p.street_address_normalized || '|' || p.postal_code_normalized"),
}
RAW_IDENTIFIERS = ("email_normalized", "phone_e164", "street_address_normalized", "house_number")


def test_identity_tokens_are_keyed_hmacs_and_the_vault_maps_them_back(warehouse) -> None:
    from c360.tokenization import token

    path, _ = warehouse
    columns = {
        name
        for (name,) in _query(
            path,
            "select column_name from information_schema.columns "
            "where table_schema = 'intermediate' and table_name = 'int_identity_records'",
        )
    }
    # Matching sees tokens: the direct identifiers stay in the vault.
    assert {"record_key", "email_token", "phone_token", "address_token"} <= columns
    assert columns.isdisjoint(RAW_IDENTIFIERS)
    for pii_type, (token_column, value) in TOKENIZED.items():
        rows = _query(
            path,
            f"""
            select {value}, r.{token_column}, p.{token_column}, v.pii_value
            from intermediate.int_identity_records r
            join vault.vault_identity_pii p
                on p.source_table = r.source_table and p.source_record_id = r.source_record_id
            join vault.vault_pii_tokens v
                on v.pii_type = '{pii_type}' and v.token = r.{token_column}
            using sample 200 rows (reservoir, 7)
            """,
        )
        assert len(rows) == 200, pii_type
        for raw, matching_token, vault_token, vault_value in rows:
            assert matching_token == vault_token == token(pii_type, raw), pii_type
            assert vault_value == raw, pii_type
    shared = _query(
        path,
        """
        select count(*) from (
            select email_token from intermediate.int_identity_records
            where email_token is not null
            group by email_token having count(distinct source_table) > 1
        )
        """,
    )[0][0]
    assert shared > 100  # the same address in several systems: one token


def test_deterministic_edges_are_mostly_right_and_their_errors_are_hard_negatives(
    generated: Path, warehouse
) -> None:
    path, _ = warehouse
    truth = generated / "truth"
    unordered, duplicated = _query(
        path,
        """
        select
            count(*) filter (where not record_key_a < record_key_b),
            count(*) - count(distinct (record_key_a, record_key_b, rule_name))
        from intermediate.int_identity_edges__deterministic
        """,
    )[0]
    assert unordered == 0 and duplicated == 0
    by_rule = {
        rule: (edges, mapped, right, hard_negative)
        for rule, edges, mapped, right, hard_negative in _query(
            path,
            f"""
            with truth_records as (
                select source_table || ':' || source_record_id as record_key, person_id
                from read_parquet('{truth}/person_links.parquet')
                where is_live
            ),
            negatives as (
                select * from read_parquet('{truth}/hard_negatives.parquet')
            ),
            -- Two people the generator made hard to tell apart (one household,
            -- a shared family email or device, Jr./Sr., twins, a common name).
            hard_negative_pairs as (
                select distinct a.person_id as person_a, b.person_id as person_b
                from negatives a
                join negatives b
                    on a.kind = b.kind and a.group_id = b.group_id
                   and a.person_id <> b.person_id
            )
            select
                e.rule_name,
                count(*),
                count(*) filter (where ta.person_id is not null and tb.person_id is not null),
                count(*) filter (where ta.person_id = tb.person_id),
                count(*) filter (where ta.person_id <> tb.person_id
                                 and h.person_a is not null)
            from intermediate.int_identity_edges__deterministic e
            left join truth_records ta on ta.record_key = e.record_key_a
            left join truth_records tb on tb.record_key = e.record_key_b
            left join hard_negative_pairs h
                on h.person_a = ta.person_id and h.person_b = tb.person_id
            group by 1
            """,
        )
    }
    print("\ndeterministic edges (rule: edges, right, wrong, wrong between hard negatives):")
    for rule, (edges, _, right, hard_negative) in sorted(by_rule.items()):
        print(f"  {rule:<16} {edges:>6} {right:>6} {edges - right:>4} {hard_negative:>4}")
    assert set(by_rule) == {"same_email", "same_phone", "same_loyalty_id", "device_account"}
    assert by_rule["same_loyalty_id"][2] == by_rule["same_loyalty_id"][0]
    for rule, (edges, mapped, right, hard_negative) in by_rule.items():
        assert edges > 100, rule
        # Every edge joins two records the truth knows as live.
        assert mapped == edges, rule
        assert right >= 0.995 * edges, rule
        # What a rule gets wrong, it gets wrong between people the generator
        # made hard to tell apart (a shared landline, a family email or
        # tablet): the over-merge guard's job, not noise.
        assert hard_negative >= 0.9 * (edges - right), rule


MARTS = {
    "customer_source_xref",
    "dim_customer",
    "fct_orders",
    "fct_app_events",
    "fct_pos_transactions",
    "fct_tickets",
}
EMAIL_SHAPE = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"
PHONE_CHARACTERS = r"^[0-9 ()+.\-]+$"


def _pii_shaped(value: str) -> str:
    """SQL: the value looks like an email address or a phone number (10 to 15 digits)."""
    return (
        f"(regexp_matches({value}, '{EMAIL_SHAPE}', 'i') "
        f"or (regexp_matches({value}, '{PHONE_CHARACTERS}') "
        f"and length(regexp_replace({value}, '[^0-9]', '', 'g')) between 10 and 15))"
    )


def _mart_text_columns(path: Path) -> list[tuple[str, str]]:
    return _query(
        path,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and data_type = 'VARCHAR' order by all",
    )


def _pii_shaped_mart_values(path: Path) -> list[tuple[str, str, str]]:
    scans = []
    for table, column in _mart_text_columns(path):
        value = f'"{column}"'
        scans.append(
            f"select '{table}', '{column}', {value} from marts.\"{table}\" "
            f"where {_pii_shaped(value)}"
        )
    return sorted(_query(path, " union all ".join(scans)))


def test_marts_hold_no_raw_pii(warehouse) -> None:
    path, _ = warehouse
    columns = _mart_text_columns(path)
    assert {table for table, _ in columns} >= MARTS
    assert len(columns) > 30
    assert _pii_shaped_mart_values(path) == []
    # The shapes are not too narrow: they catch every email and phone the vault holds.
    emails, shaped_emails, phones, shaped_phones = _query(
        path,
        f"""
        select
            count(email_normalized), count(*) filter (where {_pii_shaped("email_normalized")}),
            count(phone_e164), count(*) filter (where {_pii_shaped("phone_e164")})
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

    WAREHOUSE_ENV = "C360_WAREHOUSE"

    path, _ = warehouse
    # run_dbt points the environment at its warehouse; the test leaves it as it was.
    monkeypatch.setenv(WAREHOUSE_ENV, str(path))
    select = ["test", "--select", "marts_hold_no_raw_pii"]
    results = run_dbt(select, warehouse=path)
    assert [str(r.status) for r in results] == ["pass"]

    copy = copy_warehouse(path, tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(copy))
    try:
        planted = con.execute(
            "update marts.fct_tickets set channel = 'someone@example.com' "
            "where ticket_id = (select min(ticket_id) from marts.fct_tickets)"
        ).fetchall()
    finally:
        con.close()
    assert planted == [(1,)]
    assert _pii_shaped_mart_values(copy) == [("fct_tickets", "channel", "someone@example.com")]
    with pytest.raises(DbtError):
        run_dbt(select, warehouse=copy)


def test_every_live_record_has_one_customer_and_every_customer_its_records(
    generated: Path, warehouse
) -> None:
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    live, xref_rows, missing, not_live, duplicated, without_customer = _query(
        path,
        f"""
        with live as (select * from {links} where is_live),
        xref as (select * from marts.customer_source_xref)
        select
            (select count(*) from live),
            (select count(*) from xref),
            (select count(*) from live l where not exists (
                select 1 from xref x where x.source_table = l.source_table
                and x.source_record_id = l.source_record_id)),
            (select count(*) from xref x where not exists (
                select 1 from live l where x.source_table = l.source_table
                and x.source_record_id = l.source_record_id)),
            (select count(*) from (
                select 1 from xref group by source_table, source_record_id having count(*) > 1)),
            (select count(*) from xref where customer_id is null)
        """,
    )[0]
    assert live > 5000
    assert xref_rows == live
    assert missing == not_live == duplicated == without_customer == 0
    customers, dim_rows, dim_ids, unknown, without_records, miscounted, multi = _query(
        path,
        """
        with per_customer as (
            select customer_id, count(*) as records, count(distinct source_table) as sources
            from marts.customer_source_xref group by customer_id
        )
        select
            (select count(*) from per_customer),
            (select count(*) from marts.dim_customer),
            (select count(distinct customer_id) from marts.dim_customer),
            (select count(*) from per_customer p where not exists (
                select 1 from marts.dim_customer d where d.customer_id = p.customer_id)),
            (select count(*) from marts.dim_customer d where not exists (
                select 1 from per_customer p where d.customer_id = p.customer_id)),
            (select count(*) from marts.dim_customer d join per_customer p using (customer_id)
             where d.record_count <> p.records or d.source_count <> p.sources),
            (select count(*) from per_customer where records > 1)
        """,
    )[0]
    assert customers == dim_rows == dim_ids
    assert unknown == without_records == miscounted == 0
    assert multi > 1000  # customers resolved from several records, not one per record


def test_golden_attributes_come_from_the_sources_their_rule_allows(warehouse) -> None:
    path, _ = warehouse
    # The rules as the build loaded them (the seed's key column is being
    # renamed from `attribute` to `attribute_name`: either is read).
    seed_columns = {
        name
        for (name,) in _query(
            path,
            "select column_name from information_schema.columns "
            "where table_schema = 'seeds' and table_name = 'survivorship_rules'",
        )
    }
    key = "attribute_name" if "attribute_name" in seed_columns else "attribute"
    rules = {
        attribute: (strategy, source_priority.split("|"))
        for attribute, strategy, source_priority in _query(
            path, f"select {key}, strategy, source_priority from seeds.survivorship_rules"
        )
    }
    assert len(rules) >= 10
    columns = {
        name
        for (name,) in _query(
            path,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'dim_customer'",
        )
    }
    for attribute, (_, sources) in rules.items():
        assert {attribute, f"{attribute}_source", f"{attribute}_updated_at"} <= columns, attribute
        allowed = ", ".join(f"'{s}'" for s in sources)
        filled, other_source, undated = _query(
            path,
            f"""
            select
                count({attribute}),
                count(*) filter (where {attribute} is not null and (
                    {attribute}_source is null or {attribute}_source not in ({allowed}))),
                count(*) filter (where {attribute} is not null and {attribute}_updated_at is null)
            from marts.dim_customer
            """,
        )[0]
        assert filled > 0, attribute
        assert other_source == 0, attribute
        assert undated == 0, attribute

    # The address the customer logs in with wins: whoever holds an e-commerce
    # record with an email gets that email's token, from that source.
    assert rules["email_token"][0] == "source_priority"
    assert rules["email_token"][1][0] == "ecommerce_customers"
    holders, other_source, not_an_account_email = _query(
        path,
        """
        with account_emails as (
            select x.customer_id, list(r.email_token) as tokens
            from marts.customer_source_xref x
            join intermediate.int_identity_records r
                on r.source_table = x.source_table and r.source_record_id = x.source_record_id
            where x.source_table = 'ecommerce_customers' and r.email_token is not null
            group by x.customer_id
        )
        select
            count(*),
            count(*) filter (where d.email_token_source is distinct from 'ecommerce_customers'),
            count(*) filter (where not coalesce(list_contains(a.tokens, d.email_token), false))
        from account_emails a
        join marts.dim_customer d using (customer_id)
        """,
    )[0]
    assert holders > 1000
    assert other_source == 0
    assert not_an_account_email == 0


ACTIVITY = [
    ("stg_ecommerce__orders", "order_id", "fct_orders"),
    ("stg_mobile_app__events", "event_id", "fct_app_events"),
    ("stg_pos__transactions", "transaction_id", "fct_pos_transactions"),
    ("stg_crm__tickets", "ticket_id", "fct_tickets"),
]


def test_activity_facts_hold_every_event_once_and_reconcile_with_dim_customer(warehouse):
    path, _ = warehouse
    for model, key, fact in ACTIVITY:
        live, rows, keys, missing, unknown = _query(
            path,
            f"""
            with live as (select * from staging.{model} where not is_deleted)
            select
                (select count(*) from live),
                (select count(*) from marts.{fact}),
                (select count(distinct {key}) from marts.{fact}),
                (select count(*) from live s where not exists (
                    select 1 from marts.{fact} f where f.{key} = s.{key})),
                (select count(*) from marts.{fact} f where not exists (
                    select 1 from live s where f.{key} = s.{key}))
            """,
        )[0]
        assert live > 500, fact
        assert rows == keys == live, fact
        assert missing == unknown == 0, fact

    (
        mismatched,
        revenue,
        fact_revenue,
        non_revenue_orders,
        spend,
        fact_spend,
        attributed_orders,
        orders,
    ) = _query(
        path,
        """
        with
        o as (
            select customer_id, count(*) as n,
                   sum(case when is_revenue then order_total else 0 end) as revenue
            from marts.fct_orders where customer_id is not null group by 1
        ),
        a as (
            select customer_id, count(*) as n
            from marts.fct_app_events where customer_id is not null group by 1
        ),
        p as (
            select customer_id, count(*) as n, sum(amount) as spend
            from marts.fct_pos_transactions where customer_id is not null group by 1
        ),
        t as (
            select customer_id, count(*) as n
            from marts.fct_tickets where customer_id is not null group by 1
        )
        select
            count(*) filter (where
                d.order_count <> coalesce(o.n, 0)
                or d.order_revenue <> coalesce(o.revenue, 0)
                or d.app_event_count <> coalesce(a.n, 0)
                or d.pos_transaction_count <> coalesce(p.n, 0)
                or d.pos_spend <> coalesce(p.spend, 0)
                or d.ticket_count <> coalesce(t.n, 0)),
            sum(d.order_revenue),
            (select sum(order_total) from marts.fct_orders
             where customer_id is not null and is_revenue),
            (select count(*) from marts.fct_orders
             where customer_id is not null and not is_revenue and order_total > 0),
            sum(d.pos_spend),
            (select sum(amount) from marts.fct_pos_transactions where customer_id is not null),
            (select count(*) from marts.fct_orders where customer_id is not null),
            (select count(*) from marts.fct_orders)
        from marts.dim_customer d
        left join o using (customer_id)
        left join a using (customer_id)
        left join p using (customer_id)
        left join t using (customer_id)
        """,
    )[0]
    assert mismatched == 0
    assert revenue == fact_revenue > 0
    assert non_revenue_orders > 0  # cancelled and returned orders exist and are left out
    assert spend == fact_spend > 0
    # An order whose account was since deleted has no customer; most have one.
    assert attributed_orders >= 0.95 * orders


@pytest.fixture(scope="module")
def scores(generated: Path, warehouse) -> dict:
    from c360.evaluation import evaluate, format_evaluation

    path, _ = warehouse
    result = evaluate(path, generated / "truth")
    print("\n" + format_evaluation(result))
    return result


def test_accuracy_on_the_generated_truth(scores: dict) -> None:
    pairwise, identifiable = scores["pairwise"], scores["identifiable"]
    junior_senior = scores["hard_negatives"]["junior_senior"]
    print(
        f"\npairwise precision {pairwise['precision']:.4f} recall {pairwise['recall']:.4f}; "
        f"identifiable ({identifiable['records']:,} records) precision "
        f"{identifiable['pairwise']['precision']:.4f} recall "
        f"{identifiable['pairwise']['recall']:.4f}; junior_senior groups falsely merged "
        f"{junior_senior['groups_falsely_merged']} of {junior_senior['groups']}"
    )
    records = scores["records"]
    assert records["scored"] == records["truth_live"] == records["xref"] > 5000
    assert pairwise["true_pairs"] > 10_000
    assert pairwise["precision"] >= 0.99
    assert identifiable["records"] > 0.8 * records["scored"]
    assert identifiable["pairwise"]["recall"] >= 0.93
    assert junior_senior["groups"] > 5
    assert junior_senior["groups_falsely_merged"] <= 0.3 * junior_senior["groups"]


@pytest.mark.parametrize(
    ("kind", "max_share"),
    [("household", 0.05), ("twins", 0.2), ("shared_household_email", 0.3), ("family_device", 0.1)],
)
def test_households_and_twins_are_rarely_merged(scores: dict, kind: str, max_share: float) -> None:
    """People who share an address, a surname, a landline, a family email or a
    tablet (and twins, who share a birth date too) stay apart: the contradiction
    checks and the over-merge guard at work."""
    negatives = scores["hard_negatives"][kind]
    assert negatives["groups"] > 0
    assert negatives["groups_falsely_merged"] <= max_share * negatives["groups"], negatives


COMPARISONS = {
    "first_name",
    "last_name",
    "date_of_birth",
    "location",
    "email",
    "phone",
    "name_suffix",
}


def test_one_trained_model_is_current_and_blocking_stays_near_linear(warehouse) -> None:
    import json

    path, first = warehouse
    assert first.trained is not None  # a new warehouse has no model: the first run trains
    models = _query(
        path, "select model_version, is_current, model_json from matching.splink_models"
    )
    current = [(version, text) for version, is_current, text in models if is_current]
    assert len(current) == 1
    version, text = current[0]
    assert version == first.trained.version == first.scoring.model_version
    model = json.loads(text)
    names = [c["output_column_name"] for c in model["comparisons"]]
    assert len(names) == len(set(names))
    assert set(names) >= COMPARISONS
    assert 0 < model["probability_two_random_records_match"] < 1
    for comparison in model["comparisons"]:
        # Trained: m and u estimated for the comparison's levels.
        assert any(
            "m_probability" in level and "u_probability" in level
            for level in comparison["comparison_levels"]
        ), comparison["output_column_name"]

    identity_records = _query(path, "select count(*) from intermediate.int_identity_records")[0][0]
    runs = _query(
        path,
        "select model_version, records, comparisons, records_rescored, is_full "
        "from matching.splink_scoring_runs order by run_date",
    )
    assert runs
    for run_version, records, comparisons, rescored, is_full in runs:
        assert run_version == version
        assert 0 < records <= identity_records
        if is_full:
            assert rescored == records and 0 < comparisons < 30 * records
        else:
            assert comparisons < 30 * rescored + 1
    assert runs[-1][1] == identity_records
    assert (version, first.scoring.records, first.scoring.comparisons) == runs[-1][:3]


def test_no_cluster_holds_two_generational_suffixes_unless_flagged(warehouse) -> None:
    path, _ = warehouse
    records, clustered = _query(
        path,
        """
        select
            (select count(*) from intermediate.int_identity_records),
            (select count(*) from intermediate.int_identity_clusters c
             join intermediate.int_identity_records r on r.record_key = c.record_key)
        """,
    )[0]
    assert clustered == records
    # The data tempts a merge: a father and son share a surname and a phone or address.
    tempting = _query(
        path,
        """
        select count(*)
        from intermediate.int_identity_records a
        join intermediate.int_identity_records b
            on a.last_name_normalized = b.last_name_normalized
           and a.record_key < b.record_key and a.name_suffix <> b.name_suffix
           and (a.phone_token = b.phone_token or a.address_token = b.address_token)
        """,
    )[0][0]
    assert tempting > 0
    mixed = _query(
        path,
        """
        select c.cluster_id, list(distinct r.name_suffix), bool_or(c.is_flagged_for_review)
        from intermediate.int_identity_clusters c
        join intermediate.int_identity_records r on r.record_key = c.record_key
        group by c.cluster_id
        having count(distinct r.name_suffix) > 1
        """,
    )
    assert [row for row in mixed if not row[2]] == []


def test_evaluate_cli_writes_the_report(generated: Path, warehouse, scores, tmp_path) -> None:
    import json

    path, _ = warehouse
    out = tmp_path / "e.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "evaluate",
            "--truth",
            str(generated / "truth"),
            "--warehouse",
            str(path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pairwise" in result.stdout
    report = json.loads(out.read_text())
    assert {
        "records",
        "pairwise",
        "bcubed",
        "clusters",
        "by_source_pair",
        "hard_negatives",
        "identifiable",
    } <= set(report)
    assert {"precision", "recall", "f1", "tp", "fp", "fn"} <= set(report["pairwise"])
    assert {"precision", "recall", "f1"} <= set(report["bcubed"])
    assert {"predicted", "true_persons", "false_merges", "false_splits"} <= set(report["clusters"])
    assert {"clusters", "records", "persons"} <= set(report["clusters"]["false_merges"])
    assert {"records", "anonymous_records", "pairwise", "bcubed", "clusters"} <= set(
        report["identifiable"]
    )
    assert report["by_source_pair"] and report["hard_negatives"]
    # The same numbers as the library call on the same warehouse.
    for key in ("records", "pairwise", "bcubed", "clusters", "hard_negatives", "identifiable"):
        assert report[key] == scores[key], key


def test_a_model_trained_for_another_definition_is_retrained(
    warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parameters are frozen between trainings, but a model trained before the
    comparisons in splink_models/identity.py changed no longer fits them."""
    WAREHOUSE_ENV = "C360_WAREHOUSE"
    from splink_models import identity, runtime

    path, _ = warehouse
    monkeypatch.setenv(WAREHOUSE_ENV, str(path))
    copy = copy_warehouse(path, tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(copy))
    try:
        old = runtime.current_model(con)
        assert old is not None and old.fits_the_code
        con.execute("update matching.splink_models set definition_version = 'an-older-definition'")
    finally:
        con.close()

    trained, scoring = pipeline.score(copy)

    assert trained is not None
    assert trained.definition_version == identity.definition_version()
    assert scoring.model_version == trained.version
    con = duckdb.connect(str(copy))
    try:
        current = runtime.current_model(con)
        stale = con.execute(
            "select count(*) from matching.splink_models "
            "where is_current and definition_version = 'an-older-definition'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert current is not None and current.fits_the_code
    assert stale == 0


# Life events and look-alikes, delivered on a day after the generated ones,
# to a warehouse whose model was trained on the generated people. Each is
# two records of one made-up person (or of two people, for the look-alikes),
# with names no generated person has.
_LIFE_EVENTS = {
    "ecommerce_customers": [
        # A married surname and a move, with the same email, first name and birth date.
        {
            "customer_account_id": "LE-E1",
            "first_name": "Maren",
            "last_name": "Quistgaard",
            "email": "maren.q@example.org",
            "date_of_birth": "1985-04-12",
            "street_address": "14 Alder Way",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
        },
        # A nickname with a typo, and a typo in the surname: the same birth date and postcode.
        {
            "customer_account_id": "LE-E3",
            "first_name": "Katherine",
            "last_name": "Wojtowicz",
            "email": "k.wojtowicz.90@example.net",
            "date_of_birth": "1990-02-14",
            "street_address": "301 Peachtree St",
            "city": "Atlanta",
            "state": "GA",
            "postal_code": "30301",
        },
        # Twins: one surname, birth date and address, two first names.
        {
            "customer_account_id": "LE-E6",
            "first_name": "Henrietta",
            "last_name": "Oyelaran",
            "email": "henrietta.oyelaran@example.com",
            "date_of_birth": "2001-03-09",
            "street_address": "6 Maple Dr",
            "city": "Boise",
            "state": "ID",
            "postal_code": "83702",
        },
    ],
    "loyalty_members": [
        {
            "loyalty_id": "LE-L1",
            "first_name": "Maren",
            "last_name": "Tollefsrud",
            "email": "maren.q@example.org",
            "date_of_birth": "1985-04-12",
            "street_address": "92 Birch Rd",
            "city": "Peoria",
            "state": "IL",
            "postal_code": "61602",
        },
        # A move with the same name, birth date and phone.
        {
            "loyalty_id": "LE-L2",
            "first_name": "Osric",
            "last_name": "Venhuizen",
            "phone": "(217) 555-0143",
            "date_of_birth": "1971-09-03",
            "street_address": "77 Pine Ave",
            "city": "Champaign",
            "state": "IL",
            "postal_code": "61820",
        },
        # First and last name swapped.
        {
            "loyalty_id": "LE-L4",
            "first_name": "Ingrid",
            "last_name": "Solvang",
            "date_of_birth": "1979-11-30",
            "street_address": "8 Elm Ct",
            "city": "Madison",
            "state": "WI",
            "postal_code": "53703",
        },
        # A father's son: one name, one address and landline, 30 years apart.
        {
            "loyalty_id": "LE-L5",
            "first_name": "Bartholomew",
            "last_name": "Ekwueme Jr.",
            "phone": "918-555-0190",
            "date_of_birth": "1988-06-02",
            "street_address": "31 Cedar Ln",
            "city": "Tulsa",
            "state": "OK",
            "postal_code": "74103",
        },
        {
            "loyalty_id": "LE-L6",
            "first_name": "Philippa",
            "last_name": "Oyelaran",
            "email": "pip.oyelaran@example.com",
            "date_of_birth": "2001-03-09",
            "street_address": "6 Maple Dr",
            "city": "Boise",
            "state": "ID",
            "postal_code": "83702",
        },
        # A household: one address and landline, two people.
        {
            "loyalty_id": "LE-L7",
            "first_name": "Evangeline",
            "last_name": "Fairweather",
            "phone": "518-555-0111",
            "date_of_birth": "1968-07-04",
            "street_address": "2 Spruce St",
            "city": "Albany",
            "state": "NY",
            "postal_code": "12207",
        },
    ],
    "enrichment_profiles": [
        {
            "provider_record_id": "LE-N2",
            "first_name": "Osric",
            "last_name": "Venhuizen",
            "phone": "217-555-0143",
            "date_of_birth": "1971-09-03",
            "street_address": "5 Oak St",
            "city": "Decatur",
            "state": "IL",
            "postal_code": "62521",
        },
        {
            "provider_record_id": "LE-N3",
            "first_name": "Kahty",
            "last_name": "Wojtowcz",
            "date_of_birth": "1990-02-14",
            "street_address": "301 Peachtree Street",
            "city": "Atlanta",
            "state": "GA",
            "postal_code": "30301",
        },
        {
            "provider_record_id": "LE-N4",
            "first_name": "Solvang",
            "last_name": "Ingrid",
            "date_of_birth": "1979-11-30",
            "street_address": "8 Elm Court",
            "city": "Madison",
            "state": "WI",
            "postal_code": "53703",
        },
        {
            "provider_record_id": "LE-N5",
            "first_name": "Bartholomew",
            "last_name": "Ekwueme",
            "phone": "918-555-0190",
            "date_of_birth": "1958-06-02",
            "street_address": "31 Cedar Ln",
            "city": "Tulsa",
            "state": "OK",
            "postal_code": "74103",
        },
        {
            "provider_record_id": "LE-N7",
            "first_name": "Cornelius",
            "last_name": "Fairweather",
            "phone": "518-555-0111",
            "date_of_birth": "1966-01-20",
            "street_address": "2 Spruce St",
            "city": "Albany",
            "state": "NY",
            "postal_code": "12207",
        },
    ],
}
_ONE_PERSON = {
    "married surname and a move, same email": (
        "ecommerce_customers:LE-E1",
        "loyalty_members:LE-L1",
    ),
    "a move, same name, birth date and phone": (
        "loyalty_members:LE-L2",
        "enrichment_profiles:LE-N2",
    ),
    "a nickname and a typo in each name": (
        "ecommerce_customers:LE-E3",
        "enrichment_profiles:LE-N3",
    ),
    "first and last name swapped": ("loyalty_members:LE-L4", "enrichment_profiles:LE-N4"),
}
_TWO_PEOPLE = {
    "father and son": ("loyalty_members:LE-L5", "enrichment_profiles:LE-N5"),
    "twins": ("ecommerce_customers:LE-E6", "loyalty_members:LE-L6"),
    "household members": ("loyalty_members:LE-L7", "enrichment_profiles:LE-N7"),
}


def _deliver(landing: Path, day: str, rows_by_table: dict[str, list[dict]]) -> None:
    import pyarrow as pa

    from c360.tools.generator.render import conform, with_op

    extracted = int(dt.datetime.fromisoformat(f"{day}T06:00:00").timestamp() * 1_000_000)
    for table, rows in rows_by_table.items():
        columns = {name for row in rows for name in row}
        data = {name: [row.get(name) for row in rows] for name in sorted(columns)}
        for name in ("date_of_birth",):
            if name in data:
                data[name] = pa.array(
                    [dt.date.fromisoformat(v) if v else None for v in data[name]], pa.date32()
                )
        stamped = {
            "ecommerce_customers": ("created_at", "updated_at"),
            "loyalty_members": ("enrolled_at", "updated_at"),
            "enrichment_profiles": ("refreshed_at",),
        }[table]
        for name in stamped:
            data[name] = pa.array([dt.datetime.fromisoformat(f"{day}T05:00:00")] * len(rows))
        folder = landing / table / f"dt={day}"
        folder.mkdir(parents=True)
        pq.write_table(with_op(conform(table, data), "U", extracted), folder / "part-00000.parquet")


def test_life_events_link_and_look_alikes_stay_apart(
    generated: Path, warehouse, tmp_path: Path
) -> None:
    path, _ = warehouse
    landing = tmp_path / "landing"
    shutil.copytree(generated / "landing", landing)
    last_day = max(p.name for p in (landing / "ecommerce_customers").iterdir())
    day = (dt.date.fromisoformat(last_day.removeprefix("dt=")) + dt.timedelta(days=1)).isoformat()
    _deliver(landing, day, _LIFE_EVENTS)
    copy = copy_warehouse(path, tmp_path / "w.duckdb")

    pipeline.run(landing, copy)

    customer = dict(
        _query(
            copy,
            "select source_table || ':' || source_record_id, customer_id "
            "from marts.customer_source_xref where source_record_id like 'LE-%'",
        )
    )
    assert len(customer) == sum(len(rows) for rows in _LIFE_EVENTS.values())
    apart = [case for case, (a, b) in _ONE_PERSON.items() if customer[a] != customer[b]]
    merged = [case for case, (a, b) in _TWO_PEOPLE.items() if customer[a] == customer[b]]
    assert (apart, merged) == ([], [])
