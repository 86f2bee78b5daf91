-- Activity per customer across the four activity sources, through the
-- records each customer holds today: orders and revenue, app use, store
-- spend, service tickets and satisfaction.
with

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    {{ touched_customers_only('customer_id') }}

),

orders as (

    select * from {{ ref('stg_ecommerce__orders') }}
    where not is_deleted

),

app_events as (

    select * from {{ ref('stg_mobile_app__events') }}
    where not is_deleted

),

pos_transactions as (

    select * from {{ ref('stg_pos__transactions') }}
    where not is_deleted

),

tickets as (

    select * from {{ ref('stg_crm__tickets') }}
    where not is_deleted

),

order_totals as (

    select
        memberships.customer_id,
        count(*) as order_count,
        sum(
            case
                when orders.status not in ('cancelled', 'returned') then orders.order_total else 0
            end
        )
            as order_revenue,
        min(orders.order_ts) as first_order_at,
        max(orders.order_ts) as last_order_at
    from orders
    inner join memberships
        on
            memberships.source_table = 'ecommerce_customers'
            and orders.customer_account_id = memberships.source_record_id
    group by memberships.customer_id

),

app_totals as (

    select
        memberships.customer_id,
        count(*) as app_event_count,
        max(app_events.event_ts) as last_app_event_at
    from app_events
    inner join memberships
        on
            memberships.source_table = 'mobile_app_devices'
            and app_events.device_id = memberships.source_record_id
    group by memberships.customer_id

),

pos_totals as (

    select
        memberships.customer_id,
        count(*) as pos_transaction_count,
        sum(pos_transactions.amount) as pos_spend,
        max(pos_transactions.txn_ts) as last_pos_transaction_at
    from pos_transactions
    inner join memberships
        on
            memberships.source_table = 'pos_card_holders'
            and pos_transactions.card_number = memberships.source_record_id
    group by memberships.customer_id

),

ticket_totals as (

    select
        memberships.customer_id,
        count(*) as ticket_count,
        sum(case when tickets.closed_at is null then 1 else 0 end) as open_ticket_count,
        avg(tickets.csat_score) as average_csat_score,
        max(tickets.opened_at) as last_ticket_opened_at
    from tickets
    inner join memberships
        on
            memberships.source_table = 'crm_contacts'
            and tickets.contact_id = memberships.source_record_id
    group by memberships.customer_id

),

customers as (

    select distinct customer_id from memberships

),

final as (

    select
        customers.customer_id,
        order_totals.first_order_at,
        order_totals.last_order_at,
        app_totals.last_app_event_at,
        pos_totals.last_pos_transaction_at,
        ticket_totals.average_csat_score,
        ticket_totals.last_ticket_opened_at,
        coalesce(order_totals.order_count, 0) as order_count,
        coalesce(order_totals.order_revenue, 0) as order_revenue,
        coalesce(app_totals.app_event_count, 0) as app_event_count,
        coalesce(pos_totals.pos_transaction_count, 0) as pos_transaction_count,
        coalesce(pos_totals.pos_spend, 0) as pos_spend,
        coalesce(ticket_totals.ticket_count, 0) as ticket_count,
        coalesce(ticket_totals.open_ticket_count, 0) as open_ticket_count
    from customers
    left join order_totals on customers.customer_id = order_totals.customer_id
    left join app_totals on customers.customer_id = app_totals.customer_id
    left join pos_totals on customers.customer_id = pos_totals.customer_id
    left join ticket_totals on customers.customer_id = ticket_totals.customer_id

)

select * from final
