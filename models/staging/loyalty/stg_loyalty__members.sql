-- Latest image of each loyalty_members record, contract columns typed.
-- Raw PII columns as the source holds them, plus their normalized forms
-- (macros/normalize): the comparable values matching and tokenization use.
{{ config(unique_key='loyalty_id') }}

with

source as (

    select * from {{ source('loyalty', 'loyalty_members') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('loyalty_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('loyalty_id') }}

),

final as (

    select
        loyalty_id,
        first_name,
        last_name,
        email,
        phone,
        street_address,
        city,
        state,
        postal_code,
        {{ safe_cast('date_of_birth', 'date') }} as date_of_birth,
        tier,
        {{ safe_cast('points_balance', dbt.type_bigint()) }} as points_balance,
        {{ safe_cast('enrolled_at', dbt.type_timestamp()) }} as enrolled_at,
        {{ safe_cast('updated_at', dbt.type_timestamp()) }} as updated_at,
        {{ normalized_pii() }},
        {{ normalize_date_of_birth(safe_cast('date_of_birth', 'date')) }}
            as date_of_birth_normalized,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('loyalty_id') }}

)

select * from final
