{#
    When the previous run date finished (raw._pipeline_run_log): every row
    loaded after it belongs to this run date. A rerun of a date (an ad hoc
    privacy request, a late partition) sees the same rows again, so it
    recomputes the same customers; recomputing is always safe, only slower.
    Before any run finished, the beginning of time.
#}
{% macro previous_run_completed_at() -%}
    {%- set raw = source('ecommerce', 'ecommerce_customers') -%}
    {%- set run_log = raw.incorporate(path={'identifier': '_pipeline_run_log'}) -%}
    (
        select
            coalesce(
                max(run_log.completed_at),
                {{ safe_cast("'1900-01-01'", dbt.type_timestamp()) }}
            )
        from {{ run_log }} as run_log
        where run_log.run_date < {{ run_date_literal() }}
    )
{%- endmacro %}

{# A row (of staging or the vault) that a load of this run date delivered. #}
{% macro loaded_this_run(loaded_at='_loaded_at') -%}
    {{ loaded_at }} > {{ previous_run_completed_at() }}
{%- endmacro %}

{#
    Customer-level models are incremental by customer: a build first deletes
    the rows of the customers this run touched (int_touched_customers: their
    records, memberships, activity or preferences changed, or their id was
    merged, split, retired or erased), then appends those customers'
    rows computed again (`touched_customers_only`). A full build computes all.
#}
{% macro delete_touched_customers(customer_id_column='customer_id') -%}
    {%- if is_incremental() -%}
        {{ delete_rows(this, customer_id_column ~ ' in (' ~ touched_customers_sql(ref('int_touched_customers')) ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{% macro touched_customers_only(customer_id_column, keyword='where') -%}
    {#- ref() outside the condition: dbt records the dependency while parsing. -#}
    {%- set touched = ref('int_touched_customers') -%}
    {%- if is_incremental() %}
    {{ keyword }} {{ customer_id_column }} in ({{ touched_customers_sql(touched) }})
    {%- endif -%}
{%- endmacro %}

{#
    The touched customers a model recomputes: all of them, or with the
    model's meta `touched_customers: identity`, those touched for a reason
    other than activity (a model that reads no activity).
#}
{% macro touched_customers_sql(touched) -%}
    select customer_id from {{ touched }}
    {%- if config.get('meta', {}).get('touched_customers') == 'identity' %}
    where is_identity_touched
    {%- endif -%}
{%- endmacro %}

{#
    Activity facts are incremental by row: a build takes again the rows
    delivered this run, those of touched customers' records (re-keyed to
    their customer now) and those a touched customer held until now (an
    erased record's activity, unlinked), and replaces them by key
    (delete+insert). Rows their source deleted this run are deleted first
    (`delete_activity_deleted_this_run`, a pre-hook).
#}
{% macro activity_to_rebuild(key, link, identity_table) -%}
    {%- set touched = ref('int_touched_customers') -%}
    {%- set memberships = ref('int_customer_memberships') -%}
    {%- if is_incremental() %}
    and (
        {{ loaded_this_run() }}
        or {{ key }} in (
            select {{ key }} from {{ this }}
            where customer_id in (select customer_id from {{ touched }})
        )
        or {{ link }} in (
            select source_record_id from {{ memberships }}
            where
                source_table = '{{ identity_table }}'
                and customer_id in (select customer_id from {{ touched }})
        )
    )
    {%- endif -%}
{%- endmacro %}

{% macro delete_activity_deleted_this_run(staging_model, key) -%}
    {%- if is_incremental() -%}
        {{ delete_rows(this, key ~ ' in (select ' ~ key ~ ' from ' ~ ref(staging_model)
            ~ ' where is_deleted and ' ~ loaded_this_run() ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#
    The identity records (source_table, source_record_id) whose staged image
    a load of this run date delivered, deleted ones included.
#}
{% macro identity_records_loaded_this_run() -%}
    {%- for source_table, model, key in identity_staging_models() %}
    select '{{ source_table }}' as source_table, {{ key }} as source_record_id
    from {{ ref(model) }}
    where {{ loaded_this_run() }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#
    A model that reads identity_records_loaded_this_run() on incremental
    builds only calls this at its top, so that dbt, which parses with
    is_incremental() false, still records the staging models it reads.
#}
{% macro depends_on_identity_staging() -%}
    {%- for source_table, model, key in identity_staging_models() -%}
        {%- do ref(model) -%}
    {%- endfor -%}
{%- endmacro %}

{% macro identity_staging_models() -%}
    {{ return([
        ('ecommerce_customers', 'stg_ecommerce__customers', 'customer_account_id'),
        ('mobile_app_devices', 'stg_mobile_app__devices', 'device_id'),
        ('loyalty_members', 'stg_loyalty__members', 'loyalty_id'),
        ('pos_card_holders', 'stg_pos__card_holders', 'card_number'),
        ('crm_contacts', 'stg_crm__contacts', 'contact_id'),
        ('enrichment_profiles', 'stg_enrichment__profiles', 'provider_record_id'),
    ]) }}
{%- endmacro %}

{# Pre-hook of a model keyed by identity record: forget the records this run delivered again. #}
{% macro delete_identity_records_loaded_this_run() -%}
    {%- if is_incremental() -%}
        {{ delete_rows(this, "source_table || ':' || source_record_id in ("
            ~ "select changed.source_table || ':' || changed.source_record_id from ("
            ~ identity_records_loaded_this_run() ~ ") as changed)") }}
    {%- endif -%}
{%- endmacro %}

{#
    Models keyed by identity record pairs or keys recompute what the run's
    changes reach (int_identity_changes): the pre-hook deletes the rows one
    of whose `key_columns` names a change key, or one of whose
    `record_columns` names a changed record; the model's select keeps the
    rows of `expression` a change key names (`reached_by_changes_only`).
#}
{% macro delete_reached_by_changes(key_columns=[], record_columns=[], or_all_when=none) -%}
    {%- if is_incremental() -%}
        {%- set changes = ref('int_identity_changes') -%}
        {%- set conditions = [] -%}
        {%- for column in key_columns -%}
            {%- do conditions.append(column ~ ' in (select change_key from ' ~ changes ~ ')') -%}
        {%- endfor -%}
        {%- for column in record_columns -%}
            {%- do conditions.append(column ~ ' in (select change_key from ' ~ changes
                ~ ' where is_changed_record)') -%}
        {%- endfor -%}
        {%- if or_all_when -%}
            {%- do conditions.append(or_all_when) -%}
        {%- endif %}
        {{ delete_rows(this, conditions | join(' or ')) }}
    {%- endif -%}
{%- endmacro %}

{% macro reached_by_changes_only(expression, keyword='and') -%}
    {%- set changes = ref('int_identity_changes') -%}
    {%- if is_incremental() %}
        {{ keyword }} {{ expression }} in (select change_key from {{ changes }})
    {%- endif -%}
{%- endmacro %}

{#
    Whether the scoring step of this run date scored every pair (the first
    run, a new model): every scored pair's edge is then recomputed. False on
    a warehouse never scored.
#}
{% macro scored_in_full_this_run() -%}
    {%- set runs = adapter.get_relation(
        database=target_database(), schema='matching', identifier='splink_scoring_runs'
    ) if execute else none -%}
    {%- if runs is none -%}
        false
    {%- else -%}
        exists (
            select 1 from {{ runs }} as runs
            where runs.run_date = {{ run_date_literal() }} and runs.is_full
        )
    {%- endif -%}
{%- endmacro %}

{#
    The identity records a run date changed: clustered again, written again
    by int_identity_records, or given another id (an assignment opened or
    closed on the run date). Every other record's membership, id and
    figures are yesterday's.
#}
{% macro identity_records_changed_this_run() -%}
    select record_key from {{ ref('int_identity_clusters') }}
    where reclustered_on = {{ run_date_literal() }}
    union
    select record_key from {{ ref('int_identity_records') }}
    where recomputed_on = {{ run_date_literal() }}
    union
    select record_key from {{ ref('int_customer_id_assignments') }}
    where valid_from >= {{ run_date_literal() }} or valid_to >= {{ run_date_literal() }}
{%- endmacro %}

{% macro delete_memberships_to_rewrite() -%}
    {%- if is_incremental() -%}
        {{ delete_rows(this,
            'members.record_key in (' ~ identity_records_changed_this_run() ~ ') or not exists ('
            ~ 'select 1 from ' ~ ref('int_identity_clusters') ~ ' as clusters'
            ~ ' where clusters.record_key = members.record_key)',
            alias='members') }}
    {%- endif -%}
{%- endmacro %}
