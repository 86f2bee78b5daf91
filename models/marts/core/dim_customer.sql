-- noqa: disable=LT02
-- One row per current customer: the golden record (each attribute with the
-- source and time it came from), how many records and systems stand behind
-- it, and what the customer did. PII appears as tokens only; the location
-- columns are coarse (city, state, postal code) and the birth date is a year.
with

memberships as (

    select * from {{ ref('int_customer_memberships') }}
    {{ touched_customers_only('customer_id') }}

),

golden_attributes as (

    select * from {{ ref('int_customer_golden_attributes') }}
    {{ touched_customers_only('customer_id') }}

),

activity as (

    select * from {{ ref('int_customer_activity') }}
    {{ touched_customers_only('customer_id') }}

),

sale_preferences as (

    select * from {{ ref('int_customer_sale_preferences') }}
    {{ touched_customers_only('customer_id') }}

),

customers as (

    select
        customer_id,
        count(*) as record_count,
        count(distinct source_table) as source_count,
        {{ dbt.bool_or('is_flagged_for_review') }} as is_flagged_for_review,
        {{ dbt.bool_or('not is_anonymous') }} as has_identifying_record
    from memberships
    group by customer_id

),

golden as (

    select
        customer_id,
        {%- for golden_attribute in golden_attributes() %}
        {%- set attribute, data_type = golden_attribute.name, golden_attribute.type %}
        {{ dbt.safe_cast(
            "max(case when attribute_name = '" ~ attribute ~ "' then attribute_value end)",
            data_type,
        ) }} as {{ attribute }},
        max(case when attribute_name = '{{ attribute }}' then attribute_source end)
            as {{ attribute }}_source,
        max(case when attribute_name = '{{ attribute }}' then attribute_updated_at end)
            as {{ attribute }}_updated_at{{ ',' if not loop.last }}
        {%- endfor %}
    from golden_attributes
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.record_count,
        customers.source_count,
        customers.is_flagged_for_review,
        customers.has_identifying_record,
        coalesce(sale_preferences.is_opted_out_of_sale, false) as is_opted_out_of_sale,
        sale_preferences.sale_preference_decided_on,
        {%- for golden_attribute in golden_attributes() %}
        {%- set attribute, data_type = golden_attribute.name, golden_attribute.type %}
        golden.{{ attribute }},
        golden.{{ attribute }}_source,
        golden.{{ attribute }}_updated_at,
        {%- endfor %}
        activity.order_count,
        -- The contract's decimal(38, 2) (DuckDB's sum of decimals; Spark's is narrower).
        cast(activity.order_revenue as decimal(38, 2)) as order_revenue,
        activity.first_order_at,
        activity.last_order_at,
        activity.app_event_count,
        activity.last_app_event_at,
        activity.pos_transaction_count,
        cast(activity.pos_spend as decimal(38, 2)) as pos_spend,
        activity.last_pos_transaction_at,
        activity.ticket_count,
        activity.open_ticket_count,
        activity.average_csat_score,
        activity.last_ticket_opened_at
    from customers
    left join golden on customers.customer_id = golden.customer_id
    left join activity on customers.customer_id = activity.customer_id
    left join sale_preferences on customers.customer_id = sale_preferences.customer_id

)

select * from final
