-- Latest image of each privacy_requests record, contract columns typed, and
-- the subject's identifiers normalized by the rules the identity records
-- follow, so that a request finds the records (c360/privacy/).
with

source as (

    select * from {{ source('privacy', 'privacy_requests') }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('request_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('request_id') }}

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
        {{ normalize_email('subject_email') }} as subject_email_normalized,
        {{ normalize_phone('subject_phone') }} as subject_phone_e164,
        {{ normalize_loyalty_number('subject_loyalty_id') }} as subject_loyalty_id_normalized,
        {{ safe_cast('received_at', dbt.type_timestamp()) }} as received_at,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1

)

select * from final
