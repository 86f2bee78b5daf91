{#
    A phone number in E.164 (+<country><number>), from any national or
    international format: punctuation and spaces go; '+' or '00' announce a
    country code; otherwise the number is national to the record's country
    (country_iso: a column holding country_code() of the source's country,
    where it has one) or else to the default region (var
    default_phone_region, US unless set). Null when it is not a
    number of its country's plan (see phone_issue).

    The North American plan (+1) is settled here in SQL, exactly: it is most
    of the numbers and the hot path. Every other country's plan (trunk
    prefixes, lengths, ranges: +44 (0)20 ..., 030 123456 in Germany) is
    libphonenumber's, through phone_e164_by_plan; only numbers the NANP rules
    do not cover reach it.
#}
{% macro normalize_phone(column, country_iso=none) -%}
    case
        when {{ phone_issue(column, country_iso) }} is null
            then {{ phone_candidate_e164(column, country_iso) }}
    end
{%- endmacro %}

{% macro phone_candidate_e164(column, country_iso=none) -%}
    {%- set digits = regexp_replace_all(column, '[^0-9]', '') -%}
    {%- set international -%}
        case when {{ digits }} like '00%' and trim({{ column }}) not like '+%'
            then substr({{ digits }}, 3) else {{ digits }} end
    {%- endset -%}
    {%- set region = phone_region(country_iso) -%}
    case
        when trim({{ column }}) like '+%' or {{ digits }} like '00%'
            then case
                when {{ international }} like '1%' then '+' || {{ international }}
                else {{ phone_e164_by_plan("'+' || " ~ international, region) }}
            end
        when {{ region }} in ({{ nanp_regions() }})
            then case
                when length({{ digits }}) = 10 then '+1' || {{ digits }}
                when length({{ digits }}) = 11 and {{ digits }} like '1%' then '+' || {{ digits }}
            end
        else {{ phone_e164_by_plan(digits, region) }}
    end
{%- endmacro %}

{#
    The region (ISO 3166 alpha-2) a national number belongs to: the record's
    country when it names one, else var default_phone_region.
#}
{% macro phone_region(country_iso=none) -%}
    {%- set default = var('default_phone_region') -%}
    {%- if not (default is string and default | length == 2 and default == default | upper) -%}
        {{ exceptions.raise_compiler_error(
            "default_phone_region must be an ISO 3166 alpha-2 code such as US or GB, not " ~ default
        ) }}
    {%- endif -%}
    {%- if country_iso -%}
        coalesce({{ country_iso }}, '{{ default }}')
    {%- else -%}
        '{{ default }}'
    {%- endif -%}
{%- endmacro %}

{# The countries of the North American Numbering Plan (+1). #}
{% macro nanp_regions() -%}
    'US', 'CA', 'PR', 'VI', 'GU', 'AS', 'MP', 'UM', 'AG', 'AI', 'BB', 'BM', 'BS', 'DM', 'DO', 'GD',
    'JM', 'KN', 'KY', 'LC', 'MS', 'SX', 'TC', 'TT', 'VC', 'VG'
{%- endmacro %}

{#
    E.164 under the number's own plan, or null when it is not a valid number
    there: a '+<country>...' number, or a national one in `region`. The
    function is libphonenumber's (the phonenumbers package), registered on
    every connection as c360_phone_e164 by the engine (c360.warehouse
    register_functions; dbt's connections through c360.engine.duckdb_dbt_plugin). A Spark
    engine registers a UDF of the same name (c360.phones.e164).
#}
{% macro phone_e164_by_plan(number, region) -%}
    c360_phone_e164({{ number }}, {{ region }})
{%- endmacro %}

{# Why a phone is unusable, or null when it is fine or absent. #}
{% macro phone_issue(column, country_iso=none) -%}
    {%- set e164 = phone_candidate_e164(column, country_iso) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when {{ e164 }} is null or not {{ regexp_like(e164, '^[+][1-9][0-9]{7,14}$') }}
            then 'invalid_phone'
        when {{ e164 }} like '+1%'
            and not {{ regexp_like(e164, '^[+]1[2-9][0-9]{2}[2-9][0-9]{6}$') }}
            then 'invalid_phone'
        -- One digit repeated (555-555-5555, 999-999-9999) is a placeholder.
        when replace(substr({{ e164 }}, 3), substr({{ e164 }}, 3, 1), '') = ''
            then 'placeholder_phone'
    end
{%- endmacro %}
