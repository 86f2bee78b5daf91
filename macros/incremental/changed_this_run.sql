{#
    When the previous run date finished (raw._pipeline_run_log): every row
    loaded after it belongs to this run date. A rerun of a date (an ad hoc
    privacy request, a late partition) sees the same rows again, so it
    recomputes the same customers; recomputing is always safe, only slower.
    Before any run finished, the beginning of time.
#}
{% macro previous_run_completed_at() -%}
    {%- set raw = source('ecommerce', 'ecommerce_customers') -%}
    {%- set run_log = raw.incorporate(path={'identifier': '_pipeline_run_log'}) -%}
    (
        select
            coalesce(
                max(run_log.completed_at),
                {{ safe_cast("'1900-01-01'", dbt.type_timestamp()) }}
            )
        from {{ run_log }} as run_log
        where run_log.run_date < {{ run_date_literal() }}
    )
{%- endmacro %}

{# A row (of staging or the vault) that a load of this run date delivered. #}
{% macro loaded_this_run(loaded_at='_loaded_at') -%}
    {{ loaded_at }} > {{ previous_run_completed_at() }}
{%- endmacro %}

{#
    Customer-level models are incremental by customer: a build first deletes
    the rows of the customers this run touched (int_touched_customers: their
    records, memberships, activity or preferences changed, or their id was
    merged, split, retired or erased), then appends those customers'
    rows computed again (`touched_customers_only`). A full build computes all.
#}
{% macro delete_touched_customers() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where customer_id in (select customer_id from {{ ref('int_touched_customers') }})
    {%- endif -%}
{%- endmacro %}

{% macro touched_customers_only(customer_id_column, keyword='where') -%}
    {#- ref() outside the condition: dbt records the dependency while parsing. -#}
    {%- set touched = ref('int_touched_customers') -%}
    {%- if is_incremental() %}
    {{ keyword }} {{ customer_id_column }} in (select customer_id from {{ touched }})
    {%- endif -%}
{%- endmacro %}

{#
    Activity facts are incremental by row: a build takes again the rows
    delivered this run, those of touched customers' records (re-keyed to
    their customer now) and those a touched customer held until now (an
    erased record's activity, unlinked), and replaces them by key
    (delete+insert). Rows their source deleted this run are deleted first
    (`delete_activity_deleted_this_run`, a pre-hook).
#}
{% macro activity_to_rebuild(key, link, identity_table) -%}
    {%- set touched = ref('int_touched_customers') -%}
    {%- set memberships = ref('int_customer_memberships') -%}
    {%- if is_incremental() %}
    and (
        {{ loaded_this_run() }}
        or {{ key }} in (
            select {{ key }} from {{ this }}
            where customer_id in (select customer_id from {{ touched }})
        )
        or {{ link }} in (
            select source_record_id from {{ memberships }}
            where
                source_table = '{{ identity_table }}'
                and customer_id in (select customer_id from {{ touched }})
        )
    )
    {%- endif -%}
{%- endmacro %}

{% macro delete_activity_deleted_this_run(staging_model, key) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ key }} in (
            select {{ key }} from {{ ref(staging_model) }}
            where is_deleted and {{ loaded_this_run() }}
        )
    {%- endif -%}
{%- endmacro %}
