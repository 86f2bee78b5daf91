-- Latest image of each mobile_app_devices record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('mobile_app', 'mobile_app_devices') }}

),

ranked as (

    select
        device_id,
        platform,
        app_version,
        profile_email,
        profile_first_name,
        push_opt_in,
        first_seen_at,
        last_seen_at,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by device_id
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
        device_id,
        platform,
        app_version,
        profile_email,
        profile_first_name,
        {{ safe_cast('push_opt_in', dbt.type_boolean()) }} as push_opt_in,
        {{ safe_cast('first_seen_at', dbt.type_timestamp()) }} as first_seen_at,
        {{ safe_cast('last_seen_at', dbt.type_timestamp()) }} as last_seen_at,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
