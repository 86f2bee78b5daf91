-- E-commerce orders, each with the customer whose account placed it today.
{{
    config(
        unique_key='order_id',
        pre_hook="{{ delete_activity_deleted_this_run('stg_ecommerce__orders', 'order_id') }}",
    )
}}
with

orders as (

    select * from {{ ref('stg_ecommerce__orders') }}
    where not is_deleted{{ activity_to_rebuild(
        'order_id', 'customer_account_id', 'ecommerce_customers'
    ) }}

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
