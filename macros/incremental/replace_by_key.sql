{#
    The project's "replace by key" incremental strategy (dbt_project.yml, the
    `replace_by_key` anchor): every row of the target whose unique_key the
    new rows carry is replaced by them, the other rows stay; rows of a key
    the new rows lack are never removed.

    DuckDB: dbt's delete+insert (why not merge there: dbt_project.yml).
    Spark on Parquet has neither DELETE nor MERGE, and dbt-spark offers only
    append and insert_overwrite there: strategy `replace_by_key` stages the
    new rows in a table, then the kept rows and the new ones in another, and
    overwrites the target from it (Spark will not overwrite a table the
    statement reads; the new rows' view may read the target too). It
    rewrites the whole table each build.
    On Delta or Iceberg, `merge` is the production choice: set the anchor to
    it there, with file_format delta/iceberg.
#}
{% macro replace_by_key_strategy() -%}
    {{ return('delete+insert' if target.type == 'duckdb' else 'replace_by_key') }}
{%- endmacro %}

{# dbt-spark's validation, knowing the project's strategy (a root-project override). #}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy == 'replace_by_key' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{% endmacro %}

{# dbt-spark's incremental SQL, with the project's strategy (a root-project override). #}
{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy == 'replace_by_key' -%}
        {{ spark_replace_by_key_sql(source, target, unique_key) }}
    {%- else -%}
        {{ dbt.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) }}
    {%- endif -%}
{% endmacro %}

{#
    Runs the staging and the overwrite; returns the last statement (dropping
    the stage), which the materialization runs as its main statement.
#}
{% macro spark_replace_by_key_sql(source, target, unique_key) -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error('replace_by_key needs a unique_key: ' ~ target) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set matches = [] -%}
    {%- for key in keys -%}
        {%- do matches.append('new_rows.' ~ key ~ ' = kept.' ~ key) -%}
    {%- endfor -%}
    {%- set stage = target.schema ~ '.' ~ target.identifier ~ '__c360_replace' -%}
    {#- The new rows first, in a table of their own: the model's SQL (the
        source view) then runs once, not once for the anti-join and again
        for the insert. -#}
    {%- set new_rows = target.schema ~ '.' ~ target.identifier ~ '__c360_new_rows' -%}
    {%- do run_query('drop table if exists ' ~ new_rows) -%}
    {%- do run_query('drop table if exists ' ~ stage) -%}
    {%- do run_query(
        'create table ' ~ new_rows ~ ' using parquet as select ' ~ columns ~ ' from ' ~ source
    ) -%}
    {%- do run_query(
        'create table ' ~ stage ~ ' using parquet as'
        ~ ' select ' ~ columns ~ ' from ' ~ target ~ ' as kept'
        ~ ' where not exists (select 1 from ' ~ new_rows ~ ' as new_rows where ' ~ matches | join(' and ') ~ ')'
        ~ ' union all select ' ~ columns ~ ' from ' ~ new_rows
    ) -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select ' ~ columns ~ ' from ' ~ stage) -%}
    {%- do run_query('drop table if exists ' ~ new_rows) -%}
    drop table if exists {{ stage }}
{%- endmacro %}
