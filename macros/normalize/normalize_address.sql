{#
    Street lines in one form: lower case, no punctuation, USPS abbreviations
    for street types and directions, and every unit designator (Apt, Apt.,
    Apartment, Unit, Ste, Suite, #) as 'apt'. "12 North Main Street, Apt. 4B"
    and "12 N MAIN ST #4B" both become "12 n main st apt 4b".
#}
{% macro normalize_street(column) -%}
    {#- Jinja unescapes string literals: a regex backslash is written twice. -#}
    {%- set replacements = [
        ('#\\s*', ' apt '),
        ('\\b(apartment|apt|unit|ste|suite)\\b', 'apt'),
        ('\\bstreet\\b', 'st'), ('\\bavenue\\b', 'ave'), ('\\broad\\b', 'rd'),
        ('\\bboulevard\\b', 'blvd'), ('\\bdrive\\b', 'dr'), ('\\blane\\b', 'ln'),
        ('\\bcourt\\b', 'ct'), ('\\bplace\\b', 'pl'), ('\\bterrace\\b', 'ter'),
        ('\\bcircle\\b', 'cir'), ('\\bparkway\\b', 'pkwy'), ('\\bhighway\\b', 'hwy'),
        ('\\bnorth\\b', 'n'), ('\\bsouth\\b', 's'), ('\\beast\\b', 'e'), ('\\bwest\\b', 'w'),
        (' +', ' '),
    ] -%}
    {#-
        Letters folded as in names, but of the letters spelled with two only ß
        (Hauptstraße): sqlfluff cannot parse one more nested call.
    -#}
    {%- set folded = "replace(" ~ translate_letters("lower(trim(" ~ column ~ "))", '.,', '  ') ~ ", 'ß', 'ss')" -%}
    {%- set ns = namespace(expr=remove_accents(folded)) -%}
    {%- for pattern, replacement in replacements -%}
        {%- set ns.expr = regexp_replace_all(ns.expr, pattern, replacement) -%}
    {%- endfor -%}
    nullif(trim({{ ns.expr }}), '')
{%- endmacro %}

{#
    A city for comparison: letters folded as in names (Düsseldorf ->
    dusseldorf, København -> kobenhavn, Łódź -> lodz), spaces collapsed.
#}
{% macro normalize_city(column) -%}
    nullif(trim({{ regexp_replace_all(fold_letters(column), '\\s+', ' ') }}), '')
{%- endmacro %}

{#
    A date of birth is kept only when it is a plausible one: not the
    1900-01-01 placeholder, not in the future, not more than 120 years ago.
#}
{% macro date_of_birth_issue(column) -%}
    case
        when {{ column }} is null then null
        when {{ column }} <= date '1900-01-01' then 'placeholder_date_of_birth'
        when {{ column }} > current_date then 'future_date_of_birth'
        when {{ column }} < {{ dbt.dateadd('year', -120, 'current_date') }}
            then 'implausible_date_of_birth'
    end
{%- endmacro %}

{% macro normalize_date_of_birth(column) -%}
    case when {{ date_of_birth_issue(column) }} is null then {{ column }} end
{%- endmacro %}
