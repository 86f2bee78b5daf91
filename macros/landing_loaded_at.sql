{#
    Source freshness query (a source's `loaded_at_query`) for a raw landing
    table: when its newest row was loaded. A table that has never received a
    row - a source this deployment does not have - is as fresh as the last
    loader run, so an absent source does not fail `dbt source freshness`;
    with nothing loaded at all the result is null and freshness errors.
#}
{% macro landing_loaded_at(relation) -%}
    {%- set load_log = relation.incorporate(path={'identifier': '_landing_load_log'}) -%}
    select
        coalesce(
            max(_loaded_at),
            (select max(load_log.loaded_at) from {{ load_log }} as load_log)
        ) as max_loaded_at
    from {{ relation }}
{%- endmacro %}
