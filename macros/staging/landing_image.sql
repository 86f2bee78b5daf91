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
            _source_file desc,
            -- Two images of a key in one file with the same extract time: the
            -- same one wins on every build (raw._landing_quarantine names the
            -- conflict: conflicting_duplicate_key).
            {{ row_fingerprint('source') }} desc
    )
{%- endmacro %}

{#
    The landing rows staging reads: a known operation and a key. The others
    are in raw._landing_quarantine (invalid_op, missing_key: c360/quarantine.py).
#}
{% macro is_valid_landing_row(key) -%}
    _op in ('U', 'D') and coalesce(trim({{ key }}), '') <> ''
{%- endmacro %}

{# A digest of a whole row of a relation (by its alias): a deterministic order among equals. #}
{% macro row_fingerprint(relation) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'c360')(relation)) }}
{%- endmacro %}

{% macro default__row_fingerprint(relation) -%}
    md5(cast({{ relation }} as varchar))
{%- endmacro %}

{% macro spark__row_fingerprint(relation) -%}
    md5(to_json(struct({{ relation }}.*)))
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
