{#
    The landing date a build processes: the `run_date` var, which `c360 run`
    and Dagster pass for each day in turn (c360/dbt.py). A hand-run `dbt
    build` without it processes the newest date the loader has loaded: it
    repeats that day's run rather than inventing a new one.
#}
{% macro run_date() -%}
    {%- if var('run_date') -%}
        {{ return(var('run_date') | string) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('1970-01-01') }}
    {%- endif -%}
    {#- The loader's log in the raw schema (the sources' schema), named as a
        relation rather than through source(): a source here would be a
        dependency of every caller, and a dbt unit test of one, which mocks
        only its declared inputs, would not compile. -#}
    {%- set load_log = adapter.get_relation(
        database=target_database(), schema='raw', identifier='_landing_load_log'
    ) -%}
    {%- if load_log is none -%}
        {{ return('1970-01-01') }}
    {%- endif -%}
    {%- set newest = run_query('select max(dt) from ' ~ load_log).columns[0].values()[0] -%}
    {{ return((newest or '1970-01-01') | string) }}
{%- endmacro %}

{# The run date as a SQL date literal. #}
{% macro run_date_literal() -%}
    cast('{{ run_date() }}' as date)
{%- endmacro %}
