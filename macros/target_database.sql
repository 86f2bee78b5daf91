{#
    The database relations are created in: the warehouse file's catalog on
    DuckDB; none on Spark, whose relations have a schema and a name only
    (dbt-spark's target has no database).
#}
{% macro target_database() -%}
    {{ return(target.database if target.database is defined else none) }}
{%- endmacro %}
