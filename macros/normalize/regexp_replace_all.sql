{#
    Replace every match of a regular expression. DuckDB replaces the first
    match unless told 'g'; Spark's regexp_replace replaces all. Dispatched so
    each engine says it its own way.
#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'c360')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ spark_regex(pattern) }}', '{{ spark_regex(replacement) }}')
{%- endmacro %}
