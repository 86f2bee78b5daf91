-- Latest image of each privacy_requests record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('privacy', 'privacy_requests') }}

),

ranked as (

    select
        request_id,
        request_type,
        jurisdiction,
        subject_email,
        subject_phone,
        subject_loyalty_id,
        subject_customer_id,
        received_at,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by request_id
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
        request_id,
        request_type,
        jurisdiction,
        subject_email,
        subject_phone,
        subject_loyalty_id,
        subject_customer_id,
        {{ safe_cast('received_at', dbt.type_timestamp()) }} as received_at,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
