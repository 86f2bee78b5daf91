-- What a run date's changes reach, for the models that recompute only that:
-- the records int_identity_records wrote on the run date (each delivered
-- record and every record of an email, phone, loyalty id or full name one
-- joined or left), the records a load delivered (deleted ones included), and
-- the keys whose deterministic edges may have changed: every email, phone
-- and loyalty id of a written record (so the keys a record left are among
-- them), and every device whose logins or records may have changed (devices
-- with app events delivered, device records written or delivered, devices
-- signed in to an account written or delivered). A device's key is its
-- record key. One column holds both: record keys ('table:id') and tokens
-- cannot be equal; is_changed_record tells a written or delivered record,
-- whose every edge goes (it may rest on a key the record no longer holds),
-- from a key.
-- Before the edges exist nothing reads it (they are built whole), so a first
-- build writes it empty.
{{- depends_on_identity_staging() }}
{%- set edges = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='int_identity_edges__deterministic'
) if execute else none %}
with

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

events as (

    select * from {{ ref('stg_mobile_app__events') }}

),

written_records as (

    select
        record_key,
        source_table,
        email_token,
        phone_token,
        loyalty_id
    from identity_records
    where recomputed_on = {{ run_date_literal() }}

),

delivered_records as (

    select
        delivered.source_table,
        delivered.source_table || ':' || delivered.source_record_id as record_key
    from ({{ identity_records_loaded_this_run() }}) as delivered

),

changed_records as (

    select record_key from written_records
    union
    select record_key from delivered_records

),

changed_devices as (

    select 'mobile_app_devices:' || device_id as record_key
    from events
    where {{ loaded_this_run() }}
    union
    select record_key from written_records
    where source_table = 'mobile_app_devices'
    union
    select record_key from delivered_records
    where source_table = 'mobile_app_devices'
    union
    select 'mobile_app_devices:' || events.device_id as record_key
    from events
    where
        'ecommerce_customers:' || events.customer_account_id in (
            select changed_records.record_key from changed_records
        )

),

reached as (

    select
        record_key as change_key,
        true as is_changed_record
    from changed_records
    union all
    select
        record_key as change_key,
        false as is_changed_record
    from changed_devices
    union all
    select
        email_token as change_key,
        false as is_changed_record
    from written_records
    where email_token is not null
    union all
    select
        phone_token as change_key,
        false as is_changed_record
    from written_records
    where phone_token is not null
    union all
    select
        loyalty_id as change_key,
        false as is_changed_record
    from written_records
    where loyalty_id is not null

),

final as (

    select
        change_key,
        {{ dbt.bool_or('is_changed_record') }} as is_changed_record
    from reached
    -- An app event delivered without a device names none.
    where change_key is not null{{ ' and false' if edges is none }}
    group by change_key

)

select * from final
