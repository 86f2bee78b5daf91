-- Latest image of each mobile_app_devices record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('mobile_app', 'mobile_app_devices') }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('device_id') }} as recency_rank
    from source

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
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1

)

select * from final
