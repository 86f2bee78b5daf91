{#
    Pre-hook of the models that keep state across runs: undo whatever an
    earlier attempt at this run date (or a later one) wrote, so that a rerun
    of a day starts from the state before that day and ends where the first
    attempt should have. `from_column`: rows written on a date; `to_column`
    (optional): rows closed on a date.
#}
{% macro reopen_state_at_run_date(from_column, to_column=none) -%}
    {{ return(adapter.dispatch('reopen_state_at_run_date', 'c360')(from_column, to_column)) }}
{%- endmacro %}

{% macro default__reopen_state_at_run_date(from_column, to_column=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ from_column }} >= {{ run_date_literal() }};
        {%- if to_column %}
            update {{ this }} set {{ to_column }} = null where {{ to_column }} >= {{ run_date_literal() }};
        {%- endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{# Spark: one rewrite (rows written from the run date on dropped, those closed since reopened). #}
{% macro spark__reopen_state_at_run_date(from_column, to_column=none) -%}
    {%- if is_incremental() and execute -%}
        {%- set columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- if to_column and column.name | lower == to_column | lower -%}
                {%- do columns.append(
                    'case when ' ~ to_column ~ ' >= ' ~ run_date_literal() ~ ' then null else '
                    ~ to_column ~ ' end as ' ~ to_column
                ) -%}
            {%- else -%}
                {%- do columns.append(adapter.quote(column.name)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do spark_rewrite(this,
            'select ' ~ columns | join(', ') ~ ' from ' ~ this
            ~ ' where not coalesce(' ~ from_column ~ ' >= ' ~ run_date_literal() ~ ', false)') -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
