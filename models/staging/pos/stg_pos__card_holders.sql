-- Latest image of each pos_card_holders record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('pos', 'pos_card_holders') }}

),

ranked as (

    select
        card_number,
        loyalty_number,
        first_name,
        last_name,
        phone,
        postal_code,
        home_store_id,
        issued_at,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by card_number
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
        card_number,
        loyalty_number,
        first_name,
        last_name,
        phone,
        postal_code,
        home_store_id,
        {{ safe_cast('issued_at', dbt.type_timestamp()) }} as issued_at,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
