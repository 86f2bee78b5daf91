-- Which customer each live identity record belongs to today. The customer id
-- is derived from the cluster (a hash of its smallest record key), so the
-- same clusters give the same ids on every run and on every engine.
with

clusters as (

    select * from {{ ref('int_identity_clusters') }}

),

final as (

    select
        record_key,
        source_table,
        source_record_id,
        cluster_id,
        cluster_size,
        is_flagged_for_review,
        'cus_' || {{ dbt.safe_cast(dbt.hash('cluster_id'), dbt.type_string()) }} as customer_id
    from clusters

)

select * from final
