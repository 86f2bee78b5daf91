-- E-commerce orders, each with the customer whose account placed it today.
with

orders as (

    select * from {{ ref('stg_ecommerce__orders') }}
    where not is_deleted

),

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    where source_table = 'ecommerce_customers'

),

final as (

    select
        orders.order_id,
        memberships.customer_id,
        orders.customer_account_id,
        orders.order_ts as ordered_at,
        orders.order_total,
        orders.currency,
        orders.status as order_status,
        orders.status not in ('cancelled', 'returned') as is_revenue
    from orders
    left join memberships on orders.customer_account_id = memberships.source_record_id

)

select * from final
