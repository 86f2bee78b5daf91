-- Service tickets, each with the customer behind the CRM contact today.
{{
    config(
        unique_key='ticket_id',
        pre_hook="{{ delete_activity_deleted_this_run('stg_crm__tickets', 'ticket_id') }}",
    )
}}
with

tickets as (

    select * from {{ ref('stg_crm__tickets') }}
    where not is_deleted{{ activity_to_rebuild(
        'ticket_id', 'contact_id', 'crm_contacts'
    ) }}

),

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    where source_table = 'crm_contacts'

),

final as (

    select
        tickets.ticket_id,
        memberships.customer_id,
        tickets.contact_id,
        tickets.opened_at,
        tickets.closed_at,
        tickets.channel,
        tickets.category,
        tickets.status as ticket_status,
        tickets.csat_score
    from tickets
    left join memberships on tickets.contact_id = memberships.source_record_id

)

select * from final
