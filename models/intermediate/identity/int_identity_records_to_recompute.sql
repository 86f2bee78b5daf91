-- noqa: disable=LT02
-- (Two whole queries in one if/else, which sqlfluff would indent as a block.)
-- The identity records a run date writes again in int_identity_records: the
-- records delivered this run, every live record of an email, phone or
-- loyalty group one of them joins or leaves, and every record of a full-name
-- group they take across its cap (is_live false: delivered as no longer
-- live, so int_identity_records writes a tombstone).
-- A table of its own, not CTEs of int_identity_records: Spark inlines a CTE
-- at every use, and the model reads this set six times; recomputing it each
-- time cost a Spark change day three times its day-0 build of the model.
-- Empty when int_identity_records rebuilds everything (first build, full
-- refresh). Reads that model's last build, which runs after this one.
{#- ref()s outside the condition below: dbt records them while parsing. -#}
{{- depends_on_identity_staging() }}
{%- set vault_records = ref('vault_identity_pii') %}
{%- set app_events = ref('stg_mobile_app__events') %}
{%- set first_name_canonicals = ref('int_first_name_canonicals') %}
{%- set built = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='int_identity_records'
) if execute else none %}
{%- set recomputes_all = built is none or flags.FULL_REFRESH %}
{#- Not a source(): the privacy intake runs after int_identity_records (its
    source's dependents build after scoring); c360.pipeline.prepare_warehouse
    creates the table before the first build. -#}
{%- set regroup_records = api.Relation.create(
    database=target_database(), schema='privacy', identifier='regroup_records'
) %}

{% if recomputes_all %}

select
    cast(null as {{ dbt.type_string() }}) as record_key,
    cast(null as {{ dbt.type_boolean() }}) as is_live
where 1 = 0

{% else %}

with

vault as (

    select * from {{ vault_records }}

),

events as (

    select * from {{ app_events }}

),

first_names as (

    select * from {{ first_name_canonicals }}

),

live_records as (

    select
        vault.source_table || ':' || vault.source_record_id as record_key,
        vault.email_token,
        vault.phone_token,
        vault.loyalty_id,
        coalesce(first_names.canonical_name, vault.first_name_normalized)
        || ' ' || vault.last_name_normalized as full_name_key
    from vault
    left join first_names on vault.first_name_normalized = first_names.nickname

),

changed_keys as (

    select changed.source_table || ':' || changed.source_record_id as record_key
    from ({{ identity_records_loaded_this_run() }}) as changed
    union all
    -- A device signing in stops being anonymous; one that was not anonymous
    -- has nothing to change (its app sends events every day).
    select 'mobile_app_devices:' || events.device_id as record_key
    from events
    inner join {{ built }} as built
        on 'mobile_app_devices:' || events.device_id = built.record_key
    where
        events.customer_account_id is not null
        and {{ loaded_this_run() }}
        and built.is_anonymous
    union all
    -- Records whose groups lost a record the last privacy intake purged.
    select record_key from {{ regroup_records }}

),

-- The groups a changed record belongs to now (live) or belonged to (built).
-- Loyalty ids are groups of the deterministic edges, which recompute the
-- keys of every record written here (int_identity_edges__deterministic).
changed_groups as (

    select
        live_records.email_token,
        live_records.phone_token,
        live_records.loyalty_id,
        live_records.full_name_key
    from live_records
    where live_records.record_key in (select changed_keys.record_key from changed_keys)
    union all
    select
        built.email_token,
        built.phone_token,
        built.loyalty_id,
        built.first_name_canonical || ' ' || built.last_name_normalized as full_name_key
    from {{ built }} as built
    where built.record_key in (select changed_keys.record_key from changed_keys)

),

-- A full name's group decides its records' features only by whether it holds
-- more records than a name block may (name_block_key), so its other records
-- are written again only when a changed record takes it across that cap.
-- Common names are large groups: recomputing them whole on every change
-- wrote over a tenth of all records a day.
changed_names as (

    select distinct full_name_key
    from changed_groups
    where full_name_key is not null

),

name_sizes_now as (

    select
        live_records.full_name_key,
        count(*) as group_size
    from live_records
    inner join changed_names on live_records.full_name_key = changed_names.full_name_key
    group by live_records.full_name_key

),

name_sizes_built as (

    select
        changed_names.full_name_key,
        count(*) as group_size
    from {{ built }} as built
    inner join changed_names
        on built.first_name_canonical || ' ' || built.last_name_normalized
        = changed_names.full_name_key
    group by changed_names.full_name_key

),

resized_names as (

    select changed_names.full_name_key
    from changed_names
    left join name_sizes_now on changed_names.full_name_key = name_sizes_now.full_name_key
    left join name_sizes_built on changed_names.full_name_key = name_sizes_built.full_name_key
    where
        (coalesce(name_sizes_now.group_size, 0) <= {{ var('name_block_max_records') }})
        <> (coalesce(name_sizes_built.group_size, 0) <= {{ var('name_block_max_records') }})

),

-- Equi-joins in a union rather than one filter of or-ed IN lists: each
-- becomes a hash join on both engines.
{%- for group_key in ['email_token', 'phone_token', 'loyalty_id'] %}

changed_{{ group_key }}s as (

    select distinct {{ group_key }}
    from changed_groups
    where {{ group_key }} is not null

),
{%- endfor %}

live_keys as (

    select live_records.record_key
    from live_records
    inner join changed_keys on live_records.record_key = changed_keys.record_key
    {%- for group_key in ['email_token', 'phone_token', 'loyalty_id'] %}
    union
    select live_records.record_key
    from live_records
    inner join changed_{{ group_key }}s
        on live_records.{{ group_key }} = changed_{{ group_key }}s.{{ group_key }}
    {%- endfor %}
    union
    select live_records.record_key
    from live_records
    inner join resized_names on live_records.full_name_key = resized_names.full_name_key

),

final as (

    select
        record_key,
        true as is_live
    from live_keys
    union
    select
        changed_keys.record_key,
        false as is_live
    from changed_keys
    where not exists (
        select 1 from live_records where live_records.record_key = changed_keys.record_key
    )

)

select * from final

{%- endif %}
