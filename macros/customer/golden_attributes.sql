{#
    The golden record's attributes, in dim_customer's column order: each with
    the int_customer_attribute_candidates column its values come from and the
    type dim_customer gives it. The survivorship seed names the same
    attributes (its attribute_name is tested against the candidates).
#}
{% macro golden_attributes() -%}
    {{ return([
        {'name': 'email_token', 'column': 'email_token', 'type': dbt.type_string()},
        {'name': 'phone_token', 'column': 'phone_token', 'type': dbt.type_string()},
        {'name': 'name_token', 'column': 'name_token', 'type': dbt.type_string()},
        {'name': 'address_token', 'column': 'address_token', 'type': dbt.type_string()},
        {'name': 'city', 'column': 'city_normalized', 'type': dbt.type_string()},
        {'name': 'state', 'column': 'state_normalized', 'type': dbt.type_string()},
        {'name': 'postal_code', 'column': 'postal_code_normalized', 'type': dbt.type_string()},
        {'name': 'birth_year', 'column': 'birth_year', 'type': dbt.type_int()},
        {'name': 'gender', 'column': 'gender', 'type': dbt.type_string()},
        {'name': 'household_income_band', 'column': 'household_income_band', 'type': dbt.type_string()},
        {'name': 'loyalty_id', 'column': 'loyalty_id', 'type': dbt.type_string()},
        {'name': 'loyalty_tier', 'column': 'loyalty_tier', 'type': dbt.type_string()},
        {'name': 'loyalty_points', 'column': 'loyalty_points', 'type': dbt.type_bigint()},
        {'name': 'marketing_opt_in', 'column': 'marketing_opt_in', 'type': dbt.type_boolean()},
    ]) }}
{%- endmacro %}
