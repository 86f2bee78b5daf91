-- The restricted map from token back to the normalized value it stands for,
-- one row per (type, token). Readable by the privacy officer's role only:
-- every layer after the vault sees tokens. Incremental: a build adds the
-- values of the records tokenized since the last one, so it is the map of
-- every value tokenized, not only of those records hold today (raw keeps
-- every delivered version too); an erasure deletes the person's tokens
-- (c360/privacy/), and a full refresh keeps only the values held today.
{{ config(unique_key=['pii_type', 'token']) }}

with

identity_pii as (

    select * from {{ ref('vault_identity_pii') }}
    {{ loaded_since_last_build() }}

),

pairs as (

    select
        'email' as pii_type,
        email_token as token,
        email_normalized as pii_value,
        _loaded_at
    from identity_pii
    where email_token is not null
    union all
    select
        'phone' as pii_type,
        phone_token as token,
        phone_e164 as pii_value,
        _loaded_at
    from identity_pii
    where phone_token is not null
    union all
    select
        'address' as pii_type,
        address_token as token,
        street_address_normalized || '|' || postal_code_normalized as pii_value,
        _loaded_at
    from identity_pii
    where address_token is not null
    union all
    select
        'house_number' as pii_type,
        house_number_token as token,
        house_number || '|' || postal_code_normalized as pii_value,
        _loaded_at
    from identity_pii
    where house_number_token is not null
    union all
    select
        'name' as pii_type,
        name_token as token,
        first_name_normalized || ' ' || last_name_normalized as pii_value,
        _loaded_at
    from identity_pii
    where name_token is not null

),

final as (

    select
        pii_type,
        token,
        min(pii_value) as pii_value,
        max(_loaded_at) as _loaded_at
    from pairs
    group by pii_type, token

)

select * from final
