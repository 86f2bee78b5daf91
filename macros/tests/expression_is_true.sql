{# Rows of the model for which `expression` is not true (dbt_utils' test of the same name). #}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
