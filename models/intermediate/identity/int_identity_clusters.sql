-- Identity records grouped into clusters (one per customer) over the accepted
-- edges, with the over-merge guard (macros/matching/guarded_clusters.sql).
-- The work runs as a sequence of set-based statements while this model
-- builds; the model then reads their result. cluster_id is the smallest
-- record_key of the cluster.
-- depends_on: {{ ref('int_identity_edges') }}
-- depends_on: {{ ref('int_first_name_equivalents') }}
{%- set labels = this.schema ~ '.' ~ this.identifier ~ '__labels' %}
{%- if execute and flags.WHICH in ('run', 'build') %}
    {%- do build_guarded_clusters(
        edges=ref('int_identity_edges'),
        records=ref('int_identity_records'),
        name_equivalents=ref('int_first_name_equivalents'),
        output=labels,
        max_rounds=var('guard_max_rounds', 4),
    ) %}
{%- endif %}
with

labels as (

    select * from {{ labels }}

),

guard_log as (

    select * from {{ labels }}__guard

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

guarded as (

    select
        component_id,
        {{ dbt.bool_or('not is_resolved') }} as is_unresolved
    from guard_log
    group by component_id

),

final as (

    select
        identity_records.record_key,
        identity_records.source_table,
        identity_records.source_record_id,
        labels.component_id as cluster_id,
        count(*) over (partition by labels.component_id) as cluster_size,
        coalesce(guarded.is_unresolved, false) as is_flagged_for_review
    from identity_records
    inner join labels on identity_records.record_key = labels.node
    left join guarded on labels.component_id = guarded.component_id

)

select * from final
