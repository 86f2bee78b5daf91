{#
    Postal codes in their country's canonical form. UK and Canadian codes
    are recognised by their shape (SW1A1AA -> SW1A 1AA, k1a0b6 -> K1A 0B6).
    Digit-only codes need the country: postal_region says which, from the
    record's country (country_iso: a column holding country_code() of the
    source's country) or an Australian state. Australia has 4 digits, Germany 5
    (a leading zero a numeric column ate is given back to both); the US, and
    a code with no country at all, keep five digits: ZIP+4 loses its +4, and
    2134 is 02134. A country without rules here keeps its code, compacted
    (letters and digits, upper case): a valid foreign code is never nulled.
    Null when the code cannot be one (postal_code_issue says so).
#}
{% macro normalize_postal_code(column, country_iso=none, state=none) -%}
    {%- set code = "upper(" ~ regexp_replace_all(column, '[^A-Za-z0-9]', '') ~ ")" -%}
    {%- set region = postal_region(country_iso, state) -%}
    case
        when {{ regexp_like(code, uk_postcode_pattern()) }}
            then left({{ code }}, length({{ code }}) - 3) || ' ' || right({{ code }}, 3)
        when {{ regexp_like(code, canadian_postal_code_pattern()) }}
            then left({{ code }}, 3) || ' ' || right({{ code }}, 3)
        when not {{ regexp_like(code, '^[0-9]+$') }}
            then case when {{ region }} not in ('US', 'AU', 'DE', 'GB', 'CA') then {{ code }} end
        when {{ region }} = 'AU' then {{ digits_postal_code(code, 4) }}
        when {{ region }} = 'DE' then {{ digits_postal_code(code, 5) }}
        when {{ region }} = 'US' or {{ region }} is null
            then case
                when length({{ code }}) = 9 then left({{ code }}, 5)
                -- Two eaten zeros: ZIPs 00501 to 00988 are real (New York, Puerto Rico).
                when length({{ code }}) = 3 then lpad({{ code }}, 5, '0')
                else {{ digits_postal_code(code, 5) }}
            end
        when {{ region }} not in ('GB', 'CA') then {{ code }}
    end
{%- endmacro %}

{#
    A code of `width` digits, or one digit short (its leading zero eaten by a
    spreadsheet or a numeric column: 2134 for 02134, 800 for Darwin's 0800).
#}
{% macro digits_postal_code(code, width) -%}
    case
        when length({{ code }}) = {{ width }} then {{ code }}
        when length({{ code }}) = {{ width - 1 }} then lpad({{ code }}, {{ width }}, '0')
    end
{%- endmacro %}

{# Outward code (A9, A99, A9A, AA9, AA99, AA9A) and inward code (9AA), unspaced. #}
{% macro uk_postcode_pattern() -%}
    ^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$
{%- endmacro %}

{# A9A9A9 without the letters Canada Post never uses (D F I O Q U; W Z never first). #}
{% macro canadian_postal_code_pattern() -%}
    ^[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z][0-9][ABCEGHJ-NPRSTV-Z][0-9]$
{%- endmacro %}

{#
    The country whose postal rules apply: the record's country when it names
    one, else Australia when the state is an Australian state or territory
    (a four-digit code there is a postcode, not a ZIP that lost its zero; no
    US ZIP in WA or the other shared abbreviations starts with a zero). Null
    when nothing is given: the code's shape decides, and digits are a ZIP.
#}
{% macro postal_region(country_iso=none, state=none) -%}
    {%- set australian = [
        'NSW', 'VIC', 'QLD', 'WA', 'SA', 'TAS', 'ACT', 'NT',
        'NEWSOUTHWALES', 'VICTORIA', 'QUEENSLAND', 'WESTERNAUSTRALIA', 'SOUTHAUSTRALIA',
        'TASMANIA', 'AUSTRALIANCAPITALTERRITORY', 'NORTHERNTERRITORY',
    ] -%}
    {%- set by_state -%}
        case
            when upper({{ regexp_replace_all(state, '[^A-Za-z]', '') }})
                in ('{{ australian | join("', '") }}') then 'AU'
        end
    {%- endset -%}
    {%- if country_iso and state -%}
        coalesce({{ country_iso }}, {{ by_state }})
    {%- elif country_iso -%}
        {{ country_iso }}
    {%- elif state -%}
        {{ by_state }}
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}

{# Why a postal code is unusable, or null when it is fine or absent. #}
{% macro postal_code_issue(column, country_iso=none, state=none) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when {{ normalize_postal_code(column, country_iso, state) }} is null then 'invalid_postal_code'
    end
{%- endmacro %}
