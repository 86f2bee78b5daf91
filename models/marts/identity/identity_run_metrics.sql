-- One row per run date: what the day's changes did to records and customer
-- ids. untouched_ids_changed counts customers none of whose records is in a
-- component the day touched (nor left its source) whose id still changed:
-- the lifecycle promises 0.
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_by_key_strategy(),
        unique_key='run_date',
        full_refresh=false,
        on_schema_change='fail',
    )
}}
{%- set scoring_runs = adapter.get_relation(
    database=target_database(), schema='matching', identifier='splink_scoring_runs'
) if execute else none %}
with

assignments as (

    select * from {{ ref('int_customer_id_assignments') }}

),

registry as (

    select * from {{ ref('int_customer_id_registry') }}

),

events as (

    select * from {{ ref('identity_events') }}
    where run_date = {{ run_date_literal() }}

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

scoring as (

    {%- if scoring_runs is none %}
        select
            cast(0 as bigint) as comparisons,
            cast(0 as bigint) as records_rescored,
            true as is_full
    {%- else %}
        select
            comparisons,
            coalesce(records_rescored, records) as records_rescored,
            coalesce(is_full, true) as is_full
        from {{ source('matching', 'splink_scoring_runs') }}
        where run_date = {{ run_date_literal() }}
        order by scored_at desc
        limit 1
    {%- endif %}

),

clusters as (

    select * from {{ ref('int_identity_clusters') }}

),

held_before as (

    select
        record_key,
        customer_id
    from assignments
    where
        valid_from < {{ run_date_literal() }}
        and (valid_to is null or valid_to >= {{ run_date_literal() }})

),

held_now as (

    select
        record_key,
        customer_id
    from assignments
    where valid_to is null

),

-- Only the records the run date changed can count as added, changed or
-- deleted, or hold an id that changed. The day's figures follow them, not
-- the warehouse.
records_in_scope as (

    {{ identity_records_changed_this_run() }}

),

held_before_in_scope as (

    select held_before.*
    from held_before
    inner join records_in_scope on held_before.record_key = records_in_scope.record_key

),

held_now_in_scope as (

    select held_now.*
    from held_now
    inner join records_in_scope on held_now.record_key = records_in_scope.record_key

),

record_changes as (

    select
        coalesce(held_now.record_key, held_before.record_key) as record_key,
        case
            when held_before.record_key is null then 'added'
            when held_now.record_key is null then 'deleted'
            when identity_records.record_landed_on = {{ run_date_literal() }} then 'changed'
        end as change_kind
    from held_now_in_scope as held_now
    full outer join held_before_in_scope as held_before
        on held_now.record_key = held_before.record_key
    left join identity_records on held_now.record_key = identity_records.record_key

),

-- Records the day touched: clustered again today (their component changed)
-- or gone from their source.
touched_records as (

    select record_key from clusters
    where reclustered_on = {{ run_date_literal() }}
    union
    select record_key from record_changes
    where change_kind = 'deleted'

),

touched_ids as (

    select distinct held_before.customer_id
    from held_before_in_scope as held_before
    inner join touched_records on held_before.record_key = touched_records.record_key

),

untouched_changed as (

    select count(distinct held_before.customer_id) as ids
    from held_before_in_scope as held_before
    left join held_now_in_scope as held_now on held_before.record_key = held_now.record_key
    where
        not exists (
            select 1 from touched_ids
            where touched_ids.customer_id = held_before.customer_id
        )
        and (held_now.customer_id is null or held_now.customer_id <> held_before.customer_id)

),

final as (

    select
        {{ run_date_literal() }} as run_date,
        (select count(*) from held_now) as records_live,
        (
            select count(*) from record_changes
            where change_kind = 'added'
        ) as records_added,
        (
            select count(*) from record_changes
            where change_kind = 'changed'
        ) as records_changed,
        (
            select count(*) from record_changes
            where change_kind = 'deleted'
        ) as records_deleted,
        coalesce((select max(records_rescored) from scoring), 0) as records_rescored,
        coalesce((select max(comparisons) from scoring), 0) as comparisons_scored,
        (select count(distinct customer_id) from held_now) as customers_live,
        -- Ids held now, less those no record held before (new today).
        (select count(distinct customer_id) from held_now) - (
            select count(distinct new_ids.customer_id)
            from held_now_in_scope as new_ids
            left join held_before on new_ids.customer_id = held_before.customer_id
            where held_before.customer_id is null
        ) as ids_kept,
        (
            select count(*) from registry
            where issued_on = {{ run_date_literal() }}
        ) as ids_minted,
        (
            select count(*) from registry
            where status = 'merged' and changed_on = {{ run_date_literal() }}
        ) as ids_merged,
        (
            select count(*) from events
            where event_type = 'split'
        ) as ids_split,
        (
            select count(*) from registry
            where status = 'retired' and changed_on = {{ run_date_literal() }}
        ) as ids_retired,
        (
            select count(*) from events
            where event_type = 'erasure'
        ) as ids_erased,
        (select ids from untouched_changed) as untouched_ids_changed

)

select * from final
