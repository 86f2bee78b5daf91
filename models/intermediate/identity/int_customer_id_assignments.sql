-- Which customer id each identity record holds, as history over run dates:
-- one row per record and id it held, valid from the run date it took the id
-- until (not including) the run date it lost it (null: holds it still).
-- This is the ID lifecycle (docs/customer_ids.md):
--   * an id stays with the cluster that holds most of its records (a tie goes
--     to the cluster named first, i.e. with the smallest record key);
--   * of the ids at home in one cluster the oldest survives (issued first,
--     then the smallest id): the others are merged into it;
--   * a cluster no id stays with mints one, from its name and the run date,
--     so a rerun mints the same ids;
--   * a retired id never comes back.
-- It reads its own previous rows: this table is the state the ids live in,
-- so it is never rebuilt from scratch (full_refresh is off).
-- Only the records clustered again today, and those gone, can change ids:
-- a day's ids are one per cluster, so every record of an id sits in one
-- component, and a component is clustered again whole. The rules are
-- applied to those records; every other record keeps its id.
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_by_key_strategy(),
        unique_key=['record_key', 'valid_from'],
        full_refresh=false,
        on_schema_change='fail',
        pre_hook="{{ reopen_state_at_run_date('valid_from', 'valid_to') }}",
    )
}}
with

all_clusters as (

    select * from {{ ref('int_identity_clusters') }}

),

clusters as (

    select * from all_clusters
    where reclustered_on = {{ run_date_literal() }}

),

assignment_history as (

    {% if is_incremental() -%}
        select * from {{ this }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as record_key,
            cast(null as {{ dbt.type_string() }}) as source_table,
            cast(null as {{ dbt.type_string() }}) as source_record_id,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as previous_customer_id,
            cast(null as {{ dbt.type_string() }}) as cluster_id,
            cast(null as date) as valid_from,
            cast(null as date) as valid_to
        where 1 = 0
    {%- endif %}

),

held_before_anywhere as (

    select
        record_key,
        customer_id,
        valid_from
    from assignment_history
    where
        valid_from < {{ run_date_literal() }}
        and (valid_to is null or valid_to >= {{ run_date_literal() }})

),

-- The records clustered again, and those no longer clustered (gone).
held_before as (

    select held_before_anywhere.*
    from held_before_anywhere
    left join all_clusters on held_before_anywhere.record_key = all_clusters.record_key
    where
        all_clusters.record_key is null
        or all_clusters.reclustered_on = {{ run_date_literal() }}

),

ids_issued as (

    select
        customer_id,
        min(valid_from) as issued_on
    from assignment_history
    where
        valid_from < {{ run_date_literal() }}
        and customer_id in (select held_before.customer_id from held_before)
    group by customer_id

),

id_overlaps as (

    select
        clusters.cluster_id,
        held_before.customer_id,
        count(*) as shared_records
    from clusters
    inner join held_before on clusters.record_key = held_before.record_key
    group by clusters.cluster_id, held_before.customer_id

),

homes as (

    select
        customer_id,
        cluster_id,
        row_number() over (
            partition by customer_id order by shared_records desc, cluster_id asc
        ) as home_rank
    from id_overlaps

),

survivors as (

    select
        homes.cluster_id,
        homes.customer_id,
        row_number() over (
            partition by homes.cluster_id order by ids_issued.issued_on, homes.customer_id
        ) as survivor_rank
    from homes
    inner join ids_issued on homes.customer_id = ids_issued.customer_id
    where homes.home_rank = 1

),

cluster_names as (

    select distinct cluster_id from clusters

),

cluster_ids as (

    select
        cluster_names.cluster_id,
        coalesce(
            survivors.customer_id,
            'cus_' || {{ dbt.hash(
                "cluster_names.cluster_id || '|' || " ~ dbt.string_literal(run_date())
            ) }}
        ) as customer_id
    from cluster_names
    left join survivors
        on
            cluster_names.cluster_id = survivors.cluster_id
            and survivors.survivor_rank = 1

),

held_now as (

    select
        clusters.record_key,
        clusters.source_table,
        clusters.source_record_id,
        clusters.cluster_id,
        cluster_ids.customer_id
    from clusters
    inner join cluster_ids on clusters.cluster_id = cluster_ids.cluster_id

),

opened as (

    select
        held_now.record_key,
        held_now.source_table,
        held_now.source_record_id,
        held_now.customer_id,
        held_before.customer_id as previous_customer_id,
        held_now.cluster_id,
        {{ run_date_literal() }} as valid_from,
        cast(null as date) as valid_to
    from held_now
    left join held_before on held_now.record_key = held_before.record_key
    where held_before.customer_id is null or held_before.customer_id <> held_now.customer_id

),

closed as (

    select
        assignment_history.record_key,
        assignment_history.source_table,
        assignment_history.source_record_id,
        assignment_history.customer_id,
        assignment_history.previous_customer_id,
        assignment_history.cluster_id,
        assignment_history.valid_from,
        {{ run_date_literal() }} as valid_to
    from assignment_history
    inner join held_before
        on
            assignment_history.record_key = held_before.record_key
            and assignment_history.valid_from = held_before.valid_from
    left join held_now on assignment_history.record_key = held_now.record_key
    where held_now.record_key is null or held_now.customer_id <> assignment_history.customer_id

),

final as (

    select * from opened
    union all
    select * from closed

)

select * from final
