-- Each current customer's opt-out of sale or sharing. The most restrictive
-- record wins: a customer holding any opted-out record is opted out, so a
-- merge never re-opens a sale the subject refused. Every record of an
-- opted-out customer carries the flag itself (c360/privacy/ propagates
-- it), so each part of a later split stays opted out.
with

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    {{ touched_customers_only('customer_id') }}

),

preferences as (

    select * from {{ source('privacy_actions', 'sale_preferences') }}

),

record_preferences as (

    select
        memberships.customer_id,
        preferences.decided_on,
        coalesce(preferences.is_opted_out_of_sale, false) as is_record_opted_out
    from memberships
    left join preferences
        on
            memberships.source_table = preferences.source_table
            and memberships.source_record_id = preferences.source_record_id

),

final as (

    select
        customer_id,
        {{ dbt.bool_or('is_record_opted_out') }} as is_opted_out_of_sale,
        max(decided_on) as sale_preference_decided_on
    from record_preferences
    group by customer_id

)

select * from final
