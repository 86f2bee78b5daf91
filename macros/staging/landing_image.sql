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

{#
    A partition delivered late (an older `_dt` loaded after a newer one) must
    not overwrite the newer image already staged: the new row wins only if it
    ranks above the staged one by landing_recency_rank's order (a later load
    wins a tie, and every new row is a later load).
#}
{% macro and_newer_than_staged(key) -%}
    {%- if is_incremental() %}
    and not exists (
        select 1
        from {{ this }} as staged
        where
            staged.{{ key }} = ranked.{{ key }}
            and (
                staged._dt > ranked._dt
                or (
                    staged._dt = ranked._dt
                    and staged._extracted_at
                    > {{ safe_cast('ranked._extracted_at', dbt.type_timestamp()) }}
                )
                or (
                    staged._dt = ranked._dt
                    and staged._extracted_at is not null
                    and {{ safe_cast('ranked._extracted_at', dbt.type_timestamp()) }} is null
                )
            )
    )
    {%- endif -%}
{%- endmacro %}
