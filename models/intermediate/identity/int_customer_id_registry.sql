-- Every customer id ever issued, its status and the id it now lives on as.
-- An id whose records all left is `retired`, or `erased` when a privacy
-- request erased them (privacy.erased_customers); either way it points to
-- no current id and is never issued again.
-- A merged id points to the survivor of its merge; when that survivor is
-- merged in turn, every id pointing to it moves on too, so any id ever
-- issued maps to its current id in one lookup. Like the assignments it is
-- state: each run writes only the ids it issues or retires and those whose
-- pointer moves.
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_by_key_strategy(),
        unique_key='customer_id',
        full_refresh=false,
        on_schema_change='fail',
    )
}}
with

assignments as (

    select * from {{ ref('int_customer_id_assignments') }}

),

erased_customers as (

    select * from {{ source('privacy_actions', 'erased_customers') }}

),

registry as (

    {% if is_incremental() -%}
        select * from {{ this }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as current_customer_id,
            cast(null as {{ dbt.type_string() }}) as merged_into_customer_id,
            cast(null as {{ dbt.type_string() }}) as status,
            cast(null as date) as issued_on,
            cast(null as date) as changed_on
        where 1 = 0
    {%- endif %}

),

live_before as (

    select distinct customer_id
    from assignments
    where
        valid_from < {{ run_date_literal() }}
        and (valid_to is null or valid_to >= {{ run_date_literal() }})

),

live_now as (

    select distinct customer_id
    from assignments
    where valid_to is null

),

issued as (

    select
        live_now.customer_id,
        live_now.customer_id as current_customer_id,
        cast(null as {{ dbt.type_string() }}) as merged_into_customer_id,
        'active' as status,
        {{ run_date_literal() }} as issued_on,
        {{ run_date_literal() }} as changed_on
    from live_now
    left join live_before on live_now.customer_id = live_before.customer_id
    where live_before.customer_id is null

),

-- Where the records of each id retired today went: the id that took most of
-- them is the one it merged into (the lifecycle's home cluster; a tie goes
-- to the cluster named first, as there).
moved_records as (

    select
        previous_customer_id,
        customer_id,
        cluster_id,
        count(*) as records
    from assignments
    where valid_from = {{ run_date_literal() }} and previous_customer_id is not null
    group by previous_customer_id, customer_id, cluster_id

),

retired as (

    select
        live_before.customer_id,
        moved_records.customer_id as merged_into_customer_id,
        row_number() over (
            partition by live_before.customer_id
            order by moved_records.records desc, moved_records.cluster_id asc
        ) as target_rank
    from live_before
    left join live_now on live_before.customer_id = live_now.customer_id
    left join moved_records on live_before.customer_id = moved_records.previous_customer_id
    where live_now.customer_id is null

),

retired_today as (

    select
        retired.customer_id,
        retired.merged_into_customer_id as current_customer_id,
        retired.merged_into_customer_id,
        case
            when erased_customers.customer_id is not null then 'erased'
            when retired.merged_into_customer_id is null then 'retired'
            else 'merged'
        end as status,
        registry.issued_on,
        {{ run_date_literal() }} as changed_on
    from retired
    inner join registry on retired.customer_id = registry.customer_id
    left join erased_customers on retired.customer_id = erased_customers.customer_id
    where retired.target_rank = 1

),

-- Ids merged earlier into an id retired today follow it to its target; ids
-- merged into an erased id were the same person's, and are erased with it.
repointed as (

    select
        registry.customer_id,
        retired_today.current_customer_id,
        registry.merged_into_customer_id,
        case when retired_today.status = 'erased' then 'erased' else registry.status end
            as status,
        registry.issued_on,
        case
            when retired_today.status = 'erased' then retired_today.changed_on
            else registry.changed_on
        end as changed_on
    from registry
    inner join retired_today on registry.current_customer_id = retired_today.customer_id
    where registry.customer_id <> retired_today.customer_id

),

final as (

    select * from issued
    union all
    select * from retired_today
    union all
    select * from repointed

)

select * from final
