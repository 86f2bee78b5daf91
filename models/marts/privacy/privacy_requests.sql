-- One row per data-subject request, for the privacy officer: what was asked,
-- under which law, when it was received and by when the law wants it done
-- (GDPR 30 days, CCPA 45), when it was done and what it touched. No PII:
-- the subject's identifiers stay in the restricted request table, and an
-- erasure strips them from there too. Requests delivered but not yet
-- processed show as pending.
with

requests as (

    select * from {{ ref('stg_privacy__requests') }}

),

request_log as (

    select * from {{ source('privacy_actions', 'request_log') }}

),

pending as (

    select
        requests.request_id,
        lower(trim(requests.request_type)) as request_type,
        upper(trim(requests.jurisdiction)) as jurisdiction,
        case when requests._source_file like 'c360 privacy%' then 'cli' else 'landing' end
            as channel,
        requests.received_at,
        cast(null as date) as completed_on,
        'pending' as status,
        cast(null as {{ dbt.type_string() }}) as status_reason,
        0 as customers_affected,
        0 as records_affected,
        cast(0 as {{ dbt.type_bigint() }}) as activity_rows_unlinked
    from requests
    left join request_log on requests.request_id = request_log.request_id
    where request_log.request_id is null and not requests.is_deleted

),

processed as (

    select
        request_id,
        lower(trim(request_type)) as request_type,
        upper(trim(jurisdiction)) as jurisdiction,
        channel,
        received_at,
        completed_on,
        status,
        status_reason,
        customers_affected,
        records_affected,
        activity_rows_unlinked
    from request_log

),

unioned as (

    select * from processed
    union all
    select * from pending

),

deadline_days as (

    select
        *,
        -- A request under an unknown law gets the stricter deadline.
        case when jurisdiction = 'CCPA' then 45 else 30 end as legal_deadline_days
    from unioned

),

deadlines as (

    select
        *,
        cast({{ dbt.dateadd('day', 'legal_deadline_days', 'received_at') }} as date)
            as deadline_on
    from deadline_days

),

final as (

    select
        request_id,
        request_type,
        jurisdiction,
        channel,
        received_at,
        legal_deadline_days,
        deadline_on,
        completed_on,
        status,
        status_reason,
        customers_affected,
        records_affected,
        activity_rows_unlinked,
        completed_on is not null as is_completed,
        coalesce(completed_on <= deadline_on, false) as is_deadline_met,
        completed_on is null and {{ run_date_literal() }} > deadline_on as is_overdue,
        -- bigint, as DuckDB's datediff gives and the contract says (Spark's is an int)
        cast(
            {{ dbt.datediff('cast(received_at as date)', 'completed_on', 'day') }} as bigint  -- noqa: LT05
        ) as days_to_complete
    from deadlines

)

select * from final
