{#
    The rows of an incremental model's input that changed since its last
    build: those whose `_loaded_at` (the load that delivered the row, carried
    from raw through staging) is newer than the newest the model holds. On a
    full build (the first, or `--full-refresh`) every row; with
    `live_only_on_full_build`, every row not deleted (an incremental build
    needs the deletions, to remove what they delete).
#}
{% macro loaded_since_last_build(live_only_on_full_build=false) -%}
    {%- if is_incremental() %}
    where _loaded_at > (
        select
            coalesce(
                max(already_built._loaded_at),
                {{ safe_cast("'1900-01-01'", dbt.type_timestamp()) }}
            )
        from {{ this }} as already_built
    )
    {%- elif live_only_on_full_build %}
    where not is_deleted
    {%- endif -%}
{%- endmacro %}
