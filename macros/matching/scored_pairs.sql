{#
    The pairs the Splink scoring step wrote (matching.splink_match_pairs), or
    none, typed, on a warehouse never scored: a hand-run `dbt build` then
    links by the deterministic rules only, and says so. `filter` follows the
    source's select (an incremental model's where clause).
#}
{% macro scored_pairs_select(filter='') -%}
    {%- set scored = adapter.get_relation(
        database=target_database(), schema='matching', identifier='splink_match_pairs'
    ) if execute else none -%}
    {%- if scored is none and execute -%}
        {%- do log(
            'matching.splink_match_pairs does not exist yet: no probabilistic edges '
            ~ '(run `c360 score`)', info=true
        ) -%}
        select
            cast(null as {{ dbt.type_string() }}) as record_key_a,
            cast(null as {{ dbt.type_string() }}) as record_key_b,
            cast(null as double) as match_weight,
            cast(null as double) as match_probability,
            cast(null as {{ dbt.type_string() }}) as model_version,
            cast(null as bigint) as first_name_records_a,
            cast(null as bigint) as first_name_records_b
        where false
    {%- else -%}
        select * from {{ source('matching', 'splink_match_pairs') }}
        {{ filter }}
    {%- endif -%}
{%- endmacro %}
