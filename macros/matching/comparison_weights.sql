{#
    Each comparison's share of a scored pair's match weight, as text
    (`first_name=3.1;last_name=-0.4;...`): the columns mw_* of
    matching.splink_match_pairs, whichever comparisons the current model
    definition has (splink_models/identity.py), so a mart's columns do not
    change with the model. The rest of the match weight is the model's prior.
    Null when nothing was scored yet.
#}
{% macro comparison_weights(alias) -%}
    {%- set scored = adapter.get_relation(
        database=target_database(), schema='matching', identifier='splink_match_pairs'
    ) if execute else none -%}
    {%- set weight_columns = [] -%}
    {%- if scored is not none -%}
        {%- for column in adapter.get_columns_in_relation(scored) -%}
            {%- if column.name.lower().startswith('mw_') -%}
                {%- do weight_columns.append(column.name.lower()) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if weight_columns -%}
        concat_ws(
            ';'
            {%- for column in weight_columns %},
            '{{ column[3:] }}=' || cast(round({{ alias }}.{{ column }}, 4) as {{ dbt.type_string() }})
            {%- endfor %}
        )
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
