{#
    Use a model's custom schema as given (staging, intermediate, marts, ...)
    instead of dbt's default `<target schema>_<custom>`: each deployment has
    its own warehouse file, and fixed schema names are what access grants
    (e.g. BI sees marts only) are written against.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
