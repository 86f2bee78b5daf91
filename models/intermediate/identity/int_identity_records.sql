-- What matching sees of every live identity record: keyed tokens in place of
-- the direct identifiers (email, phone, street address, house number) and the
-- quasi-identifiers fuzzy comparison needs as text (names, birth date, street
-- name without its number, city, state, postal code). Restricted like
-- staging: marts carry none of these columns but the tokens.
-- Incremental: a record's features depend on the records sharing its email,
-- phone or full name (block caps, inferred suffixes), so a build recomputes
-- the records int_identity_records_to_recompute lists; a record no longer
-- live arrives as a tombstone that the post-hook removes. A nickname seed
-- change asks for a full refresh (c360/pipeline.py).
{{
    config(
        unique_key='record_key',
        post_hook="{{ delete_rows(this, 'is_deleted') }}",
    )
}}
{#- ref() outside is_incremental(): dbt records the dependency while parsing. -#}
{%- set records_to_recompute = ref('int_identity_records_to_recompute') %}

with

vault as (

    select * from {{ ref('vault_identity_pii') }}

),

events as (

    select * from {{ ref('stg_mobile_app__events') }}

),

first_names as (

    select * from {{ ref('int_first_name_canonicals') }}

),

named_records as (

    select
        vault.*,
        vault.source_table || ':' || vault.source_record_id as record_key,
        coalesce(first_names.canonical_name, vault.first_name_normalized) as first_name_canonical,
        -- The full name a name block groups by (null when a part is missing).
        coalesce(first_names.canonical_name, vault.first_name_normalized)
        || ' ' || vault.last_name_normalized as full_name_key
    from vault
    left join first_names on vault.first_name_normalized = first_names.nickname

),

-- Every live record, with only what groups count: the groups of the
-- records recomputed need all of them, the full rows only those.
live_records as (

    select
        record_key,
        name_suffix,
        email_token,
        phone_token,
        loyalty_id,
        full_name_key
    from named_records

),

{% if is_incremental() -%}
to_recompute as (

    select * from {{ records_to_recompute }}

),

{%- endif %}

recomputed as (

    select * from named_records
    {%- if is_incremental() %}
    where record_key in (
        select to_recompute.record_key from to_recompute where to_recompute.is_live
    )
    {%- endif %}

),

signed_in_devices as (

    select distinct events.device_id
    from events
    where
        events.customer_account_id is not null
        and 'mobile_app_devices:' || events.device_id in (
            select recomputed.record_key from recomputed
            where recomputed.source_table = 'mobile_app_devices'
        )

),

-- Group sizes count every live record, not only those recomputed.
email_groups as (

    select
        email_token,
        count(*) as group_size
    from live_records
    where email_token in (select recomputed.email_token from recomputed)
    group by email_token

),

phone_groups as (

    select
        phone_token,
        count(*) as group_size
    from live_records
    where phone_token in (select recomputed.phone_token from recomputed)
    group by phone_token

),

name_groups as (

    select
        full_name_key,
        count(*) as group_size
    from live_records
    where full_name_key in (select recomputed.full_name_key from recomputed)
    group by full_name_key

),

-- Blocking keys for probabilistic scoring: a token shared by more records
-- than a person has is not a block worth comparing in full, nor a group to
-- learn anything from.
capped_keys as (

    select
        live_records.record_key,
        live_records.name_suffix,
        case
            when email_groups.group_size <= {{ var('deterministic_max_group_size') }}
                then live_records.email_token
        end as email_block_key,
        case
            when phone_groups.group_size <= {{ var('deterministic_max_group_size') }}
                then live_records.phone_token
        end as phone_block_key
    from live_records
    left join email_groups on live_records.email_token = email_groups.email_token
    left join phone_groups on live_records.phone_token = phone_groups.phone_token
    -- The groups joined are those of the records recomputed.
    where email_groups.email_token is not null or phone_groups.phone_token is not null

),

-- A record without a generational suffix takes the one suffix the other
-- records sharing its email or phone agree on: the son's unmarked account
-- with his own email is still the son's. A key whose records disagree (a
-- landline father and son share) infers nothing.
key_suffixes as (

    select
        records.record_key,
        key_mates.name_suffix
    from capped_keys as records
    inner join capped_keys as key_mates
        on records.email_block_key = key_mates.email_block_key
    where key_mates.name_suffix is not null
    union all
    select
        records.record_key,
        key_mates.name_suffix
    from capped_keys as records
    inner join capped_keys as key_mates
        on records.phone_block_key = key_mates.phone_block_key
    where key_mates.name_suffix is not null

),

