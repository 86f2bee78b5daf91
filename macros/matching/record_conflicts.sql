{#
    Evidence that two identity records cannot be one person. Each returns a
    boolean SQL expression over two records' columns (pass the qualified
    column names); a missing value is never a conflict.
#}

{#
    Birth dates that differ by more than data entry explains. Kept apart from
    a conflict: a day/month swap (04-07 vs 07-04), a day off within the same
    month, and a one-digit or one-year slip of the year with day and month
    equal. Jr./Sr. pairs (decades apart) and strangers stay in conflict.
#}
{% macro dob_conflict(dob_a, dob_b) -%}
    coalesce(
        {{ dob_a }} <> {{ dob_b }}
        and not (
            extract(year from {{ dob_a }}) = extract(year from {{ dob_b }})
            and extract(month from {{ dob_a }}) = extract(day from {{ dob_b }})
            and extract(day from {{ dob_a }}) = extract(month from {{ dob_b }})
        )
        and not (
            extract(year from {{ dob_a }}) = extract(year from {{ dob_b }})
            and extract(month from {{ dob_a }}) = extract(month from {{ dob_b }})
        )
        and not (
            extract(month from {{ dob_a }}) = extract(month from {{ dob_b }})
            and extract(day from {{ dob_a }}) = extract(day from {{ dob_b }})
            and (
                abs(extract(year from {{ dob_a }}) - extract(year from {{ dob_b }})) <= 1
                or {{ edit_distance(
                    dbt.cast('extract(year from ' ~ dob_a ~ ')', dbt.type_string()),
                    dbt.cast('extract(year from ' ~ dob_b ~ ')', dbt.type_string())
                ) }} <= 1
            )
        ),
        false
    )
{%- endmacro %}

{# Two different generational suffixes: a father (Sr.) and his son (Jr.). #}
{% macro suffix_conflict(suffix_a, suffix_b) -%}
    coalesce({{ suffix_a }} <> {{ suffix_b }}, false)
{%- endmacro %}

{#
    First names that are neither the same name (after nickname folding) nor a
    typo of each other: two members of one household sharing a phone.
#}
{% macro first_name_conflict(canonical_a, canonical_b) -%}
    coalesce(
        {{ canonical_a }} <> {{ canonical_b }}
        and {{ string_similarity(canonical_a, canonical_b) }} < {{ var('first_name_typo_similarity', 0.88) }},
        false
    )
{%- endmacro %}

{# Jaro-Winkler similarity in [0, 1]; engines without it dispatch their own. #}
{% macro string_similarity(a, b) -%}
    {{ return(adapter.dispatch('string_similarity', 'c360')(a, b)) }}
{%- endmacro %}

{% macro default__string_similarity(a, b) -%}
    jaro_winkler_similarity({{ a }}, {{ b }})
{%- endmacro %}

{% macro spark__string_similarity(a, b) -%}
    (1.0 - levenshtein({{ a }}, {{ b }}) / greatest(length({{ a }}), length({{ b }}), 1))
{%- endmacro %}

{% macro edit_distance(a, b) -%}
    {{ return(adapter.dispatch('edit_distance', 'c360')(a, b)) }}
{%- endmacro %}

{% macro default__edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro %}
