{#
    Whether a text matches a regular expression (anywhere; anchor with ^ $).
    DuckDB says regexp_matches, Spark rlike.
#}
{% macro regexp_like(expression, pattern, flags=none) -%}
    {{ return(adapter.dispatch('regexp_like', 'c360')(expression, pattern, flags)) }}
{%- endmacro %}

{% macro default__regexp_like(expression, pattern, flags=none) -%}
    regexp_matches({{ expression }}, '{{ pattern }}'{{ ", '" ~ flags ~ "'" if flags }})
{%- endmacro %}

{#- flags ('i': ignore case) go inline, as Java's (?i). -#}
{% macro spark__regexp_like(expression, pattern, flags=none) -%}
    ({{ expression }} rlike '{{ "(?" ~ flags ~ ")" if flags }}{{ spark_regex(pattern) }}')
{%- endmacro %}

{#
    A pattern as written for DuckDB (its literal text: a backslash is itself),
    ready for a Spark string literal, which reads a backslash as an escape
    ('\s' is s there): every backslash doubled.
#}
{% macro spark_regex(pattern) -%}
    {{ pattern | replace("\\", "\\\\") }}
{%- endmacro %}

{#
    The first group of the first match, or '' when none (both engines return
    '' for no match).
#}
{% macro regexp_extract_group(expression, pattern, group=1) -%}
    {{ return(adapter.dispatch('regexp_extract_group', 'c360')(expression, pattern, group)) }}
{%- endmacro %}

{% macro default__regexp_extract_group(expression, pattern, group=1) -%}
    regexp_extract({{ expression }}, '{{ pattern }}', {{ group }})
{%- endmacro %}

{% macro spark__regexp_extract_group(expression, pattern, group=1) -%}
    regexp_extract({{ expression }}, '{{ spark_regex(pattern) }}', {{ group }})
{%- endmacro %}

{#
    Replace a match of a pattern anchored at the start (^) or end ($) of the
    text, which can match once only: DuckDB replaces the first match, Spark
    every match, and for such a pattern that is the same.
#}
{% macro regexp_replace_anchored(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_anchored', 'c360')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_anchored(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{% macro spark__regexp_replace_anchored(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ spark_regex(pattern) }}', '{{ spark_regex(replacement) }}')
{%- endmacro %}
