{#
    A snapshot compares its source with its current versions row by row, and
    a daily snapshot of every customer costs what exists, not what changed.
    A snapshot whose meta sets `compare_touched_customers_only` compares only
    the rows of the customers this run touched (int_touched_customers): every
    other customer's source row is by construction what it was yesterday, so
    it can neither change nor disappear. The rest is dbt's own staging table.
#}
{% macro duckdb__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {{ return(touched_customers_snapshot_staging_table(strategy, source_sql, target_relation)) }}
{%- endmacro %}

{% macro spark__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {{ return(touched_customers_snapshot_staging_table(strategy, source_sql, target_relation)) }}
{%- endmacro %}

{% macro touched_customers_snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- if not config.get('meta', {}).get('compare_touched_customers_only') -%}
        {{ return(default__snapshot_staging_table(strategy, source_sql, target_relation)) }}
    {%- endif -%}
    {#- Built earlier in the day (after scoring); a relation, not a ref, since a
        snapshot's dependencies are its source's. -#}
    {%- set touched = api.Relation.create(
        database=target_relation.database, schema='intermediate',
        identifier='int_touched_customers'
    ) -%}
    {%- set touched_only = 'customer_id in (' ~ touched_customers_sql(touched) ~ ')' -%}
    {%- set source_rows = 'select * from (' ~ source_sql ~ ') as source_rows where ' ~ touched_only -%}
    {%- set current_rows = '(select * from ' ~ target_relation ~ ' where ' ~ touched_only ~ ')' -%}
    {{ return(default__snapshot_staging_table(strategy, source_rows, current_rows)) }}
{%- endmacro %}
