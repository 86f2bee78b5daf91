{#
    Person names for comparison. Titles (Mr., Dr.) go; suffixes (Jr., Sr.,
    III) are split off but kept in their own column, because a suffix is what
    tells a father from his son. Then letters fold to plain Latin (José ->
    jose, Groß -> gross, Søren -> soren: fold_letters), case lowers,
    punctuation goes and spaces collapse.
#}
{% macro name_title(column) -%}
    nullif({{ regexp_extract_group('lower(trim(' ~ column ~ '))', '^\\s*(mr|mrs|ms|miss|mx|dr|prof)\\.?\\s+') }}, '')
{%- endmacro %}

{% macro name_suffix(column) -%}
    nullif({{ regexp_extract_group('lower(trim(' ~ column ~ '))', '[\\s,]+(jr|sr|ii|iii|iv)\\.?\\s*$') }}, '')
{%- endmacro %}

{% macro normalize_name(column) -%}
    {%- set bare = regexp_replace_anchored(
        regexp_replace_anchored('lower(trim(' ~ column ~ '))', '^\\s*(mr|mrs|ms|miss|mx|dr|prof)\\.?\\s+', ''),
        '[\\s,]+(jr|sr|ii|iii|iv)\\.?\\s*$', ''
    ) -%}
    {%- set folded = "replace(" ~ fold_letters(bare) ~ ", '''', '')" -%}
    case
        when {{ name_issue(column) }} is not null then null
        else nullif(trim({{ regexp_replace_all(regexp_replace_all(folded, '[^a-z]+', ' '), ' +', ' ') }}), '')
    end
{%- endmacro %}

{# Why a name is unusable, or null when it is fine or absent. #}
{% macro name_issue(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when lower(trim({{ column }})) in ('n/a', 'na', 'unknown', 'none', 'test', '-', 'null', 'x')
            then 'placeholder_name'
    end
{%- endmacro %}
