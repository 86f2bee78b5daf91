{#
    Rows of a marketing-facing model whose customer opted out of the sale or
    sharing of their data, as dim_customer says today: must be none.
#}
{% test no_opted_out_customers(model, column_name='customer_id') %}

select audience.{{ column_name }}
from {{ model }} as audience
inner join {{ ref('dim_customer') }} as customers
    on audience.{{ column_name }} = customers.customer_id
where customers.is_opted_out_of_sale

{% endtest %}
