-- Every live identity record of the six systems in one shape: the normalized
-- matching features, the keys that link systems deterministically, and the
-- keyed tokens of the direct identifiers (email, phone, street address).
-- Restricted like staging: the layers after it carry the tokens, not the
-- values (the vault maps tokens back).
with

ecommerce as (

    select * from {{ ref('stg_ecommerce__customers') }}
    where not is_deleted

),

devices as (

    select * from {{ ref('stg_mobile_app__devices') }}
    where not is_deleted

),

loyalty as (

    select * from {{ ref('stg_loyalty__members') }}
    where not is_deleted

),

pos as (

    select * from {{ ref('stg_pos__card_holders') }}
    where not is_deleted

),

crm as (

    select * from {{ ref('stg_crm__contacts') }}
    where not is_deleted

),

enrichment as (

    select * from {{ ref('stg_enrichment__profiles') }}
    where not is_deleted

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

unioned as (

    {%- set common = [
        'email_normalized', 'phone_e164', 'first_name_normalized', 'last_name_normalized',
        'name_suffix', 'street_address_normalized', 'city_normalized', 'state_normalized',
        'postal_code_normalized',
    ] | join(',\n        ') %}

    select
        'ecommerce_customers' as source_table,
        customer_account_id as source_record_id,
        {{ common }},
        date_of_birth_normalized,
        cast(null as varchar) as loyalty_id,
        _dt as record_landed_on
    from ecommerce
    union all
    select
        'mobile_app_devices' as source_table,
        device_id as source_record_id,
        {{ common }},
        cast(null as date) as date_of_birth_normalized,
        cast(null as varchar) as loyalty_id,
        _dt as record_landed_on
    from devices
    union all
    select
        'loyalty_members' as source_table,
        loyalty_id as source_record_id,
        {{ common }},
        date_of_birth_normalized,
        loyalty_id,
        _dt as record_landed_on
    from loyalty
    union all
    select
        'pos_card_holders' as source_table,
        card_number as source_record_id,
        {{ common }},
        cast(null as date) as date_of_birth_normalized,
        {{ normalize_loyalty_number('loyalty_number') }} as loyalty_id,
        _dt as record_landed_on
    from pos
    union all
    select
        'crm_contacts' as source_table,
        contact_id as source_record_id,
        {{ common }},
        cast(null as date) as date_of_birth_normalized,
        cast(null as varchar) as loyalty_id,
        _dt as record_landed_on
    from crm
    union all
    select
        'enrichment_profiles' as source_table,
        provider_record_id as source_record_id,
        {{ common }},
        date_of_birth_normalized,
        cast(null as varchar) as loyalty_id,
        _dt as record_landed_on
    from enrichment

),

final as (

    select
        unioned.source_table,
        unioned.source_record_id,
        unioned.email_normalized,
        unioned.phone_e164,
        unioned.first_name_normalized,
        unioned.last_name_normalized,
        unioned.name_suffix,
        unioned.date_of_birth_normalized,
        unioned.street_address_normalized,
        unioned.city_normalized,
        unioned.state_normalized,
        unioned.postal_code_normalized,
        unioned.loyalty_id,
        unioned.record_landed_on,
        coalesce(
            unambiguous_nicknames.canonical_name, unioned.first_name_normalized
        ) as first_name_canonical,
        {{ pii_token('email', 'unioned.email_normalized') }} as email_token,
        {{ pii_token('phone', 'unioned.phone_e164') }} as phone_token,
        {{ pii_token(
            'address',
            "unioned.street_address_normalized || '|' || unioned.postal_code_normalized"
        ) }} as address_token
    from unioned
    left join unambiguous_nicknames
        on unioned.first_name_normalized = unambiguous_nicknames.nickname

)

select * from final
