"""Suppression: what erased people leave behind so that they stay erased
(hashes of their record keys and of a third party's identifiers, under a key
of their own), the sweep of each day's deliveries against it, and the
sale preferences (opt-out and opt-in of sale) on customers' records."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from c360 import engine, warehouse
from c360.contract import ACTIVITY_REFERENCES, IDENTITY_TABLES, TABLES
from c360.privacy.resolution import Decision
from c360.privacy.tables import SCHEMA, STAGING_MODELS, THIRD_PARTY_SOURCES
from c360.tokenization import hmac_sha256_sql, secret_key

SUPPRESSION_KEY_ENV = "C360_SUPPRESSION_KEY"
SUPPRESSION_KEY_FILE_ENV = "C360_SUPPRESSION_KEY_FILE"
DEVELOPMENT_SUPPRESSION_KEY = "INSECURE-DEVELOPMENT-SUPPRESSION-KEY-DO-NOT-USE-WITH-REAL-DATA"


def suppression_key() -> bytes:
    return secret_key(SUPPRESSION_KEY_ENV, SUPPRESSION_KEY_FILE_ENV, DEVELOPMENT_SUPPRESSION_KEY)


def suppression_hash(kind: str, value: str | None, key: bytes | None = None) -> str | None:
    """The suppression entry of an identifier: HMAC-SHA-256 under the suppression
    key, so it never equals the identifier's token (another key, another
    message) and nobody without the key can test a guessed email against it."""
    if value is None:
        return None
    message = f"suppress\x1f{kind}\x1f{value}".encode()
    return hmac.new(key or suppression_key(), message, hashlib.sha256).hexdigest()


# The suppression hash computed in the engine, like tokens (c360/tokenization.py):
# the key's pads are bound to session variables, never written into SQL.
SUPPRESSION_PADS = "c360_suppression"


def suppression_hash_sql(kind_sql: str, value_sql: str) -> str:
    """SQL for suppression_hash(kind, value) over two SQL expressions."""
    return hmac_sha256_sql(
        SUPPRESSION_PADS, f"'suppress' || chr(31) || {kind_sql} || chr(31) || {value_sql}"
    )


def set_sale_preference(con, decision: Decision, records, run_date: dt.date) -> None:
    opted_out = decision.request_type == "opt_out_sale"
    engine.insert_many(
        con,
        f"insert or replace into {SCHEMA}.sale_preferences values (?, ?, ?, ?, ?, 'request')",
        [(t, r, opted_out, run_date, decision.request_id) for t, r in records],
    )


def extend_to_third_party_records(con) -> None:
    """A third party's profile that carries an erased person's email or phone is
    theirs too, linked or not; identifiers a first-party record of someone
    else also holds (a family email, a household phone) are that person's as
    well and are neither suppressed nor followed."""
    con.execute(
        """
        create or replace temp table _erased_identifiers as
        with erased as (
            select pii.* from vault.vault_identity_pii as pii
            inner join _erase_records as e
                on pii.source_table = e.source_table and pii.source_record_id = e.source_record_id
        ),
        others as (
            select pii.* from vault.vault_identity_pii as pii
            where not list_contains(?::varchar[], pii.source_table)
              and not exists (
                  select 1 from _erase_records as e
                  where e.source_table = pii.source_table
                    and e.source_record_id = pii.source_record_id)
        ),
        identifiers as (
            select distinct 'email' as kind, email_normalized as value from erased
            where email_normalized is not null
            union
            select distinct 'phone', phone_e164 from erased where phone_e164 is not null
        )
        select * from identifiers
        where not exists (
            select 1 from others
            where (identifiers.kind = 'email' and others.email_normalized = identifiers.value)
               or (identifiers.kind = 'phone' and others.phone_e164 = identifiers.value)
        )
        """,
        [list(THIRD_PARTY_SOURCES)],
    )
    con.execute(
        """
        insert into _erase_records
        select distinct pii.source_table, pii.source_record_id, null
        from vault.vault_identity_pii as pii
        inner join _erased_identifiers as ids
            on (ids.kind = 'email' and pii.email_normalized = ids.value)
            or (ids.kind = 'phone' and pii.phone_e164 = ids.value)
        where pii.source_table in (select unnest(?::varchar[]))
          and not exists (
              select 1 from _erase_records as e
              where e.source_table = pii.source_table
                and e.source_record_id = pii.source_record_id)
        """,
        [list(THIRD_PARTY_SOURCES)],
    )


def add_suppression_entries(con, run_date: dt.date) -> None:
    con.execute(
        f"""
        insert or ignore into {SCHEMA}.suppression_list
        select distinct 'source_record',
            {suppression_hash_sql("'source_record'", "source_table || '|' || source_record_id")},
            'all_sources', ?::date
        from _erase_records
        union all
        select distinct kind, {suppression_hash_sql("kind", "value")}, 'third_party', ?::date
        from _erased_identifiers
        """,
        [run_date, run_date],
    )


def sweep_deliveries(con) -> int:
    """Rows loaded since the last sweep that suppression forbids: an erased
    record sent again (any source), a third party's record carrying an erased
    email or phone, activity pointing at an erased record (unlinked)."""
    watermark = engine.scalar(con, f"select swept_through from {SCHEMA}.sweep_state")
    latest = engine.scalar(con, f"select max(loaded_at) from {warehouse.LOAD_LOG}")
    con.execute(
        "create or replace temp table _suppressed_records (source_table varchar, "
        "source_record_id varchar, reason varchar)"
    )
    con.execute(
        "create or replace temp table _unlink_keys (source_table varchar, source_record_id varchar)"
    )
    has_entries = engine.scalar(con, f"select count(*) from {SCHEMA}.suppression_list") > 0
    if has_entries and latest is not None:
        since = watermark or dt.datetime.min
        for table in IDENTITY_TABLES:
            record_hash = suppression_hash_sql(
                "'source_record'", f"'{table.name}|' || \"{table.key}\""
            )
            con.execute(
                f"""insert into _suppressed_records
                select distinct '{table.name}', "{table.key}", 'erased record delivered again'
                from {warehouse.RAW_SCHEMA}.{table.name}
                where _loaded_at > ? and {record_hash} in (
                    select identifier_hash from {SCHEMA}.suppression_list
                    where identifier_kind = 'source_record')""",
                [since],
            )
        for third_party in THIRD_PARTY_SOURCES:
            model = STAGING_MODELS[third_party]
            key = TABLES[third_party].key
            if not engine.relation_exists(con, "staging", model):
                continue
            con.execute(
                f"""insert into _suppressed_records
                select distinct '{third_party}', "{key}",
                    'third party delivered an erased identifier'
                from staging.{model}
                where _loaded_at > ? and not is_deleted and (
                    {suppression_hash_sql("'email'", "email_normalized")} in (
                        select identifier_hash from {SCHEMA}.suppression_list
                        where identifier_kind = 'email')
                    or {suppression_hash_sql("'phone'", "phone_e164")} in (
                        select identifier_hash from {SCHEMA}.suppression_list
                        where identifier_kind = 'phone'))
                  and not exists (
                      select 1 from _suppressed_records as s
                      where s.source_table = '{third_party}' and s.source_record_id = "{key}")""",
                [since],
            )
        for activity, references in ACTIVITY_REFERENCES.items():
            for column, identity in references:
                record_hash = suppression_hash_sql(
                    "'source_record'", f"'{identity}|' || \"{column}\""
                )
                con.execute(
                    f"""insert into _unlink_keys
                    select distinct '{identity}', "{column}"
                    from {warehouse.RAW_SCHEMA}.{activity}
                    where _loaded_at > ? and "{column}" is not null
                      and {record_hash} in (
                          select identifier_hash from {SCHEMA}.suppression_list
                          where identifier_kind = 'source_record')""",
                    [since],
                )
    con.execute(f"update {SCHEMA}.sweep_state set swept_through = ?", [latest])
    return engine.scalar(con, "select count(*) from _suppressed_records")


def propagate_opt_outs(con, run_date: dt.date) -> None:
    """Every record of a customer who is opted out is opted out, so a later
    split leaves every part opted out (a merge already is: the most
    restrictive record wins in int_customer_sale_preferences)."""
    if not engine.relation_exists(con, "intermediate", "int_customer_memberships"):
        return
    con.execute(
        f"""
        insert or replace into {SCHEMA}.sale_preferences
        with flagged as (
            select members.customer_id, min(prefs.request_id) as request_id
            from intermediate.int_customer_memberships as members
            inner join {SCHEMA}.sale_preferences as prefs
                on members.source_table = prefs.source_table
                and members.source_record_id = prefs.source_record_id
            where prefs.is_opted_out_of_sale
            group by members.customer_id
        )
        select members.source_table, members.source_record_id, true, ?::date,
            flagged.request_id, 'inherited'
        from intermediate.int_customer_memberships as members
        inner join flagged on members.customer_id = flagged.customer_id
        left join {SCHEMA}.sale_preferences as prefs
            on members.source_table = prefs.source_table
            and members.source_record_id = prefs.source_record_id
        where prefs.is_opted_out_of_sale is null or not prefs.is_opted_out_of_sale
        """,
        [run_date],
    )
