-- Latest image of each pos_card_holders record, contract columns typed.
-- Raw PII columns as the source holds them, plus their normalized forms
-- (macros/normalize): the comparable values matching and tokenization use.
{{ config(unique_key='card_number') }}

with

source as (

    select * from {{ source('pos', 'pos_card_holders') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('card_number') }} as recency_rank
    from source
    where {{ is_valid_landing_row('card_number') }}

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
        {{ normalized_pii(email=none, street_address=none, city=none, state=none) }},
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('card_number') }}

)

select * from final
