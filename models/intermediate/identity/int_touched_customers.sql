-- The customers whose customer-level rows (golden record, activity totals,
-- sale preference, dim_customer, xref, audience, facts) this run date must
-- compute again: everything else is unchanged since the last run, so those
-- models recompute these customers only (macros/incremental/changed_this_run.sql).
-- A customer is touched when
--   * an id was opened or closed for one of its records today (new, merge,
--     split, retire, erasure), under the old id and the new;
--   * one of its records was delivered changed today;
--   * one of its clusters was re-clustered today (size, review flag);
--   * activity pointing at one of its records, now or in an earlier version,
--     was delivered today;
--   * a sale preference of one of its records was decided today.
with

assignments as (

    select * from {{ ref('int_customer_id_assignments') }}

),

memberships as (

    select * from {{ ref('int_customer_memberships') }}

),

clusters as (

    select * from {{ ref('int_identity_clusters') }}

),

changed_records as (

    select
        source_table,
        source_record_id
    from {{ ref('vault_identity_pii') }}
    where {{ loaded_this_run() }}

),

sale_preferences as (

    select * from {{ source('privacy_actions', 'sale_preferences') }}
    where decided_on = {{ run_date_literal() }}

),

{#- (source, activity table, its key, the column linking it, the identity table linked) -#}
{%- set activity = [
    ('ecommerce', 'ecommerce_orders', 'order_id', 'customer_account_id', 'ecommerce_customers'),
    ('mobile_app', 'mobile_app_events', 'event_id', 'device_id', 'mobile_app_devices'),
    ('pos', 'pos_transactions', 'transaction_id', 'card_number', 'pos_card_holders'),
    ('crm', 'crm_tickets', 'ticket_id', 'contact_id', 'crm_contacts'),
] %}

{% for source_name, raw_table, key, link, identity_table in activity %}
changed_{{ raw_table }} as (

    select {{ key }} from {{ source(source_name, raw_table) }}
    where {{ loaded_this_run() }}

),

{{ raw_table }}_links as (

    -- Every version delivered, so an order moved to another account touches
    -- the account it left too.
    select distinct
        '{{ identity_table }}' as source_table,
        versions.{{ link }} as source_record_id
    from {{ source(source_name, raw_table) }} as versions
    where
        versions.{{ key }} in (select changed.{{ key }} from changed_{{ raw_table }} as changed)
        and versions.{{ link }} is not null

),

{% endfor %}

touched_records as (

    select source_table, source_record_id from changed_records
    {%- for source_name, raw_table, key, link, identity_table in activity %}
    union all
    select source_table, source_record_id from {{ raw_table }}_links
    {%- endfor %}
    union all
    select source_table, source_record_id from sale_preferences
    union all
    select source_table, source_record_id from clusters
    where reclustered_on = {{ run_date_literal() }}

),

touched as (

    select assignments.customer_id
    from assignments
    where
        assignments.valid_from = {{ run_date_literal() }}
        or assignments.valid_to = {{ run_date_literal() }}
    union all
    select assignments.previous_customer_id as customer_id
    from assignments
    where assignments.valid_from = {{ run_date_literal() }}
    union all
    select memberships.customer_id
    from memberships
    inner join touched_records
        on
            memberships.source_table = touched_records.source_table
            and memberships.source_record_id = touched_records.source_record_id

),

final as (

    select distinct customer_id
    from touched
    where customer_id is not null

)

select * from final
