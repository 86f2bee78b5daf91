{#
    Spark spells some of the types the model contracts (models/**/*.yml
    data_type) give in DuckDB's words: varchar needs a length there, and
    hugeint (DuckDB's sum of bigints) is a bigint there (Spark's sum of
    bigints). dbt casts null to each contract type to learn the
    contract's schema (get_empty_schema_sql): this `cast` (a root-project
    override of dbt's, for Spark) maps them, so one contract serves both.
#}
{% macro spark__cast(field, type) -%}
    {%- set spark_types = {'varchar': 'string', 'text': 'string', 'hugeint': 'bigint'} -%}
    cast({{ field }} as {{ spark_types.get(type | trim | lower, type) }})
{%- endmacro %}
