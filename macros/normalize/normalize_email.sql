{#
    An email as a comparable key: trimmed, lower-case; Gmail ignores dots and
    anything after '+' in the local part and treats googlemail.com as
    gmail.com, so those fold away. Other providers may treat dots as
    significant, so only Gmail is folded. Null when the value is not an email
    or is a known placeholder (see email_issue).
#}
{% macro normalize_email(column) -%}
    case
        when {{ email_issue(column) }} is not null then null
        when split_part(lower(trim({{ column }})), '@', 2) in ('gmail.com', 'googlemail.com')
            then replace(
                {{ regexp_replace_anchored("split_part(lower(trim(" ~ column ~ ")), '@', 1)", '\\+.*$', '') }}, '.', ''
            ) || '@gmail.com'
        else nullif(lower(trim({{ column }})), '')
    end
{%- endmacro %}

{# Why an email is unusable, or null when it is fine or absent. #}
{% macro email_issue(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when not {{ regexp_like(
            'lower(trim(' ~ column ~ '))', "^[a-z0-9._%+''-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}$"
        ) }} then 'invalid_email'
        when split_part(lower(trim({{ column }})), '@', 1)
            in ('test', 'none', 'noemail', 'na', 'n/a', 'x', 'xx', 'noreply', 'unknown', 'null')
            or split_part(lower(trim({{ column }})), '@', 2)
            in ('test.com', 'none.com', 'na.com', 'x.com', 'example.com')
            then 'placeholder_email'
    end
{%- endmacro %}
