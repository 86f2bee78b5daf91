{#
    A phone number in E.164 (+<country><number>), from any national or
    international format: punctuation and spaces go; '+' or '00' announce a
    country code; otherwise the number is national to the default region
    (var default_phone_region, US unless set). Null when it is not a
    plausible number (see phone_issue). A dialling library (libphonenumber)
    would know every country's plan; the rules here cover the NANP exactly and
    other countries by length, which keeps the macro portable SQL.
#}
{% macro phone_country_code(region) -%}
    {%- set codes = {
        'US': '1', 'CA': '1', 'GB': '44', 'DE': '49', 'FR': '33', 'ES': '34', 'IT': '39',
        'MX': '52', 'AU': '61', 'IN': '91', 'JP': '81', 'NL': '31', 'IE': '353'
    } -%}
    {%- if region not in codes -%}
        {{ exceptions.raise_compiler_error("unknown default_phone_region " ~ region) }}
    {%- endif -%}
    {{ return(codes[region]) }}
{%- endmacro %}

{% macro phone_candidate_e164(column, region=none) -%}
    {%- set code = phone_country_code(region or var('default_phone_region', 'US')) -%}
    {%- set digits = regexp_replace_all(column, '[^0-9]', '') -%}
    case
        when trim({{ column }}) like '+%' then '+' || {{ digits }}
        when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
        {%- if code == '1' %}
        when length({{ digits }}) = 10 then '+1' || {{ digits }}
        when length({{ digits }}) = 11 and {{ digits }} like '1%' then '+' || {{ digits }}
        {%- else %}
        when {{ digits }} like '0%' then '+{{ code }}' || substr({{ digits }}, 2)
        {%- endif %}
    end
{%- endmacro %}

{% macro normalize_phone(column, region=none) -%}
    case
        when {{ phone_issue(column, region) }} is null
            then {{ phone_candidate_e164(column, region) }}
    end
{%- endmacro %}

{# Why a phone is unusable, or null when it is fine or absent. #}
{% macro phone_issue(column, region=none) -%}
    {%- set e164 = phone_candidate_e164(column, region) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when {{ e164 }} is null or not regexp_matches({{ e164 }}, '^\+[1-9][0-9]{7,14}$')
            then 'invalid_phone'
        when {{ e164 }} like '+1%'
            and not regexp_matches({{ e164 }}, '^\+1[2-9][0-9]{2}[2-9][0-9]{6}$')
            then 'invalid_phone'
        -- One digit repeated (555-555-5555, 999-999-9999) is a placeholder.
        when replace(substr({{ e164 }}, 3), substr({{ e164 }}, 3, 1), '') = ''
            then 'placeholder_phone'
    end
{%- endmacro %}
