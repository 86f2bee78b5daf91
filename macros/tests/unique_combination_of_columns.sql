{#
    The combination of `combination_of_columns` is unique across the relation
    (rows where any of them is null are still compared: null = null here).

        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [customer_account_id, _dt]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

    {%- set columns_csv = combination_of_columns | join(', ') %}

    with

    validation as (
        select
            {{ columns_csv }},
            count(*) as n_records
        from {{ model }}
        group by {{ columns_csv }}
        having count(*) > 1
    )

    select * from validation

{% endtest %}
