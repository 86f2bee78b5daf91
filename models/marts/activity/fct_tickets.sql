-- Service tickets, each with the customer behind the CRM contact today.
with

tickets as (

    select * from {{ ref('stg_crm__tickets') }}
    where not is_deleted

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
