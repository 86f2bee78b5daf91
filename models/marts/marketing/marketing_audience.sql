-- The customers a marketing or data-sharing use may reach: identifiable
-- customers who have not opted out of the sale or sharing of their data
-- (CCPA). Every activation, export or partner feed reads this mart, never
-- dim_customer, so an opt-out takes effect on the next run everywhere.
with

customers as (

    select * from {{ ref('dim_customer') }}
    {{ touched_customers_only('customer_id') }}

),

final as (

    select
        customer_id,
        email_token,
        phone_token,
        city,
        state,
        postal_code,
        birth_year,
        loyalty_tier,
        marketing_opt_in,
        order_count,
        order_revenue,
        last_order_at,
        app_event_count,
        last_app_event_at,
        pos_spend
    from customers
    where has_identifying_record and not is_opted_out_of_sale

)

select * from final
