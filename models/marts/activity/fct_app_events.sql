-- Mobile app events, each with the customer who owns the device today.
{{
    config(
        unique_key='event_id',
        pre_hook="{{ delete_activity_deleted_this_run('stg_mobile_app__events', 'event_id') }}",
    )
}}
with

app_events as (

    select * from {{ ref('stg_mobile_app__events') }}
    where not is_deleted{{ activity_to_rebuild(
        'event_id', 'device_id', 'mobile_app_devices'
    ) }}

),

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    where source_table = 'mobile_app_devices'

),

final as (

    select
        app_events.event_id,
        memberships.customer_id,
        app_events.device_id,
        app_events.customer_account_id,
        app_events.event_type,
        app_events.event_ts as event_at
    from app_events
    left join memberships on app_events.device_id = memberships.source_record_id

)

select * from final
