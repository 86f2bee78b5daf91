{#
    dbt-spark's snapshot materialization (dbt-spark 1.11, copied), taking
    Parquet tables too: dbt-spark snapshots merge (Delta, Iceberg, Hudi),
    which Parquet cannot. On Parquet the merge is a staged rewrite
    (`spark_parquet_snapshot_rewrite`): the current versions the staging
    table closes get their dbt_valid_to, its inserts are appended, and the
    table is overwritten from the stage. It rewrites the whole snapshot each
    run; on Delta or Iceberg, dbt-spark's merge is the production choice.
    The rest is dbt-spark's, unchanged.
#}
{% materialization snapshot, adapter='spark' %}

  {%- set target_table = model.get('alias', model.get('name')) -%}

  {%- set strategy_name = config.get('strategy') -%}
  {%- set unique_key = config.get('unique_key') %}
  {%- set file_format = config.get('file_format') or 'parquet' -%}
  {%- set grant_config = config.get('grants') -%}

  {% set target_relation_exists, target_relation = get_or_create_relation(
          database=none,
          schema=model.schema,
          identifier=target_table,
          type='table') -%}

  {%- if file_format not in ['delta', 'iceberg', 'hudi', 'parquet'] -%}
    {% set invalid_format_msg -%}
      Invalid file format: {{ file_format }}
      Snapshot functionality requires file_format be set to 'delta' or 'iceberg' or 'hudi'
    {%- endset %}
    {% do exceptions.raise_compiler_error(invalid_format_msg) %}
  {% endif %}

  {%- if target_relation_exists -%}
    {%- if file_format != 'parquet' and not target_relation.is_delta and not target_relation.is_iceberg and not target_relation.is_hudi -%}
      {% set invalid_format_msg -%}
        The existing table {{ model.schema }}.{{ target_table }} is in another format than 'delta' or 'iceberg' or 'hudi'
      {%- endset %}
      {% do exceptions.raise_compiler_error(invalid_format_msg) %}
    {% endif %}
  {% endif %}

  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(model.schema) %}
  {% endif %}

  {%- if not target_relation.is_table -%}
    {% do exceptions.relation_wrong_type(target_relation, 'table') %}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set strategy_macro = strategy_dispatch(strategy_name) %}
  {% set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) %}

  {% if not target_relation_exists %}

      {% set build_sql = build_snapshot_table(strategy, model['compiled_code']) %}
      {% set final_sql = create_table_as(False, target_relation, build_sql) %}

  {% else %}

      {% set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() %}

      {{ adapter.valid_snapshot_target(target_relation, columns) }}

      {% set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) %}

      -- this may no-op if the database does not require column expansion
      {% do adapter.expand_target_column_types(from_relation=staging_table,
                                               to_relation=target_relation) %}

      {#- A composite unique_key stages dbt_unique_key_1, _2, ...: not the snapshot's
          columns either (as dbt-core's materialization has it; dbt-spark's adds them). -#}
      {% set staged_keys = [] %}
      {% for i in range(1, 11) %}
        {% do staged_keys.extend(['dbt_unique_key_' ~ i, 'DBT_UNIQUE_KEY_' ~ i]) %}
      {% endfor %}
      {% set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
                                   | rejectattr('name', 'equalto', 'dbt_change_type')
                                   | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
                                   | rejectattr('name', 'equalto', 'dbt_unique_key')
                                   | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
                                   | rejectattr('name', 'in', staged_keys)
                                   | list %}

      {% do create_columns(target_relation, missing_columns) %}

      {% set source_columns = adapter.get_columns_in_relation(staging_table)
                                   | rejectattr('name', 'equalto', 'dbt_change_type')
                                   | rejectattr('name', 'equalto', 'DBT_CHANGE_TYPE')
                                   | rejectattr('name', 'equalto', 'dbt_unique_key')
                                   | rejectattr('name', 'equalto', 'DBT_UNIQUE_KEY')
                                   | rejectattr('name', 'in', staged_keys)
                                   | list %}

      {% set quoted_source_columns = [] %}
      {% for column in source_columns %}
        {% do quoted_source_columns.append(adapter.quote(column.name)) %}
      {% endfor %}

      {% if file_format == 'parquet' %}
        {% set final_sql = spark_parquet_snapshot_rewrite(target_relation, staging_table) %}
      {% else %}
        {% set final_sql = snapshot_merge_sql(
              target = target_relation,
              source = staging_table,
              insert_cols = quoted_source_columns
           )
        %}
      {% endif %}

  {% endif %}

  {% call statement('main') %}
      {{ final_sql }}
  {% endcall %}

  {% set should_revoke = should_revoke(target_relation_exists, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {% if staging_table is defined %}
      {% do post_snapshot(staging_table) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#
    The snapshot merge as a rewrite (Parquet): runs the stage and the
    overwrite; returns the last statement, dropping the stage.
#}
{% macro spark_parquet_snapshot_rewrite(target, staging) -%}
    {%- set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() -%}
    {%- set stage = target.schema ~ '.' ~ target.identifier ~ '__c360_rewrite' -%}
    {%- set current = 'dest.' ~ columns.dbt_valid_to ~ ' is null' -%}
    {%- if config.get('dbt_valid_to_current') -%}
        {%- set current = '(dest.' ~ columns.dbt_valid_to ~ ' = ' ~ config.get('dbt_valid_to_current')
            ~ ' or dest.' ~ columns.dbt_valid_to ~ ' is null)' -%}
    {%- endif -%}
    {%- set kept = [] -%}
    {%- set inserted = [] -%}
    {%- for column in adapter.get_columns_in_relation(target) -%}
        {%- set name = adapter.quote(column.name) -%}
        {%- if column.name | lower == columns.dbt_valid_to | lower -%}
            {%- do kept.append('case when closing.' ~ columns.dbt_scd_id ~ ' is not null then closing.'
                ~ columns.dbt_valid_to ~ ' else dest.' ~ name ~ ' end as ' ~ name) -%}
        {%- else -%}
            {%- do kept.append('dest.' ~ name) -%}
        {%- endif -%}
        {%- do inserted.append('source.' ~ name) -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ stage) -%}
    {%- do run_query(
        'create table ' ~ stage ~ ' using parquet as select ' ~ kept | join(', ') ~ ' from ' ~ target ~ ' as dest'
        ~ ' left join (select ' ~ columns.dbt_scd_id ~ ', ' ~ columns.dbt_valid_to ~ ' from ' ~ staging
        ~ " where dbt_change_type in ('update', 'delete')) as closing"
        ~ ' on closing.' ~ columns.dbt_scd_id ~ ' = dest.' ~ columns.dbt_scd_id ~ ' and ' ~ current
        ~ ' union all select ' ~ inserted | join(', ') ~ ' from ' ~ staging ~ ' as source'
        ~ " where source.dbt_change_type = 'insert' and not exists (select 1 from " ~ target ~ ' as dest'
        ~ ' where dest.' ~ columns.dbt_scd_id ~ ' = source.' ~ columns.dbt_scd_id ~ ')'
    ) -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' select * from ' ~ stage) -%}
    drop table if exists {{ stage }}
{%- endmacro %}

{#
    dbt-spark's staging relation of a snapshot, as a Parquet table rather than
    a view (a root-project override): the Hive metastore's Derby keeps a
    view's text in 32,700 characters, and the staging SQL of a snapshot of
    every golden attribute is longer. dbt-spark drops it after the run.
#}
{% macro spark_build_snapshot_staging_table(strategy, sql, target_relation) %}
    {%- set tmp_relation = api.Relation.create(
        identifier=target_relation.identifier ~ '__dbt_tmp', schema=target_relation.schema,
        database=none, type='table'
    ) -%}
    {%- set select = snapshot_staging_table(strategy, sql, target_relation) -%}
    {%- do run_query('drop table if exists ' ~ tmp_relation) -%}
    {% call statement('build_snapshot_staging_relation') %}
        create table {{ tmp_relation }} using parquet as {{ select }}
    {% endcall %}
    {% do return(tmp_relation) %}
{% endmacro %}
