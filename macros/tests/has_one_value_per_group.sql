{# Groups of `group_by` in which `column_name` takes more than one value. #}
{% test has_one_value_per_group(model, column_name, group_by) %}

select
    {{ group_by }},
    count(distinct {{ column_name }}) as distinct_values
from {{ model }}
group by {{ group_by }}
having count(distinct {{ column_name }}) > 1

{% endtest %}
