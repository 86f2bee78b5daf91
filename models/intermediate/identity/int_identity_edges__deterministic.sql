-- Edges between identity records that share an exact key, one row per record
-- pair and rule, with the rule's confidence (seed match_rules). Records that
-- share a key are joined to the group's first record (a star), which keeps
-- edges linear in the group size; a key shared by more records than
-- var('deterministic_max_group_size') links nobody.
with

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

app_events as (

    select * from {{ ref('stg_mobile_app__events') }}

),

rules as (

    select * from {{ ref('match_rules') }}

),

keyed as (

    select
        source_table,
        source_record_id,
        'same_email' as rule_name,
        email_token as match_key
    from identity_records
    where email_token is not null
    union all
    select
        source_table,
        source_record_id,
        'same_phone' as rule_name,
        phone_token as match_key
    from identity_records
    where phone_token is not null
    union all
    select
        source_table,
        source_record_id,
        'same_loyalty_id' as rule_name,
        loyalty_id as match_key
    from identity_records
    where loyalty_id is not null

),

ranked as (

    select
        keyed.source_table,
        keyed.source_record_id,
        keyed.rule_name,
        keyed.match_key,
        count(*) over (partition by keyed.rule_name, keyed.match_key) as group_size,
        row_number() over (
            partition by keyed.rule_name, keyed.match_key
            order by keyed.source_table, keyed.source_record_id
        ) as group_rank
    from keyed

),

anchors as (

    select
        rule_name,
        match_key,
        source_table as anchor_table,
        source_record_id as anchor_record_id
    from ranked
    where group_rank = 1 and group_size > 1

),

shared_key_edges as (

    select
        anchors.anchor_table as source_table_a,
        anchors.anchor_record_id as source_record_id_a,
        ranked.source_table as source_table_b,
        ranked.source_record_id as source_record_id_b,
        ranked.rule_name
    from ranked
    inner join anchors
        on ranked.rule_name = anchors.rule_name and ranked.match_key = anchors.match_key
    where
        ranked.group_rank > 1
        and ranked.group_size <= {{ var('deterministic_max_group_size', 8) }}

),

device_account_edges as (

    select distinct
        'mobile_app_devices' as source_table_a,
        app_events.device_id as source_record_id_a,
        'ecommerce_customers' as source_table_b,
        app_events.customer_account_id as source_record_id_b,
        'device_account' as rule_name
    from app_events
    inner join identity_records as device_records
        on
            device_records.source_table = 'mobile_app_devices'
            and app_events.device_id = device_records.source_record_id
    inner join identity_records as account_records
        on
            account_records.source_table = 'ecommerce_customers'
            and app_events.customer_account_id = account_records.source_record_id

),

edges as (

    select * from shared_key_edges
    union all
    select * from device_account_edges

),

final as (

    select
        edges.source_table_a,
        edges.source_record_id_a,
        edges.source_table_b,
        edges.source_record_id_b,
        edges.rule_name,
        rules.confidence
    from edges
    inner join rules on edges.rule_name = rules.rule_name

)

select * from final
