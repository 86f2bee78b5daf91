-- Latest image of each mobile_app_devices record, contract columns typed.
-- Raw PII columns as the source holds them, plus their normalized forms
-- (macros/normalize): the comparable values matching and tokenization use.
{{ config(unique_key='device_id') }}

with

source as (

    select * from {{ source('mobile_app', 'mobile_app_devices') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('device_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('device_id') }}

),

final as (

    select
        device_id,
        platform,
        app_version,
        profile_email,
        profile_first_name,
        {{ safe_cast('push_opt_in', dbt.type_boolean()) }} as push_opt_in,
        {{ safe_cast('first_seen_at', dbt.type_timestamp()) }} as first_seen_at,
        {{ safe_cast('last_seen_at', dbt.type_timestamp()) }} as last_seen_at,
        {{ normalized_pii(
            email='profile_email', first_name='profile_first_name', phone=none,
            last_name=none, street_address=none, city=none, state=none, postal_code=none
        ) }},
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('device_id') }}

)

select * from final
