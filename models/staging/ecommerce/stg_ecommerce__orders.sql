-- Latest image of each ecommerce_orders record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
{{ config(unique_key='order_id') }}

with

source as (

    select * from {{ source('ecommerce', 'ecommerce_orders') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('order_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('order_id') }}

),

final as (

    select
        order_id,
        customer_account_id,
        {{ safe_cast('order_ts', dbt.type_timestamp()) }} as order_ts,
        {{ safe_cast('order_total', 'decimal(18, 2)') }} as order_total,
        currency,
        status,
        ship_postal_code,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('order_id') }}

)

select * from final
