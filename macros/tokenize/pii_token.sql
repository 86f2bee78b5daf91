{#
    The keyed token (HMAC-SHA-256, c360/tokenization.py) of a normalized PII
    value; null stays null. `pii_type` (email, phone, address, ...) is part of
    the message, so equal text of two types never shares a token. On DuckDB
    the function comes from the c360.dbt_plugin plugin (profiles.yml); another
    engine registers its own UDF under its own dispatch.
#}
{% macro pii_token(pii_type, column) -%}
    {{ return(adapter.dispatch('pii_token', 'c360')(pii_type, column)) }}
{%- endmacro %}

{% macro default__pii_token(pii_type, column) -%}
    c360_pii_token('{{ pii_type }}', {{ column }})
{%- endmacro %}
