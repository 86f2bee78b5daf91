-- The restricted map from token back to the normalized value it stands for,
-- one row per (type, token). Readable by the privacy officer's role only:
-- every other layer after staging sees tokens.
with

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

pairs as (

    select
        'email' as pii_type,
        email_token as token,
        email_normalized as pii_value
    from identity_records
    where email_token is not null
    union all
    select
        'phone' as pii_type,
        phone_token as token,
        phone_e164 as pii_value
    from identity_records
    where phone_token is not null
    union all
    select
        'address' as pii_type,
        address_token as token,
        street_address_normalized || '|' || postal_code_normalized as pii_value
    from identity_records
    where address_token is not null

),

final as (

    select distinct
        pii_type,
        token,
        pii_value
    from pairs

)

select * from final
