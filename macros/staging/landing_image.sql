{#
    The landing zone delivers full row images (`_op = 'U'`) and deletions
    (`_op = 'D'`, key only) per day. Staging keeps the latest image of each key:
    the latest partition, then the latest extract, then the latest load.
#}
{% macro landing_recency_rank(key) -%}
    row_number() over (
        partition by {{ key }}
        order by
            _dt desc,
            {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} desc nulls last,
            _loaded_at desc,
            _source_file desc
    )
{%- endmacro %}

{# The load metadata every staging model exposes, typed. #}
{% macro landing_metadata() -%}
    coalesce(_op = 'D', false) as is_deleted,
    _dt,
    {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
    _loaded_at,
    _source_file
{%- endmacro %}
