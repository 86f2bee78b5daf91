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

{#
    dbt-spark adds a contract's constraints (not null) with ALTER TABLE when
    file_format is delta, its default; Parquet tables take no constraints.
    A root-project override reading the default as parquet, the format the
    spark target writes: there a contract checks column names and types,
    not nulls (on Delta, set file_format and the constraints apply).
#}
{% macro spark__persist_constraints(relation, model) %}
    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config.enforced and config.get('file_format', 'parquet') == 'delta' -%}
        {%- do alter_table_add_constraints(relation, model.constraints) -%}
        {%- do alter_column_set_constraints(relation, model.columns) -%}
    {%- endif -%}
{% endmacro %}
