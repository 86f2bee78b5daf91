-- Latest image of each enrichment_profiles record, contract columns typed.
-- Raw PII columns as the source holds them, plus their normalized forms
-- (macros/normalize): the comparable values matching and tokenization use.
{{ config(unique_key='provider_record_id') }}

with

source as (

    select * from {{ source('enrichment', 'enrichment_profiles') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('provider_record_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('provider_record_id') }}

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
        {{ normalized_pii() }},
        {{ normalize_date_of_birth(safe_cast('date_of_birth', 'date')) }}
            as date_of_birth_normalized,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('provider_record_id') }}

)

select * from final
