-- Latest image of each mobile_app_events record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
{{ config(unique_key='event_id') }}

with

source as (

    select * from {{ source('mobile_app', 'mobile_app_events') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('event_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('event_id') }}

),

final as (

    select
        event_id,
        device_id,
        customer_account_id,
        event_type,
        {{ safe_cast('event_ts', dbt.type_timestamp()) }} as event_ts,
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('event_id') }}

)

select * from final
