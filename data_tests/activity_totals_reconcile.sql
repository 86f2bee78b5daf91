-- Every unit of activity lands on exactly one customer: the totals in
-- dim_customer equal the totals of the facts rows that carry a customer.
with

customers as (

    select
        sum(order_count) as order_count,
        sum(order_revenue) as order_revenue,
        sum(app_event_count) as app_event_count,
        sum(pos_transaction_count) as pos_transaction_count,
        sum(pos_spend) as pos_spend,
        sum(ticket_count) as ticket_count
    from {{ ref('dim_customer') }}

),

facts as (

    select
        (
            select count(*) from {{ ref('fct_orders') }}
            where customer_id is not null)
            as order_count,
        (
            select sum(order_total) from {{ ref('fct_orders') }}
            where customer_id is not null and is_revenue
        ) as order_revenue,
        (
            select count(*) from {{ ref('fct_app_events') }}
            where customer_id is not null)
            as app_event_count,
        (
            select count(*) from {{ ref('fct_pos_transactions') }}
            where customer_id is not null)
            as pos_transaction_count,
        (
            select sum(amount) from {{ ref('fct_pos_transactions') }}
            where customer_id is not null)
            as pos_spend,
        (
            select count(*) from {{ ref('fct_tickets') }}
            where customer_id is not null)
            as ticket_count

)

select
    customers.*,
    facts.*
from customers, facts
where
    customers.order_count <> facts.order_count
    or coalesce(customers.order_revenue, 0) <> coalesce(facts.order_revenue, 0)
    or customers.app_event_count <> facts.app_event_count
    or customers.pos_transaction_count <> facts.pos_transaction_count
    or coalesce(customers.pos_spend, 0) <> coalesce(facts.pos_spend, 0)
    or customers.ticket_count <> facts.ticket_count
