-- Latest image of each ecommerce_orders record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('ecommerce', 'ecommerce_orders') }}

),

ranked as (

    select
        order_id,
        customer_account_id,
        order_ts,
        order_total,
        currency,
        status,
        ship_postal_code,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by order_id
            order by
                _dt desc,
                {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} desc nulls last,
                _loaded_at desc,
                _source_file desc
        ) as recency_rank
    from source

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
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
