-- Latest image of each ecommerce_customers record, contract columns typed.
-- Raw PII columns as the source holds them, plus their normalized forms
-- (macros/normalize): the comparable values matching and tokenization use.
{{ config(unique_key='customer_account_id') }}

with

source as (

    select * from {{ source('ecommerce', 'ecommerce_customers') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('customer_account_id') }} as recency_rank,
        -- Once per row: the phone and postal code rules read it many times.
        {{ country_code('country') }} as country_iso
    from source
    where {{ is_valid_landing_row('customer_account_id') }}

),

final as (

    select
        customer_account_id,
        email,
        first_name,
        last_name,
        phone,
        street_address,
        city,
        state,
        postal_code,
        country,
        {{ safe_cast('date_of_birth', 'date') }} as date_of_birth,
        {{ safe_cast('marketing_opt_in', dbt.type_boolean()) }} as marketing_opt_in,
        {{ safe_cast('created_at', dbt.type_timestamp()) }} as created_at,
        {{ safe_cast('updated_at', dbt.type_timestamp()) }} as updated_at,
        {{ normalized_pii(country_iso='country_iso') }},
        {{ normalize_date_of_birth(safe_cast('date_of_birth', 'date')) }}
            as date_of_birth_normalized,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('customer_account_id') }}

)

select * from final
