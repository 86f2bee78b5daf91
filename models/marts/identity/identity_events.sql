-- One row per change of customer ids on a run date: `new` (a customer seen
-- for the first time), `merge` (ids retired into a survivor), `split` (an
-- id's records now under several ids), `retire` (every record of an id left
-- its source), `erasure` (a privacy request erased the customer).
-- Downstream teams replay these in order to re-key what they hold. Written
-- per run date; a rerun of a date rewrites that date's events.
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_by_key_strategy(),
        unique_key='event_id',
        full_refresh=false,
        on_schema_change='fail',
        pre_hook="{{ reopen_state_at_run_date('run_date') }}",
    )
}}
with

assignments as (

    select * from {{ ref('int_customer_id_assignments') }}

),

registry as (

    select * from {{ ref('int_customer_id_registry') }}

),

edges as (

    select * from {{ ref('int_identity_edges') }}

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

erased_customers as (

    select * from {{ source('privacy_actions', 'erased_customers') }}

),

cannot_links as (

    select * from {{ ref('int_steward_overrides') }}
    where override_type = 'cannot_link'

),

-- Each record live today with the id it holds and the id it held before.
live_records as (

    select
        record_key,
        customer_id,
        coalesce(
            case when valid_from = {{ run_date_literal() }} then previous_customer_id end,
            case when valid_from < {{ run_date_literal() }} then customer_id end
        ) as customer_id_before,
        valid_from = {{ run_date_literal() }} as has_moved,
        valid_from = {{ run_date_literal() }} and previous_customer_id is null as is_new_record
    from assignments
    where valid_to is null

),

-- Every event names an id some record moved to or from today (a merge's
-- survivor, a split's old id, a new customer), so only the records holding
-- those ids, now or before, can make one: the day reads them, not everyone.
moved_ids as (

    select customer_id from live_records
    where has_moved
    union
    select customer_id_before as customer_id from live_records
    where has_moved and customer_id_before is not null

),

records_now as (

    select * from live_records
    where
        customer_id in (select moved_ids.customer_id from moved_ids)
        or customer_id_before in (select moved_ids.customer_id from moved_ids)

),

id_merges as (

    select
        merged_into_customer_id as survivor_customer_id,
        {{ sorted_listagg('customer_id', "','") }} as merged_customer_ids,
        count(*) as ids_merged
    from registry
    where status = 'merged' and changed_on = {{ run_date_literal() }}
        and merged_into_customer_id is not null
    group by merged_into_customer_id

),

-- What joined the merged ids: the strongest kind of edge between records
-- that held different ids before.
merge_evidence as (

    select
        record_a.customer_id as survivor_customer_id,
        max(case when edges.rule_names like '%steward_must_link%' then 1 else 0 end)
            as has_override,
        max(case when edges.rule_names <> 'splink_model' then 1 else 0 end) as has_rule,
        min(edges.rule_names) as example_rules
    from edges
    inner join records_now as record_a on edges.record_key_a = record_a.record_key
    inner join records_now as record_b on edges.record_key_b = record_b.record_key
    where
        record_a.customer_id = record_b.customer_id
        and record_a.customer_id_before <> record_b.customer_id_before
    group by record_a.customer_id

),

split_parts as (

    select
        customer_id_before,
        customer_id
    from records_now
    where customer_id_before is not null
    group by customer_id_before, customer_id

),

splits as (

    select
        customer_id_before,
        {{ sorted_listagg('customer_id', "','") }} as customer_ids_after,
        count(*) as parts
    from split_parts
    group by customer_id_before
    having count(*) > 1

),

split_evidence as (

    select
        record_a.customer_id_before,
        max(case when cannot_links.record_key_a is not null then 1 else 0 end) as has_override,
        max(case
            when identity_records.record_landed_on = {{ run_date_literal() }} then 1 else 0
        end) as has_source_change
    from records_now as record_a
    inner join identity_records on record_a.record_key = identity_records.record_key
    left join cannot_links
        on record_a.record_key in (cannot_links.record_key_a, cannot_links.record_key_b)
    where record_a.customer_id_before in (select splits.customer_id_before from splits)
    group by record_a.customer_id_before

),

new_customers as (

    select
        customer_id,
        count(*) as records
    from records_now
    group by customer_id
    having count(customer_id_before) = 0

),

events as (

    select
        'merge' as event_type,
        id_merges.survivor_customer_id || ',' || id_merges.merged_customer_ids
            as customer_ids_before,
        id_merges.survivor_customer_id as customer_ids_after,
        id_merges.survivor_customer_id as primary_customer_id,
        case
            when merge_evidence.has_override = 1 then 'override'
            when merge_evidence.has_rule = 1 then 'rule'
            else 'model'
        end as reason,
        merge_evidence.example_rules as reason_detail
    from id_merges
    left join merge_evidence on id_merges.survivor_customer_id = merge_evidence.survivor_customer_id

    union all

    select
        'split' as event_type,
        splits.customer_id_before as customer_ids_before,
        splits.customer_ids_after,
        splits.customer_id_before as primary_customer_id,
        case
            when split_evidence.has_override = 1 then 'override'
            when split_evidence.has_source_change = 1 then 'source_change'
            else 'model'
        end as reason,
        cast(splits.parts as {{ dbt.type_string() }}) || ' parts' as reason_detail
    from splits
    left join split_evidence on splits.customer_id_before = split_evidence.customer_id_before

    union all

    select
        'new' as event_type,
        cast(null as {{ dbt.type_string() }}) as customer_ids_before,
        customer_id as customer_ids_after,
        customer_id as primary_customer_id,
        'source_change' as reason,
        cast(records as {{ dbt.type_string() }}) || ' records' as reason_detail
    from new_customers

    union all

    select
        'retire' as event_type,
        customer_id as customer_ids_before,
        cast(null as {{ dbt.type_string() }}) as customer_ids_after,
        customer_id as primary_customer_id,
        'source_change' as reason,
        'every record left its source' as reason_detail
    from registry
    where status = 'retired' and changed_on = {{ run_date_literal() }}

    union all

    select
        'erasure' as event_type,
        registry.customer_id as customer_ids_before,
        cast(null as {{ dbt.type_string() }}) as customer_ids_after,
        registry.customer_id as primary_customer_id,
        'privacy' as reason,
        'request ' || erased_customers.request_id as reason_detail
    from registry
    inner join erased_customers on registry.customer_id = erased_customers.customer_id
    where registry.status = 'erased' and registry.changed_on = {{ run_date_literal() }}

),

final as (

    select
        {{ dbt.hash(
            "event_type || '|' || primary_customer_id || '|' || "
            ~ dbt.string_literal(run_date())
        ) }} as event_id,
        event_type,
        {{ run_date_literal() }} as run_date,
        customer_ids_before,
        customer_ids_after,
        primary_customer_id,
        reason,
        reason_detail
    from events

)

select * from final
