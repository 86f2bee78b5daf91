-- noqa: disable=LT02
-- Every value a customer's records offer for each golden attribute, one row
-- per (customer, attribute, record), with the record's source, when the
-- source last changed it and how complete the record is: what survivorship
-- chooses from. Values are text here; dim_customer types them.
with

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    {{ touched_customers_only('customer_id') }}

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

loyalty_members as (

    select * from {{ ref('stg_loyalty__members') }}
    where not is_deleted

),

ecommerce_customers as (

    select * from {{ ref('stg_ecommerce__customers') }}
    where not is_deleted

),

enrichment_profiles as (

    select * from {{ ref('stg_enrichment__profiles') }}
    where not is_deleted

),

records as (

    select
        memberships.customer_id,
        identity_records.record_key,
        identity_records.source_table,
        identity_records.record_updated_at,
        identity_records.email_token,
        identity_records.phone_token,
        identity_records.name_token,
        identity_records.address_token,
        identity_records.city_normalized,
        identity_records.state_normalized,
        identity_records.postal_code_normalized,
        {{ dbt.safe_cast(
            "extract(year from identity_records.date_of_birth_normalized)", dbt.type_string()
        ) }} as birth_year,
        enrichment_profiles.gender,
        enrichment_profiles.household_income_band,
        loyalty_members.loyalty_id,
        loyalty_members.tier as loyalty_tier,
        {{ dbt.safe_cast('loyalty_members.points_balance', dbt.type_string()) }} as loyalty_points,
        {{ dbt.safe_cast('ecommerce_customers.marketing_opt_in', dbt.type_string()) }}
            as marketing_opt_in,
        (case when identity_records.email_token is null then 0 else 1 end)
        + (case when identity_records.phone_token is null then 0 else 1 end)
        + (case when identity_records.name_token is null then 0 else 1 end)
        + (case when identity_records.address_token is null then 0 else 1 end)
        + (case when identity_records.date_of_birth_normalized is null then 0 else 1 end)
            as filled_identity_fields
    from memberships
    inner join identity_records on memberships.record_key = identity_records.record_key
    left join loyalty_members
        on
            identity_records.source_table = 'loyalty_members'
            and identity_records.source_record_id = loyalty_members.loyalty_id
    left join ecommerce_customers
        on
            identity_records.source_table = 'ecommerce_customers'
            and identity_records.source_record_id = ecommerce_customers.customer_account_id
    left join enrichment_profiles
        on
            identity_records.source_table = 'enrichment_profiles'
            and identity_records.source_record_id = enrichment_profiles.provider_record_id

),


unpivoted as (
    {%- for attribute in golden_attributes() %}

    select
        customer_id,
        record_key,
        source_table,
        record_updated_at,
        filled_identity_fields,
        '{{ attribute.name }}' as attribute_name,
        {{ dbt.safe_cast(attribute.column, dbt.type_string()) }} as attribute_value
    from records
    where {{ attribute.column }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select * from unpivoted

)

select * from final
