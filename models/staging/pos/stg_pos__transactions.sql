-- Latest image of each pos_transactions record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('pos', 'pos_transactions') }}

),

ranked as (

    select
        transaction_id,
        card_number,
        store_id,
        txn_ts,
        amount,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by transaction_id
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
        transaction_id,
        card_number,
        store_id,
        {{ safe_cast('txn_ts', dbt.type_timestamp()) }} as txn_ts,
        {{ safe_cast('amount', 'decimal(18, 2)') }} as amount,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
