-- Which customer each live identity record belongs to today: the id the
-- ID lifecycle (int_customer_id_assignments) gave it, with its cluster.
-- Incremental: a record's row changes only when it is clustered again, its
-- identity record is written again, or its id changes, so a build writes
-- those rows again (`identity_records_changed_this_run`); the pre-hook
-- deletes them and the rows of records gone first.
with

assignments as (

    select * from {{ ref('int_customer_id_assignments') }}
    where valid_to is null

),

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
        assignments.customer_id,
        assignments.valid_from as customer_id_held_since
    from clusters
    inner join identity_records on clusters.record_key = identity_records.record_key
    inner join assignments on clusters.record_key = assignments.record_key
    {%- if is_incremental() %}
    where clusters.record_key in ({{ identity_records_changed_this_run() }})
    {%- endif %}

)

select * from final
