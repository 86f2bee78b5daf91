{#
    Statements that change a table in place, one macro per statement, so that
    each engine says them its own way. DuckDB deletes, updates and replaces
    tables in SQL. Spark's Parquet tables (the `spark` target: no Delta or
    Iceberg) take no DELETE, UPDATE, MERGE or CREATE OR REPLACE: there a
    change is a rewrite, the rows kept (or changed) staged in a table of
    their own first, since Spark will not overwrite a table a statement reads
    (`spark_rewrite`). On Delta or Iceberg, DELETE, UPDATE and MERGE are the
    production choice, and these variants would go.
#}

{#
    Delete the rows of `relation` (aliased `alias`) where `condition` holds,
    as a hook: the statement to run (DuckDB), or '' once Spark's rewrite ran.
#}
{% macro delete_rows(relation, condition, alias=none) -%}
    {{ return(adapter.dispatch('delete_rows', 'c360')(relation, condition, alias)) }}
{%- endmacro %}

{% macro default__delete_rows(relation, condition, alias=none) -%}
    delete from {{ relation }}{{ ' as ' ~ alias if alias }}
    where {{ condition }}
{%- endmacro %}

{% macro spark__delete_rows(relation, condition, alias=none) -%}
    {%- if execute -%}
        {%- do spark_delete_rows(relation, condition, alias) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{# Delete as `delete_rows`, run now; returns the number of rows deleted. #}
{% macro run_delete_rows(relation, condition, alias=none) -%}
    {{ return(adapter.dispatch('run_delete_rows', 'c360')(relation, condition, alias)) }}
{%- endmacro %}

{% macro default__run_delete_rows(relation, condition, alias=none) -%}
    {{ return(run_query(default__delete_rows(relation, condition, alias)).columns[0].values()[0] or 0) }}
{%- endmacro %}

{% macro spark__run_delete_rows(relation, condition, alias=none) -%}
    {{ return(spark_delete_rows(relation, condition, alias)) }}
{%- endmacro %}

{#
    Set columns (`assignments`: column -> expression) of the rows where
    `condition` holds, run now; returns the number of rows changed.
#}
{% macro run_update_rows(relation, assignments, condition) -%}
    {{ return(adapter.dispatch('run_update_rows', 'c360')(relation, assignments, condition)) }}
{%- endmacro %}

{% macro default__run_update_rows(relation, assignments, condition) -%}
    {%- set sets = [] -%}
    {%- for column, expression in assignments.items() -%}
        {%- do sets.append(column ~ ' = ' ~ expression) -%}
    {%- endfor -%}
    {%- set statement = 'update ' ~ relation ~ ' set ' ~ sets | join(', ') ~ ' where ' ~ condition -%}
    {{ return(run_query(statement).columns[0].values()[0] or 0) }}
{%- endmacro %}

{% macro spark__run_update_rows(relation, assignments, condition) -%}
    {%- set changed = run_query(
        'select count(*) from ' ~ relation ~ ' where ' ~ condition
    ).columns[0].values()[0] -%}
    {%- if changed -%}
        {%- set columns = [] -%}
        {%- set assigned = {} -%}
        {%- for column, expression in assignments.items() -%}
            {%- do assigned.update({column | replace('`', '') | replace('"', '') | lower: expression}) -%}
        {%- endfor -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name | lower in assigned -%}
                {%- do columns.append(
                    'case when coalesce(' ~ condition ~ ', false) then ' ~ assigned[column.name | lower]
                    ~ ' else ' ~ adapter.quote(column.name) ~ ' end as ' ~ adapter.quote(column.name)
                ) -%}
            {%- else -%}
                {%- do columns.append(adapter.quote(column.name)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do spark_rewrite(relation, 'select ' ~ columns | join(', ') ~ ' from ' ~ relation) -%}
    {%- endif -%}
    {{ return(changed) }}
{%- endmacro %}

{#
    Spark: `relation` rewritten without the rows where `condition` holds
    (a null condition keeps the row, as DELETE does); returns how many went.
#}
{% macro spark_delete_rows(relation, condition, alias=none) -%}
    {%- set kept = 'select ' ~ (alias ~ '.' if alias else '') ~ '* from ' ~ relation
        ~ (' as ' ~ alias if alias else '') ~ ' where not coalesce((' ~ condition ~ '), false)' -%}
    {{ return(spark_rewrite(relation, kept, count_removed=true)) }}
{%- endmacro %}

{#
    Spark: overwrite `relation` with the rows of `select_sql`, staged in a
    table first (the select may read the relation itself). Returns the rows
    removed when `count_removed`.
#}
{% macro spark_rewrite(relation, select_sql, count_removed=false) -%}
    {%- set stage = relation_name(relation) ~ '__c360_rewrite' -%}
    {%- do run_query('drop table if exists ' ~ stage) -%}
    {%- do run_query('create table ' ~ stage ~ ' using parquet as ' ~ select_sql) -%}
    {%- set removed = 0 -%}
    {%- if count_removed -%}
        {%- set removed = run_query(
            'select (select count(*) from ' ~ relation ~ ') - (select count(*) from ' ~ stage ~ ')'
        ).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if not count_removed or removed -%}
        {%- do run_query('insert overwrite table ' ~ relation ~ ' select * from ' ~ stage) -%}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ stage) -%}
    {{ return(removed) }}
{%- endmacro %}

{# A relation (or a `schema.name` string) as `schema.name`. #}
{% macro relation_name(relation) -%}
    {%- if relation is string -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(relation.schema ~ '.' ~ relation.identifier) }}
{%- endmacro %}

{# Replace `name` by a table of the rows of `select_sql`, run now. #}
{% macro replace_table_as(name, select_sql) -%}
    {{ return(adapter.dispatch('replace_table_as', 'c360')(name, select_sql)) }}
{%- endmacro %}

{% macro default__replace_table_as(name, select_sql) -%}
    {%- do run_query('create or replace table ' ~ name ~ ' as ' ~ select_sql) -%}
{%- endmacro %}

{% macro spark__replace_table_as(name, select_sql) -%}
    {%- do run_query('drop table if exists ' ~ name) -%}
    {%- do run_query('create table ' ~ name ~ ' using parquet as ' ~ select_sql) -%}
{%- endmacro %}

{#
    Replace `name` by an empty table of `columns` (a list of (name, type)
    with the types as dbt.type_* gives them), run now.
#}
{% macro replace_empty_table(name, columns) -%}
    {{ return(adapter.dispatch('replace_empty_table', 'c360')(name, columns)) }}
{%- endmacro %}

{% macro default__replace_empty_table(name, columns) -%}
    {%- set spec = [] -%}
    {%- for column, type in columns -%}
        {%- do spec.append(column ~ ' ' ~ type) -%}
    {%- endfor -%}
    {%- do run_query('create or replace table ' ~ name ~ ' (' ~ spec | join(', ') ~ ')') -%}
{%- endmacro %}

{% macro spark__replace_empty_table(name, columns) -%}
    {%- set spec = [] -%}
    {%- for column, type in columns -%}
        {%- do spec.append(column ~ ' ' ~ type) -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ name) -%}
    {%- do run_query('create table ' ~ name ~ ' (' ~ spec | join(', ') ~ ') using parquet') -%}
{%- endmacro %}

{# Rename the table `name` (schema.table) to `new_identifier` in its schema, run now. #}
{% macro rename_table(name, new_identifier) -%}
    {{ return(adapter.dispatch('rename_table', 'c360')(name, new_identifier)) }}
{%- endmacro %}

{% macro default__rename_table(name, new_identifier) -%}
    {%- do run_query('alter table ' ~ name ~ ' rename to ' ~ new_identifier) -%}
{%- endmacro %}

{% macro spark__rename_table(name, new_identifier) -%}
    {%- do run_query('alter table ' ~ name ~ ' rename to ' ~ name.split('.')[0] ~ '.' ~ new_identifier) -%}
{%- endmacro %}
