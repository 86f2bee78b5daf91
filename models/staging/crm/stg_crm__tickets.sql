-- Latest image of each crm_tickets record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
with

source as (

    select * from {{ source('crm', 'crm_tickets') }}

),

ranked as (

    select
        ticket_id,
        contact_id,
        opened_at,
        closed_at,
        channel,
        category,
        status,
        csat_score,
        _op,
        _dt,
        _extracted_at,
        _loaded_at,
        _source_file,
        row_number() over (
            partition by ticket_id
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
        ticket_id,
        contact_id,
        {{ safe_cast('opened_at', dbt.type_timestamp()) }} as opened_at,
        {{ safe_cast('closed_at', dbt.type_timestamp()) }} as closed_at,
        channel,
        category,
        status,
        {{ safe_cast('csat_score', dbt.type_bigint()) }} as csat_score,
        coalesce(_op = 'D', false) as is_deleted,
        _dt,
        {{ safe_cast('_extracted_at', dbt.type_timestamp()) }} as _extracted_at,
        _loaded_at,
        _source_file
    from ranked
    where recency_rank = 1

)

select * from final
