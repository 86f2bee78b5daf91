-- Fails on any text value in any mart that looks like an email address or a
-- phone number (10 to 15 digits, the E.164 range, with the usual separators):
-- marts carry tokens, never the values. Every mart is scanned, including ones
-- added later, because the list comes from the project graph. Within a daily
-- `dbt build`, a mart keyed by customer is scanned for the rows the build
-- wrote: those of the customers it touched (int_touched_customers; on day 0,
-- all) and rows of no customer. `dbt test`, and a build with --full-refresh,
-- scan every row: the audit of what earlier days wrote.
-- depends_on: {{ ref('dim_customer') }}
-- depends_on: {{ ref('customer_source_xref') }}
-- depends_on: {{ ref('fct_orders') }}
-- depends_on: {{ ref('fct_app_events') }}
-- depends_on: {{ ref('fct_pos_transactions') }}
-- depends_on: {{ ref('fct_tickets') }}
-- depends_on: {{ ref('int_touched_customers') }}
{%- set written = [] %}
{%- set scans = [] %}
{%- set touched = ref('int_touched_customers') %}
{%- if execute %}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.config.schema == 'marts' %}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) %}
        {%- if relation is not none %}
            {%- set columns = adapter.get_columns_in_relation(relation) %}
            {%- set written_today = (
                " where customer_id is null or customer_id in (select customer_id from "
                ~ touched ~ ")"
            ) if 'customer_id' in columns | map(attribute='name')
                and flags.WHICH == 'build' and not flags.FULL_REFRESH else '' %}
            {#- Each mart is read once (a CTE), then each text column of it is matched. -#}
            {%- do written.append(
                "written__" ~ node.name ~ " as (select * from " ~ relation ~ written_today ~ ")"
            ) %}
            {%- for column in columns if column.is_string() %}
                {%- set value = adapter.quote(column.name) %}
                {%- do scans.append(
                    "select '" ~ node.name ~ "' as model_name, '" ~ column.name ~ "' as column_name, "
                    ~ value ~ " as offending_value from written__" ~ node.name
                    ~ " where ((" ~ dbt.position("'@'", value) ~ " > 0"
                    ~ " and " ~ regexp_like(value, '[^@\\s]+@[^@\\s]+\\.[a-z]{2,}', 'i') ~ ")"
                    ~ " or (" ~ regexp_like(value, '^\\+?[0-9 ().-]+$')
                    ~ " and length(" ~ regexp_replace_all(value, '[^0-9]', '') ~ ") between 10 and 15))"
                ) %}
            {%- endfor %}
        {%- endif %}
    {%- endfor %}
{%- endif %}

{% if scans %}
    with
    {{ written | join(',\n') }}
    {{ scans | join('\nunion all\n') }}
{% else %}
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as column_name,
        cast(null as {{ dbt.type_string() }}) as offending_value
    where false
{% endif %}
