-- Latest image of each enrichment_profiles record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('enrichment', 'enrichment_profiles') }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('provider_record_id') }} as recency_rank
    from source

),

final as (

    select
        provider_record_id,
        email,
        phone,
        first_name,
        last_name,
        street_address,
        city,
        state,
        postal_code,
        {{ safe_cast('date_of_birth', 'date') }} as date_of_birth,
        gender,
        household_income_band,
        {{ safe_cast('household_size', dbt.type_bigint()) }} as household_size,
        interests,
        {{ safe_cast('refreshed_at', dbt.type_timestamp()) }} as refreshed_at,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1

)

select * from final
