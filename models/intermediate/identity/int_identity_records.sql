-- What matching sees of every live identity record: keyed tokens in place of
-- the direct identifiers (email, phone, street address, house number) and the
-- quasi-identifiers fuzzy comparison needs as text (names, birth date, street
-- name without its number, city, state, postal code). Restricted like
-- staging: marts carry none of these columns but the tokens.
with

identity_pii as (

    select * from {{ ref('vault_identity_pii') }}

),

signed_in_devices as (

    select distinct device_id
    from {{ ref('stg_mobile_app__events') }}
    where customer_account_id is not null

),

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

-- A nickname that stands for one name only is replaced by it for comparison;
-- an ambiguous one (chris) stays as it is.
unambiguous_nicknames as (

    select
        nickname,
        min(canonical_name) as canonical_name
    from nicknames
    group by nickname
    having count(*) = 1

),

with_canonical_names as (

    select
        identity_pii.*,
        coalesce(
            unambiguous_nicknames.canonical_name, identity_pii.first_name_normalized
        ) as first_name_canonical,
        signed_in_devices.device_id is not null as is_signed_in_device
    from identity_pii
    left join unambiguous_nicknames
        on identity_pii.first_name_normalized = unambiguous_nicknames.nickname
    left join signed_in_devices
        on
            identity_pii.source_table = 'mobile_app_devices'
            and identity_pii.source_record_id = signed_in_devices.device_id

),

-- Blocking keys for probabilistic scoring: a token shared by more records
-- than a person has is not a block worth comparing in full, nor a group to
-- learn anything from.
capped_keys as (

    select
        *,
        source_table || ':' || source_record_id as record_key,
        case
            when count(*) over (partition by email_token)
                <= {{ var('deterministic_max_group_size', 8) }}
                then email_token
        end as email_block_key,
        case
            when count(*) over (partition by phone_token)
                <= {{ var('deterministic_max_group_size', 8) }}
                then phone_token
        end as phone_block_key
    from with_canonical_names

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
        identity_pii.source_table,
        identity_pii.source_record_id,
        identity_pii.first_name_normalized,
        identity_pii.last_name_normalized,
        identity_pii.name_suffix,
        identity_pii.date_of_birth_normalized,
        identity_pii.street_name_normalized,
        identity_pii.city_normalized,
        identity_pii.state_normalized,
        identity_pii.postal_code_normalized,
        identity_pii.loyalty_id,
        identity_pii.email_token,
        identity_pii.phone_token,
        identity_pii.address_token,
        identity_pii.house_number_token,
        identity_pii.name_token,
        identity_pii.record_landed_on,
        identity_pii.record_updated_at,
        identity_pii.first_name_canonical,
        identity_pii.record_key,
        identity_pii.email_block_key,
        identity_pii.phone_block_key,
        coalesce(identity_pii.name_suffix, inferred_suffixes.name_suffix) as name_suffix_inferred,
        -- A full name is a bounded block only when few records share it.
        case
            when
                count(*) over (
                    partition by
                        identity_pii.first_name_canonical, identity_pii.last_name_normalized
                ) <= {{ var('name_block_max_records', 30) }}
                then identity_pii.first_name_canonical || ' ' || identity_pii.last_name_normalized
        end as name_block_key,
        -- The two name parts in a fixed order, so a record with first and
        -- last name swapped shares the key.
        case
            when identity_pii.first_name_normalized < identity_pii.last_name_normalized
                then identity_pii.first_name_normalized || ' ' || identity_pii.last_name_normalized
            else identity_pii.last_name_normalized || ' ' || identity_pii.first_name_normalized
        end as unordered_name_key,
        -- Nothing in the record can tie it to anyone (an app install never
        -- signed in, with neither email nor name): it stays a customer of
        -- its own, and accuracy is reported with and without such records.
        identity_pii.email_token is null
        and identity_pii.phone_token is null
        and identity_pii.loyalty_id is null
        and identity_pii.last_name_normalized is null
        and identity_pii.date_of_birth_normalized is null
        and identity_pii.postal_code_normalized is null
        and not identity_pii.is_signed_in_device as is_anonymous
    from capped_keys as identity_pii
    left join inferred_suffixes on identity_pii.record_key = inferred_suffixes.record_key

)

select * from final
