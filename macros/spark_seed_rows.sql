{#
    Seed rows on Spark, as literals: dbt-spark's loader formats the values
    into its insert unescaped, so a seed value with an apostrophe (a rule's
    description, a steward's reason) breaks the statement. Spark's string
    literals escape with a backslash, not by doubling the quote
    (dbt-labs/dbt-core#6471).
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set rows = [] -%}
        {%- for row in chunk -%}
            {%- set values = [] -%}
            {%- for col_name in agate_table.column_names -%}
                {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                {%- set value = row[loop.index0] -%}
                {%- do values.append('cast(' ~ spark_string_literal(value) ~ ' as ' ~ type ~ ')') -%}
            {%- endfor -%}
            {%- do rows.append('(' ~ values | join(', ') ~ ')') -%}
        {%- endfor -%}
        {%- set sql = 'insert into ' ~ this.render() ~ ' values ' ~ rows | join(', ') -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{% macro spark_string_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