inferred_suffixes as (

    select
        record_key,
        min(name_suffix) as name_suffix
    from key_suffixes
    group by record_key
    having count(distinct name_suffix) = 1

),

final as (

    select
        recomputed.source_table,
        recomputed.source_record_id,
        recomputed.first_name_normalized,
        recomputed.last_name_normalized,
        recomputed.name_suffix,
        recomputed.date_of_birth_normalized,
        recomputed.street_name_normalized,
        recomputed.city_normalized,
        recomputed.state_normalized,
        recomputed.postal_code_normalized,
        recomputed.loyalty_id,
        recomputed.email_token,
        recomputed.phone_token,
        recomputed.address_token,
        recomputed.house_number_token,
        recomputed.name_token,
        recomputed.record_landed_on,
        recomputed.record_updated_at,
        recomputed.first_name_canonical,
        recomputed.record_key,
        capped_keys.email_block_key,
        capped_keys.phone_block_key,
        coalesce(recomputed.name_suffix, inferred_suffixes.name_suffix) as name_suffix_inferred,
        -- A full name is a bounded block only when few records share it.
        case
            when name_groups.group_size <= {{ var('name_block_max_records') }}
                then recomputed.full_name_key
        end as name_block_key,
        -- The two name parts in a fixed order, so a record with first and
        -- last name swapped shares the key.
        case
            when recomputed.first_name_normalized < recomputed.last_name_normalized
                then recomputed.first_name_normalized || ' ' || recomputed.last_name_normalized
            else recomputed.last_name_normalized || ' ' || recomputed.first_name_normalized
        end as unordered_name_key,
        -- Nothing in the record can tie it to anyone (an app install never
        -- signed in, with neither email nor name): it stays a customer of
        -- its own, and accuracy is reported with and without such records.
        recomputed.email_token is null
        and recomputed.phone_token is null
        and recomputed.loyalty_id is null
        and recomputed.last_name_normalized is null
        and recomputed.date_of_birth_normalized is null
        and recomputed.postal_code_normalized is null
        and signed_in_devices.device_id is null as is_anonymous,
        -- The run date that last wrote the record: what later incremental
        -- models recompute from.
        {{ run_date_literal() }} as recomputed_on,
        false as is_deleted
    from recomputed
    left join capped_keys on recomputed.record_key = capped_keys.record_key
    left join inferred_suffixes on recomputed.record_key = inferred_suffixes.record_key
    left join name_groups on recomputed.full_name_key = name_groups.full_name_key
    left join signed_in_devices
        on
            recomputed.source_table = 'mobile_app_devices'
            and recomputed.source_record_id = signed_in_devices.device_id
    {%- if is_incremental() %}
    union all
    -- Records delivered this run that are no longer live.
    select
        {%- for column in ['source_table', 'source_record_id', 'first_name_normalized',
            'last_name_normalized', 'name_suffix', 'date_of_birth_normalized',
            'street_name_normalized', 'city_normalized', 'state_normalized',
            'postal_code_normalized', 'loyalty_id', 'email_token', 'phone_token',
            'address_token', 'house_number_token', 'name_token', 'record_landed_on',
            'record_updated_at', 'first_name_canonical'] %}
        built.{{ column }},
        {%- endfor %}
        to_recompute.record_key,
        null as email_block_key,
        null as phone_block_key,
        null as name_suffix_inferred,
        null as name_block_key,
        null as unordered_name_key,
        null as is_anonymous,
        {{ run_date_literal() }} as recomputed_on,
        true as is_deleted
    from to_recompute
    inner join {{ this }} as built on to_recompute.record_key = built.record_key
    where not to_recompute.is_live
    {%- endif %}

)

select * from final
