-- Identity records grouped into clusters (one per customer) over the accepted
-- edges, with the over-merge guard (macros/matching/guarded_clusters.sql) and
-- the stewards' cannot-links. Daily, only the components the day touched are
-- clustered again (macros/matching/incremental_clusters.sql); the rest keep
-- their clusters. The work runs as set-based statements while this model
-- builds, reading the model's previous version; the model then writes the
-- rows of the records clustered again (incremental: the pre-hook deletes
-- them and the rows of records gone). cluster_id is the smallest record_key
-- of the cluster; reclustered_on the run date that last clustered it.
-- depends_on: {{ ref('int_identity_edges') }}
-- depends_on: {{ ref('int_first_name_equivalents') }}
-- depends_on: {{ ref('int_steward_overrides') }}
{%- set labels = cluster_labels() %}
{#- The records clustered again this run (all of them on a full build): the
    pre-hook deletes their rows and this model writes them again. -#}
{%- set reclustered_records = labels ~ '__sub_records' %}
{%- if execute and flags.WHICH in ('run', 'build') %}
    {%- set previous = adapter.get_relation(
        database=this.database, schema=this.schema, identifier=this.identifier
    ) %}
    {%- do build_incremental_clusters(
        edges=ref('int_identity_edges'),
        records=ref('int_identity_records'),
        name_equivalents=ref('int_first_name_equivalents'),
        cannot_links="(select record_key_a, record_key_b from " ~ ref('int_steward_overrides')
            ~ " where override_type = 'cannot_link')",
        previous=previous,
        output=labels,
    ) %}
{%- endif %}
with

labels as (

    select * from {{ labels }}

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

final as (

    select
        identity_records.record_key,
        identity_records.source_table,
        identity_records.source_record_id,
        labels.cluster_id,
        count(*) over (partition by labels.cluster_id) as cluster_size,
        labels.is_flagged_for_review,
        labels.component_id,
        labels.reclustered_on,
        {{ guard_features_hash('identity_records') }} as features_hash
    from identity_records
    inner join labels on identity_records.record_key = labels.node
    {%- if is_incremental() %}
    -- Whole clusters: a component is clustered again whole.
    where identity_records.record_key in (select record_key from {{ reclustered_records }})
    {%- endif %}

)

select * from final
