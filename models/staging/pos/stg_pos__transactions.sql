-- Latest image of each pos_transactions record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
{{ config(unique_key='transaction_id') }}

with

source as (

    select * from {{ source('pos', 'pos_transactions') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('transaction_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('transaction_id') }}

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
    where recency_rank = 1{{ and_newer_than_staged('transaction_id') }}

)

select * from final
