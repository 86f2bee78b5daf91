{#
    The keyed token (HMAC-SHA-256, c360/tokenization.py) of a normalized PII
    value; null stays null. `pii_type` (email, phone, address, ...) is part of
    the message, so equal text of two types never shares a token. Computed in
    the engine from the key's pads, which c360.engine.duckdb_dbt_plugin binds to session
    variables on every dbt connection: the key itself is never in SQL text.
#}
{% macro pii_token(pii_type, column) -%}
    {{ hmac_sha256('c360_token', "'" ~ pii_type ~ "' || chr(31) || " ~ column) }}
{%- endmacro %}
