-- Latest image of each crm_contacts record, contract columns typed.
-- Raw PII columns as the source holds them, plus their normalized forms
-- (macros/normalize): the comparable values matching and tokenization use.
{{ config(unique_key='contact_id') }}

with

source as (

    select * from {{ source('crm', 'crm_contacts') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('contact_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('contact_id') }}

),

final as (

    select
        contact_id,
        phone,
        email,
        first_name,
        last_name,
        postal_code,
        {{ safe_cast('created_at', dbt.type_timestamp()) }} as created_at,
        {{ safe_cast('updated_at', dbt.type_timestamp()) }} as updated_at,
        {{ normalized_pii(street_address=none, city=none, state=none) }},
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('contact_id') }}

)

select * from final
