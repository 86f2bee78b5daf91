-- One row per live identity record and the customer it belongs to: look up a
-- customer's records by customer_id, or a source record's customer by
-- (source_table, source_record_id).
with

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    {{ touched_customers_only('customer_id') }}

),

final as (

    select
        source_table,
        source_record_id,
        customer_id,
        is_anonymous,
        is_flagged_for_review
    from memberships

)

select * from final
