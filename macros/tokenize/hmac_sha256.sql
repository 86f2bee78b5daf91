{#
    HMAC-SHA-256 of a text `message` as lowercase hex, under the key whose
    pads are bound to the session variables `<key_name>_ipad` and
    `<key_name>_opad` (c360/tokenization.py, hmac_pads): RFC 2104 as two
    sha256 passes, sha256(opad || sha256(ipad || message)). Equal to
    Python's hmac.new(key, message, sha256).hexdigest(); null stays null.
#}
{% macro hmac_sha256(key_name, message) -%}
    {{ return(adapter.dispatch('hmac_sha256', 'c360')(key_name, message)) }}
{%- endmacro %}

{% macro default__hmac_sha256(key_name, message) -%}
    sha256(
        getvariable('{{ key_name }}_opad')
        || unhex(sha256(getvariable('{{ key_name }}_ipad') || encode({{ message }})))
    )
{%- endmacro %}

{#
    Spark: the pads are Spark session variables of type binary, declared and
    set by the Python side (c360.engine.spark) before dbt runs; sha2 gives
    lowercase hex as DuckDB's sha256 does.
#}
{% macro spark__hmac_sha256(key_name, message) -%}
    sha2(
        concat(
            session.{{ key_name }}_opad,
            unhex(sha2(concat(session.{{ key_name }}_ipad, cast({{ message }} as binary)), 256))
        ),
        256
    )
{%- endmacro %}
