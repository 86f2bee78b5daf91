-- Latest image of each mobile_app_events record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('mobile_app', 'mobile_app_events') }}

),

ranked as (

    select
        event_id,
        device_id,
        customer_account_id,
        event_type,
        event_ts,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by event_id
            order by
                _dt desc,
                {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} desc nulls last,
                _loaded_at desc,
                _source_file desc
        ) as recency_rank
    from source

),

final as (

    select
        event_id,
        device_id,
        customer_account_id,
        event_type,
        {{ safe_cast('event_ts', dbt.type_timestamp()) }} as event_ts,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
