-- Latest image of each crm_tickets record, contract columns typed.
-- No PII normalization here yet: values are as the source holds them.
{{ config(unique_key='ticket_id') }}

with

source as (

    select * from {{ source('crm', 'crm_tickets') }}
    {{ loaded_since_last_build() }}

),

ranked as (

    select
        source.*,
        {{ landing_recency_rank('ticket_id') }} as recency_rank
    from source
    where {{ is_valid_landing_row('ticket_id') }}

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
        {{ landing_metadata() }}
    from ranked
    where recency_rank = 1{{ and_newer_than_staged('ticket_id') }}

)

select * from final
