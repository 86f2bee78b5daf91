{#
    Cast, returning null where the value does not cast (bad dates, numbers,
    booleans in source text), so staging never fails on a messy value.

    Dispatched so another engine can supply its own implementation, e.g.
    spark__safe_cast for Spark SQL's try_cast. Shares its name with dbt's
    built-in safe_cast on purpose (same signature and meaning), so it also
    replaces that one, whose DuckDB default is a plain cast; dbt uses it to
    cast unit-test fixture values.
#}
{% macro safe_cast(field, type) -%}
    {{ return(adapter.dispatch('safe_cast', 'c360')(field, type)) }}
{%- endmacro %}

{% macro default__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
