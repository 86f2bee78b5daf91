{#
    The landing date a build processes. `c360 run` passes it (--vars
    run_date) for each day in turn; a hand-run `dbt build` processes the
    newest date the loader has loaded, so it repeats that day's run rather
    than inventing a new one.
#}
{% macro run_date() -%}
    {%- if var('run_date', none) -%}
        {{ return(var('run_date') | string) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('1970-01-01') }}
    {%- endif -%}
    {%- set newest = run_query(
        'select max(dt) from ' ~ source('ecommerce', 'ecommerce_customers').schema ~ '._landing_load_log'
    ).columns[0].values()[0] -%}
    {{ return((newest or '1970-01-01') | string) }}
{%- endmacro %}

{# The run date as a SQL date literal. #}
{% macro run_date_literal() -%}
    cast('{{ run_date() }}' as date)
{%- endmacro %}
