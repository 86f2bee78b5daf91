-- Latest image of each privacy_requests record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('privacy', 'privacy_requests') }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('request_id') }} as recency_rank
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
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1

)

select * from final
