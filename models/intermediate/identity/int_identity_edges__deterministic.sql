-- Edges between identity records that share an exact key, one row per record
-- pair and rule, with the rule's confidence (seed match_rules). A shared key
-- links every pair of its records (groups are small: a key shared by more
-- than var('deterministic_max_group_size') records links nobody), and only
-- when the two records do not contradict each other: a landline or a family
-- email shared by a household must not merge its members.
-- Incremental: a build recomputes, whole, the keys its changes reach
-- (int_identity_changes); the pre-hook deletes their edges and the edges of
-- the records it wrote first. A change of match_rules or of the group cap
-- needs a full refresh.
{%- set device_key = "'mobile_app_devices:' || device_id" %}
with

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

first_name_equivalents as (

    select * from {{ ref('int_first_name_equivalents') }}

),

app_events as (

    select * from {{ ref('stg_mobile_app__events') }}

),

rules as (

    select * from {{ ref('match_rules') }}

),

keyed as (

    select
        record_key,
        'same_email' as rule_name,
        email_token as match_key
    from identity_records
    where email_token is not null{{ reached_by_changes_only('email_token') }}
    union all
    select
        record_key,
        'same_phone' as rule_name,
        phone_token as match_key
    from identity_records
    where phone_token is not null{{ reached_by_changes_only('phone_token') }}
    union all
    select
        record_key,
        'same_loyalty_id' as rule_name,
        loyalty_id as match_key
    from identity_records
    where loyalty_id is not null{{ reached_by_changes_only('loyalty_id') }}

),

small_groups as (

    select
        rule_name,
        match_key
    from keyed
    group by rule_name, match_key
    having count(*) between 2 and {{ var('deterministic_max_group_size') }}

),

shared_key_pairs as (

    select
        left_side.record_key as record_key_a,
        right_side.record_key as record_key_b,
        left_side.rule_name,
        left_side.match_key
    from keyed as left_side
    inner join small_groups
        on
            left_side.rule_name = small_groups.rule_name
            and left_side.match_key = small_groups.match_key
    inner join keyed as right_side
        on
            left_side.rule_name = right_side.rule_name
            and left_side.match_key = right_side.match_key
            and left_side.record_key < right_side.record_key

),

device_logins as (

    select distinct
        'mobile_app_devices:' || device_id as device_key,
        'ecommerce_customers:' || customer_account_id as account_key
    from app_events
    where customer_account_id is not null{{ reached_by_changes_only(device_key) }}

),

-- A device used by one account is that account holder's; a family device
-- seen on several accounts belongs to the one whose first name it gives.
device_pairs as (

    select
        device_logins.device_key as record_key_a,
        device_logins.account_key as record_key_b,
        'device_account' as rule_name,
        device_logins.device_key as match_key,
        count(*) over (partition by device_logins.device_key) as accounts_on_device,
        coalesce(device_records.first_name_canonical = account_records.first_name_canonical, false)
            as is_same_first_name
    from device_logins
    inner join identity_records as device_records
        on device_logins.device_key = device_records.record_key
    inner join identity_records as account_records
        on device_logins.account_key = account_records.record_key

),

candidate_pairs as (

    select * from shared_key_pairs
    union all
    select
        least(record_key_a, record_key_b) as record_key_a,
        greatest(record_key_a, record_key_b) as record_key_b,
        rule_name,
        match_key
    from device_pairs
    where accounts_on_device = 1 or is_same_first_name

),

checked as (

    select
        candidate_pairs.record_key_a,
        candidate_pairs.record_key_b,
        candidate_pairs.rule_name,
        candidate_pairs.match_key,
        record_a.first_name_canonical is null
        or record_b.first_name_canonical is null as is_unnamed,
        {{ records_conflict('record_a', 'record_b', 'first_name_equivalents') }}
        -- A device that gives another email than the account, or gives
        -- neither an email nor a name, may be a family member's.
        or (
            candidate_pairs.rule_name = 'device_account'
            and (
                coalesce(record_a.email_token <> record_b.email_token, false)
                or (
                    (record_a.email_token is null and record_a.first_name_canonical is null)
                    or (record_b.email_token is null and record_b.first_name_canonical is null)
                )
            )
        )
        -- Two contacts of a contact system sharing an email are kept apart
        -- on purpose (a family's shared address in the call centre): the
        -- model decides them, on names and the rest. Devices of one app user
        -- share their profile email and stay linked.
        or (
            candidate_pairs.rule_name = 'same_email'
            and coalesce(record_a.source_table = record_b.source_table, false)
            and record_a.source_table in (
                '{{ var("shared_email_contact_sources") | join("', '") }}'
            )
        )
        -- A landline cannot say which member of the household a record
        -- without a first name belongs to.
        or (
            candidate_pairs.rule_name = 'same_phone'
            and (record_a.first_name_canonical is null or record_b.first_name_canonical is null)
        )
        -- An email is personal; a landline and a device are the household's.
        or (
            candidate_pairs.rule_name in ('same_phone', 'device_account')
            and {{ suffix_uncertain(
                'record_a.name_suffix', 'record_b.name_suffix',
                'record_a.date_of_birth_normalized', 'record_b.date_of_birth_normalized',
            ) }}
        )
            as is_contradicted
    from candidate_pairs
    inner join identity_records as record_a
        on candidate_pairs.record_key_a = record_a.record_key
    inner join identity_records as record_b
        on candidate_pairs.record_key_b = record_b.record_key
    left join first_name_equivalents
        on
            record_a.first_name_normalized = first_name_equivalents.first_name_a
            and record_b.first_name_normalized = first_name_equivalents.first_name_b

),

-- A key that two different people share (a family email, a landline) cannot
-- say which of them a record without a first name belongs to.
contested_keys as (

    select distinct
        rule_name,
        match_key
    from checked
    where is_contradicted

),

final as (

    select
        checked.record_key_a,
        checked.record_key_b,
        checked.rule_name,
        rules.confidence,
        checked.match_key
    from checked
    inner join rules on checked.rule_name = rules.rule_name
    left join contested_keys
        on
            checked.rule_name = contested_keys.rule_name
            and checked.match_key = contested_keys.match_key
    where
        not checked.is_contradicted
        and not (checked.is_unnamed and contested_keys.match_key is not null)

)

select * from final
