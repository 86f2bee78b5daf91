-- Which customer each live identity record belongs to today. The customer id
-- is derived from the cluster (a hash of its smallest record key), so the
-- same clusters give the same ids on every run and on every engine.
with

clusters as (

    select * from {{ ref('int_identity_clusters') }}

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

final as (

    select
        clusters.record_key,
        clusters.source_table,
        clusters.source_record_id,
        clusters.cluster_id,
        clusters.cluster_size,
        clusters.is_flagged_for_review,
        identity_records.is_anonymous,
        'cus_' || {{ dbt.safe_cast(dbt.hash('clusters.cluster_id'), dbt.type_string()) }}
            as customer_id
    from clusters
    inner join identity_records on clusters.record_key = identity_records.record_key

)

select * from final
