{#
    Snapshots date their versions by the run date, not the wall clock: a
    back-fill of ten days in one afternoon then reads as ten days, and "what
    did the golden record say on D" is asked in the business's dates.
#}
{% macro duckdb__snapshot_get_time() -%}
    cast({{ run_date_literal() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro spark__snapshot_get_time() -%}
    cast({{ run_date_literal() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
