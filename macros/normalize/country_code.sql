{#
    A country as its ISO 3166 alpha-2 code, from the spellings sources use
    (US, USA, U.S., United States; UK, Great Britain; Deutschland, ...).
    Another two-letter value is taken as a code already; a name not listed
    here is null, which the postal and phone rules read as "no country given".
#}
{% macro country_code(column) -%}
    {%- set names = {
        'US': ['USA', 'UNITEDSTATES', 'UNITEDSTATESOFAMERICA', 'AMERICA'],
        'GB': ['UK', 'GBR', 'UNITEDKINGDOM', 'GREATBRITAIN', 'BRITAIN', 'ENGLAND', 'SCOTLAND', 'WALES',
               'NORTHERNIRELAND'],
        'CA': ['CAN', 'CANADA'],
        'AU': ['AUS', 'AUSTRALIA'],
        'DE': ['DEU', 'GERMANY', 'DEUTSCHLAND'],
        'FR': ['FRA', 'FRANCE'],
        'ES': ['ESP', 'SPAIN', 'ESPANA'],
        'IT': ['ITA', 'ITALY', 'ITALIA'],
        'MX': ['MEX', 'MEXICO'],
        'NL': ['NLD', 'NETHERLANDS', 'HOLLAND', 'NEDERLAND'],
        'IE': ['IRL', 'IRELAND'],
        'IN': ['IND', 'INDIA'],
        'JP': ['JPN', 'JAPAN'],
    } -%}
    {#- Letters only, so U.S., u s and United States compare as US / UNITEDSTATES. -#}
    {%- set letters = "upper(" ~ regexp_replace_all(fold_letters(column), '[^a-z]', '') ~ ")" -%}
    case
        {%- for code, spellings in names.items() %}
        when {{ letters }} in ('{{ spellings | join("', '") }}') then '{{ code }}'
        {%- endfor %}
        when length({{ letters }}) = 2 then {{ letters }}
    end
{%- endmacro %}
