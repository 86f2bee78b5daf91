{#
    Delete what dbt's tables hold of the records the privacy intake erased or
    suppressed (the privacy_actions source: pending_purge, pending_unlink,
    erased_customers). dbt owns what it builds: the intake (c360/privacy/)
    deletes from raw and the landing files only, and asks for this, run as
    `dbt run-operation purge_pending_erasures` by c360/pipeline.py:

    stage 'intake'    after the intake, before scoring: the tables the rest of
                      the day reads (`models`: vault, identity records, edges,
                      data issues), the staging images (`staging`: an erased
                      record's rows deleted, activity pointing at one
                      unlinked), and vault tokens no record holds any more.
                      The day then runs as if the sources had deleted them.
    stage 'published' once the day is published: every table and snapshot
                      (state keeps history: id assignments, memberships,
                      events), and every snapshot version of an erased
                      customer.

    `purge_id` tags the rows counted into privacy.purge_log, which the
    pipeline reads back. The whole stage is one transaction, committed at its
    end (run-operation commits nothing itself): it purges all or nothing, and
    a rerun after a crash deletes nothing twice.
#}
{% macro purge_pending_erasures(stage, purge_id, models=[], staging=[]) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set pending = source('privacy_actions', 'pending_purge') -%}
    {%- set unlink = source('privacy_actions', 'pending_unlink') -%}
    {%- set erased_customers = source('privacy_actions', 'erased_customers') -%}
    {%- set waiting = run_query('select count(*) from ' ~ pending ~ ' union all select count(*) from ' ~ unlink) -%}
    {%- if waiting.columns[0].values() | sum == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set record_keys = "select source_table || ':' || source_record_id from " ~ pending -%}

    {%- if stage == 'intake' -%}
        {%- for image in staging -%}
            {%- set relation = adapter.get_relation(database=target_database(), schema='staging', identifier=image['model']) -%}
            {%- if relation is not none -%}
                {%- if image['kind'] == 'identity' -%}
                    {%- do _purge_count(purge_id, stage, relation, run_delete_rows(relation,
                        adapter.quote(image['key']) ~ ' in (select source_record_id from '
                        ~ pending ~ " where source_table = '" ~ image['table'] ~ "')")) -%}
                {%- else -%}
                    {%- for reference in image['references'] -%}
                        {%- set cleared = {adapter.quote(reference[0]): 'null'} -%}
                        {%- for column in image['quasi_identifiers'] -%}
                            {%- do cleared.update({adapter.quote(column): 'null'}) -%}
                        {%- endfor -%}
                        {%- do _purge_count(purge_id, stage, relation, run_update_rows(relation, cleared,
                            adapter.quote(reference[0])
                            ~ ' in (select source_record_id from ' ~ unlink ~ " where source_table = '"
                            ~ reference[1] ~ "')")) -%}
                    {%- endfor -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'snapshot') -%}
        {%- if stage != 'intake' or node.name in models -%}
            {%- set relation = adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias or node.name
            ) -%}
            {%- if relation is not none and relation.type == 'table' -%}
                {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
                {%- set conditions = [] -%}
                {%- if 'source_table' in columns and 'source_record_id' in columns -%}
                    {#- An equi-join on both columns: concatenating them would
                        build a string for every row of the table. -#}
                    {%- do conditions.append(
                        'exists (select 1 from ' ~ pending ~ ' as purged where purged.source_table = '
                        ~ 'held.source_table and purged.source_record_id = held.source_record_id)'
                    ) -%}
                {%- endif -%}
                {%- if 'record_key' in columns -%}
                    {%- do conditions.append('record_key in (' ~ record_keys ~ ')') -%}
                {%- endif -%}
                {%- if 'record_key_a' in columns and 'record_key_b' in columns -%}
                    {%- do conditions.append('record_key_a in (' ~ record_keys ~ ') or record_key_b in (' ~ record_keys ~ ')') -%}
                {%- endif -%}
                {%- if 'node' in columns -%}
                    {%- do conditions.append('node in (' ~ record_keys ~ ')') -%}
                {%- endif -%}
                {%- if node.resource_type == 'snapshot' and 'customer_id' in columns -%}
                    {#- The erased customer's id, and every id merged into it before:
                        the id history marks them all erased. -#}
                    {%- do conditions.append('customer_id in (select customer_id from ' ~ erased_customers
                        ~ ') or customer_id in (select customer_id from ' ~ ref('customer_id_history')
                        ~ " where status = 'erased')") -%}
                {%- endif -%}
                {%- if conditions -%}
                    {%- set where = [] -%}
                    {%- for condition in conditions -%}
                        {%- do where.append('(' ~ condition ~ ')') -%}
                    {%- endfor -%}
                    {%- do _purge_count(
                        purge_id, stage, relation, run_delete_rows(relation, where | join(' or '), alias='held')
                    ) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- if stage == 'intake' -%}
        {%- set tokens = adapter.get_relation(database=target_database(), schema='vault', identifier='vault_pii_tokens') -%}
        {%- set identity_pii = adapter.get_relation(database=target_database(), schema='vault', identifier='vault_identity_pii') -%}
        {%- if tokens is not none and identity_pii is not none -%}
            {%- set held = [] -%}
            {%- for column in ['email_token', 'phone_token', 'address_token', 'house_number_token', 'name_token'] -%}
                {%- do held.append('select ' ~ column ~ ' as token from ' ~ identity_pii ~ ' where ' ~ column ~ ' is not null') -%}
            {%- endfor -%}
            {%- do _purge_count(purge_id, stage, tokens, run_delete_rows(tokens,
                'not exists (select 1 from (' ~ held | join(' union ')
                ~ ') as held where held.token = vault.token)', alias='vault')) -%}
        {%- endif -%}
    {%- endif -%}
    {%- do purge_commit() -%}
{% endmacro %}

{#
    DuckDB: the stage's one transaction commits. Spark has no transactions:
    each rewrite is its own, and a rerun after a crash finds what is left.
#}
{% macro purge_commit() -%}
    {{ return(adapter.dispatch('purge_commit', 'c360')()) }}
{%- endmacro %}

{% macro default__purge_commit() -%}
    {%- do adapter.commit() -%}
{%- endmacro %}

{% macro spark__purge_commit() -%}
{%- endmacro %}

{#
    Log how many rows a purge statement (run_delete_rows, run_update_rows:
    macros/incremental/table_statements.sql) deleted or unlinked.
#}
{% macro _purge_count(purge_id, stage, relation, changed) %}
    {%- if changed -%}
        {%- do run_query(
            'insert into ' ~ source('privacy_actions', 'purge_log') ~ " values ('" ~ purge_id ~ "', '"
            ~ stage ~ "', '" ~ relation ~ "', " ~ changed ~ ', current_timestamp)'
        ) -%}
    {%- endif -%}
{% endmacro %}
