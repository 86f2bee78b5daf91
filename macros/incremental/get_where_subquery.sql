{#
    Data tests of a daily build check the rows the build wrote, not the
    warehouse (`+where: __written_this_run__` for every test, dbt_project.yml):
    a test of an incremental model, or of a raw source, reads
      * the rows loaded this run, where the relation carries `_loaded_at`
        (raw, staging, the vault);
      * the records written this run date, where it carries `recomputed_on`
        (int_identity_records);
      * the touched customers' rows, for a model recomputed by customer
        (the `delete_touched_customers` pre-hook).
    Rows outside them are those earlier builds wrote and tested, and the
    merge keys keep them unique. Tables rebuilt whole, `dbt test` (the
    audit of every row) and `--full-refresh` test every row. A test's own
    `where` is used as it is.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__written_this_run__' -%}
        {%- set where = written_this_run_predicate(relation) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro written_this_run_predicate(relation) -%}
    {%- if not execute or flags.WHICH != 'build' or flags.FULL_REFRESH -%}
        {{ return('') }}
    {%- endif -%}
    {%- set is_source = graph.sources.values()
        | selectattr('schema', 'equalto', relation.schema)
        | selectattr('identifier', 'equalto', relation.identifier) | list | length > 0 -%}
    {%- set models = graph.nodes.values()
        | selectattr('resource_type', 'equalto', 'model')
        | selectattr('schema', 'equalto', relation.schema)
        | selectattr('alias', 'equalto', relation.identifier) | list -%}
    {%- set is_incremental_model = models | length > 0
        and models[0].config.materialized == 'incremental' -%}
    {%- if not (is_source or is_incremental_model) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- if '_loaded_at' in columns -%}
        {{ return(loaded_this_run()) }}
    {%- elif 'recomputed_on' in columns -%}
        {{ return('recomputed_on = ' ~ run_date_literal()) }}
    {%- elif is_incremental_model and 'customer_id' in columns
        and 'delete_touched_customers' in (models[0].config.pre_hook | map(attribute='sql') | join(' ')) -%}
        {{ return('customer_id in (select customer_id from '
            ~ api.Relation.create(database=target_database(), schema='intermediate',
                identifier='int_touched_customers') ~ ')') }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
