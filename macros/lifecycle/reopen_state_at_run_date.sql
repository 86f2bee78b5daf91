{#
    Pre-hook of the models that keep state across runs: undo whatever an
    earlier attempt at this run date (or a later one) wrote, so that a rerun
    of a day starts from the state before that day and ends where the first
    attempt should have. `from_column`: rows written on a date; `to_column`
    (optional): rows closed on a date.
#}
{% macro reopen_state_at_run_date(from_column, to_column=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ from_column }} >= {{ run_date_literal() }};
        {%- if to_column %}
            update {{ this }} set {{ to_column }} = null where {{ to_column }} >= {{ run_date_literal() }};
        {%- endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
