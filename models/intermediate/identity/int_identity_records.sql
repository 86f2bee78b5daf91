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
        identity_pii.source_table || ':' || identity_pii.source_record_id as record_key,
        -- Blocking keys for probabilistic scoring: a token shared by more
        -- records than a person has is not a block worth comparing in full.
        case
            when count(*) over (partition by identity_pii.email_token)
                <= {{ var('deterministic_max_group_size', 8) }}
                then identity_pii.email_token
        end as email_block_key,
        case
            when count(*) over (partition by identity_pii.phone_token)
                <= {{ var('deterministic_max_group_size', 8) }}
                then identity_pii.phone_token
        end as phone_block_key,
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
    from with_canonical_names as identity_pii

)

select * from final
