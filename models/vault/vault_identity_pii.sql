-- The tokenization point: every live identity record of the six systems in
-- one shape, with its normalized PII and the keyed tokens of that PII. It is
-- the only model after staging that holds raw direct identifiers, so it lives
-- in the restricted vault schema; matching (int_identity_records) reads the
-- tokens and the fuzzy features from here and never the values.
-- Incremental: a build tokenizes only the records staged since the last one;
-- a record its source deleted arrives as a tombstone and the post-hook
-- removes it, so the table holds live records only.
{{
    config(
        unique_key=['source_table', 'source_record_id'],
        post_hook="{{ delete_rows(this, 'is_deleted') }}",
    )
}}

with

ecommerce as (

    select * from {{ ref('stg_ecommerce__customers') }}
    {{ loaded_since_last_build(live_only_on_full_build=true) }}

),

devices as (

    select * from {{ ref('stg_mobile_app__devices') }}
    {{ loaded_since_last_build(live_only_on_full_build=true) }}

),

loyalty as (

    select * from {{ ref('stg_loyalty__members') }}
    {{ loaded_since_last_build(live_only_on_full_build=true) }}

),

pos as (

    select * from {{ ref('stg_pos__card_holders') }}
    {{ loaded_since_last_build(live_only_on_full_build=true) }}

),

crm as (

    select * from {{ ref('stg_crm__contacts') }}
    {{ loaded_since_last_build(live_only_on_full_build=true) }}

),

enrichment as (

    select * from {{ ref('stg_enrichment__profiles') }}
    {{ loaded_since_last_build(live_only_on_full_build=true) }}

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
        cast(null as {{ dbt.type_string() }}) as loyalty_id,
        _dt as record_landed_on,
        coalesce(updated_at, _extracted_at) as record_updated_at,
        is_deleted,
        _loaded_at
    from ecommerce
    union all
    select
        'mobile_app_devices' as source_table,
        device_id as source_record_id,
        {{ common }},
        cast(null as date) as date_of_birth_normalized,
        cast(null as {{ dbt.type_string() }}) as loyalty_id,
        _dt as record_landed_on,
        coalesce(last_seen_at, _extracted_at) as record_updated_at,
        is_deleted,
        _loaded_at
    from devices
    union all
    select
        'loyalty_members' as source_table,
        loyalty_id as source_record_id,
        {{ common }},
        date_of_birth_normalized,
        loyalty_id,
        _dt as record_landed_on,
        coalesce(updated_at, _extracted_at) as record_updated_at,
        is_deleted,
        _loaded_at
    from loyalty
    union all
    select
        'pos_card_holders' as source_table,
        card_number as source_record_id,
        {{ common }},
        cast(null as date) as date_of_birth_normalized,
        {{ normalize_loyalty_number('loyalty_number') }} as loyalty_id,
        _dt as record_landed_on,
        _extracted_at as record_updated_at,
        is_deleted,
        _loaded_at
    from pos
    union all
    select
        'crm_contacts' as source_table,
        contact_id as source_record_id,
        {{ common }},
        cast(null as date) as date_of_birth_normalized,
        cast(null as {{ dbt.type_string() }}) as loyalty_id,
        _dt as record_landed_on,
        coalesce(updated_at, _extracted_at) as record_updated_at,
        is_deleted,
        _loaded_at
    from crm
    union all
    select
        'enrichment_profiles' as source_table,
        provider_record_id as source_record_id,
        {{ common }},
        date_of_birth_normalized,
        cast(null as {{ dbt.type_string() }}) as loyalty_id,
        _dt as record_landed_on,
        coalesce(refreshed_at, _extracted_at) as record_updated_at,
        is_deleted,
        _loaded_at
    from enrichment

),

address_parts as (

    select
        *,
        nullif({{ regexp_extract_group('street_address_normalized', '^([0-9]+[a-z]?) ') }}, '')
            as house_number,
        nullif(
            trim(regexp_replace(
                regexp_replace(street_address_normalized, '^[0-9]+[a-z]? ', ''), ' apt .*$', ''
            )),
            ''
        ) as street_name_normalized
    from unioned

),

final as (

    select
        source_table,
        source_record_id,
        email_normalized,
        phone_e164,
        first_name_normalized,
        last_name_normalized,
        name_suffix,
        date_of_birth_normalized,
        street_address_normalized,
        house_number,
        street_name_normalized,
        city_normalized,
        state_normalized,
        postal_code_normalized,
        loyalty_id,
        record_landed_on,
        record_updated_at,
        is_deleted,
        _loaded_at,
        {{ pii_token('email', 'email_normalized') }} as email_token,
        {{ pii_token('phone', 'phone_e164') }} as phone_token,
        {{ pii_token(
            'address',
            "street_address_normalized || '|' || postal_code_normalized"
        ) }} as address_token,
        {{ pii_token('house_number', "house_number || '|' || postal_code_normalized") }}
            as house_number_token,
        {{ pii_token('name', "first_name_normalized || ' ' || last_name_normalized") }}
            as name_token
    from address_parts

)

select * from final
