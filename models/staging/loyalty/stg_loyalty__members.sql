-- Latest image of each loyalty_members record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('loyalty', 'loyalty_members') }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('loyalty_id') }} as recency_rank
    from source

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
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1

)

select * from final
