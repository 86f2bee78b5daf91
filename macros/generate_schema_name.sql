{#
    Use a model's custom schema as given (staging, intermediate, ...) instead
    of dbt's default `<target schema>_<custom>`: each deployment has its own
    warehouse file, and fixed schema names are what access grants (e.g. BI
    sees marts only) are written against.

    Marts and snapshots are written and audited apart from what readers see
    (write-audit-publish, docs/faults.md): dbt builds and tests them in
    `marts__wap` and `snapshots__wap`, and the pipeline publishes a day that
    passed every check into `marts` and `snapshots` in one transaction
    (c360.warehouse.publish). Their configs still say `marts` and
    `snapshots`, the names readers, grants and Dagster's asset keys use.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim in var('write_audit_publish_schemas') -%}
        {{ custom_schema_name | trim }}__wap
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
