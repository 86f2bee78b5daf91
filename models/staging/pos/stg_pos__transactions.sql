-- Latest image of each pos_transactions record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('pos', 'pos_transactions') }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('transaction_id') }} as recency_rank
    from source

),

final as (

    select
        transaction_id,
        card_number,
        store_id,
        {{ safe_cast('txn_ts', dbt.type_timestamp()) }} as txn_ts,
        {{ safe_cast('amount', 'decimal(18, 2)') }} as amount,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1

)

select * from final
