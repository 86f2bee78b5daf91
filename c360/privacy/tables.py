"""The privacy schema: the intake's state, which dbt reads as a source, and
the names every privacy concern shares."""

from __future__ import annotations

from c360 import engine, warehouse

SCHEMA = "privacy"

THIRD_PARTY_SOURCES = ("enrichment_profiles",)

# The staging model of each identity and activity table (models/staging/<source>/).
# They are incremental tables merged from new raw rows, so the intake purges
# them like raw; privacy requests stage as a view over raw and need no purge.
STAGING_MODELS = {
    "ecommerce_customers": "stg_ecommerce__customers",
    "mobile_app_devices": "stg_mobile_app__devices",
    "loyalty_members": "stg_loyalty__members",
    "pos_card_holders": "stg_pos__card_holders",
    "crm_contacts": "stg_crm__contacts",
    "enrichment_profiles": "stg_enrichment__profiles",
    "ecommerce_orders": "stg_ecommerce__orders",
    "mobile_app_events": "stg_mobile_app__events",
    "pos_transactions": "stg_pos__transactions",
    "crm_tickets": "stg_crm__tickets",
}

ACTIVITY_FACTS = {
    "orders": "fct_orders",
    "app_events": "fct_app_events",
    "pos_transactions": "fct_pos_transactions",
    "tickets": "fct_tickets",
}

# Quasi-identifiers on activity rows that go with the link when it is cut.
ACTIVITY_QUASI_IDENTIFIERS = {"ecommerce_orders": ["ship_postal_code"]}

# Tables that scoring and the rest of the day read, built before intake runs:
# an erased record leaves them at once, so the day resolves without it.
INTAKE_PURGED_MODELS = [
    "vault_identity_pii",
    "int_identity_records",
    "int_identity_edges__deterministic",
    # Incremental: an erased record's pairs would otherwise stay.
    "int_identity_edges__probabilistic",
    "int_pii_data_issues",
]
# Each run's scratch list of what its deliveries reach (keys and tokens of
# the records written), rebuilt whole before anything reads it: emptied by
# `finish` once the day is published, so that nothing of a day's deliveries
# (an erased record delivered again, say) waits in it for the next run.
SCRATCH_MODELS = [("intermediate", "int_identity_changes")]
# State Python writes, beside raw and this schema: the scoring's tables.
PYTHON_STATE_SCHEMAS = ("matching",)

# Never swept by record: the landing copy (purged at intake), the privacy
# state itself, and the rules in the repo.
UNSWEPT_SCHEMAS = (warehouse.RAW_SCHEMA, SCHEMA, "seeds")

DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.request_log (
        request_id varchar primary key, request_type varchar, jurisdiction varchar,
        channel varchar not null, received_at timestamp, completed_on date,
        processed_at timestamp not null, status varchar not null, status_reason varchar,
        customers_affected integer not null, records_affected integer not null,
        activity_rows_unlinked bigint not null, customer_ids varchar, export_file varchar)""",
    f"""create table if not exists {SCHEMA}.erased_customers (
        customer_id varchar primary key, request_id varchar not null, erased_on date not null)""",
    f"""create table if not exists {SCHEMA}.suppression_list (
        identifier_kind varchar not null, identifier_hash varchar not null,
        applies_to varchar not null, added_on date not null,
        primary key (identifier_kind, identifier_hash))""",
    f"""create table if not exists {SCHEMA}.sale_preferences (
        source_table varchar not null, source_record_id varchar not null,
        is_opted_out_of_sale boolean not null, decided_on date not null,
        request_id varchar, origin varchar not null,
        primary key (source_table, source_record_id))""",
    f"""create table if not exists {SCHEMA}.suppression_log (
        run_date date not null, table_name varchar not null, reason varchar not null,
        rows_removed bigint not null, rows_unlinked bigint not null)""",
    f"""create table if not exists {SCHEMA}.pending_purge (
        source_table varchar not null, source_record_id varchar not null,
        primary key (source_table, source_record_id))""",
    f"""create table if not exists {SCHEMA}.pending_unlink (
        source_table varchar not null, source_record_id varchar not null,
        primary key (source_table, source_record_id))""",
    # What dbt's purge_pending_erasures deleted, per operation and table.
    f"""create table if not exists {SCHEMA}.purge_log (
        purge_id varchar not null, stage varchar not null, relation_name varchar not null,
        rows_changed bigint not null, purged_at timestamp not null)""",
    # The other records of the email, phone and name groups that purged
    # records left (record keys, none of the purged person's values): the
    # next build of int_identity_records recomputes them (block caps,
    # inferred suffixes), as if the sources had deleted the purged records.
    f"""create table if not exists {SCHEMA}.regroup_records (record_key varchar not null)""",
    f"""create table if not exists {SCHEMA}.sweep_state (
        swept_through timestamp, is_compaction_due boolean not null)""",
    # Landing files holding rows of erased records, and what to purge from
    # them (record keys and request ids, none of the person's values). They
    # are rewritten with the batched byte purge (BYTE_PURGE_WITHIN_DAYS), not
    # at intake: a rewrite costs the file's size, and a day's erasures reach
    # a file of nearly every partition the person was ever delivered in.
    f"""create table if not exists {SCHEMA}.landing_purge_files (
        table_name varchar not null, source_file varchar not null,
        primary key (table_name, source_file))""",
    f"""create table if not exists {SCHEMA}.landing_purge_records (
        source_table varchar not null, source_record_id varchar not null,
        primary key (source_table, source_record_id))""",
    f"""create table if not exists {SCHEMA}.landing_purge_requests (
        request_id varchar primary key)""",
]

# Deleted rows stay in the warehouse file's freed blocks until the file is
# rewritten (compact), and a rewrite costs a copy of the whole file. Erasures
# therefore share one rewrite, due this many days after the first of them:
# well within the 30 days of GDPR and the 45 of CCPA. Until then the values
# are beyond every query, in no table, landing file or export.
BYTE_PURGE_WITHIN_DAYS = 7


def ensure_tables(con: engine.Connection) -> None:
    for statement in DDL:
        con.execute(statement)
    con.execute(
        f"alter table {SCHEMA}.sweep_state add column if not exists bytes_purge_due_on date"
    )
    if not con.execute(f"select count(*) from {SCHEMA}.sweep_state").fetchall()[0][0]:
        con.execute(
            f"insert into {SCHEMA}.sweep_state (swept_through, is_compaction_due) "
            "values (null, false)"
        )


CLI_SOURCE = "c360 privacy"
