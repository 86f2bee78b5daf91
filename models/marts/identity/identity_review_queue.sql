-- The stewards' work list: the model's review-band pairs (probability from
-- var('match_probability_review') up to the auto-link threshold, or above
-- it but vetoed by a contradiction) that no steward has decided yet, and
-- the customers the over-merge guard could not resolve. Largest impact
-- first: the customers and the revenue a decision joins or splits.
-- A decision (the app's review queue, or the seed) takes a pair out at the
-- next build; a rebuilt table, small beside the records: the review band.
with

probabilistic_edges as (

    select * from {{ ref('int_identity_edges__probabilistic') }}
    where match_band = 'review'

),

scored_pairs as (

    {{ scored_pairs_select() }}

),

steward_overrides as (

    select * from {{ ref('int_steward_overrides') }}

),

memberships as (

    select * from {{ ref('int_customer_memberships') }}

),

customers as (

    select * from {{ ref('dim_customer') }}

),

undecided_pairs as (

    select probabilistic_edges.*
    from probabilistic_edges
    left join steward_overrides
        on
            probabilistic_edges.record_key_a = steward_overrides.record_key_a
            and probabilistic_edges.record_key_b = steward_overrides.record_key_b
    where steward_overrides.record_key_a is null

),

pair_items as (

    select
        'pair:' || undecided_pairs.record_key_a || '|' || undecided_pairs.record_key_b
            as review_item_id,
        'pair' as item_type,
        undecided_pairs.record_key_a,
        undecided_pairs.record_key_b,
        membership_a.customer_id as customer_id_a,
        membership_b.customer_id as customer_id_b,
        membership_a.customer_id = membership_b.customer_id as is_same_customer,
        undecided_pairs.match_weight,
        undecided_pairs.match_probability,
        undecided_pairs.model_version,
        undecided_pairs.auto_link_threshold,
        undecided_pairs.contradicted_by,
        {{ comparison_weights('scored_pairs') }} as comparison_weights,
        case
            when membership_a.customer_id = membership_b.customer_id then 1 else 2
        end as customers_affected,
        coalesce(customer_a.record_count, 0) + case
            when membership_a.customer_id = membership_b.customer_id then 0
            else coalesce(customer_b.record_count, 0)
        end as records_affected,
        coalesce(customer_a.order_revenue, 0) + coalesce(customer_a.pos_spend, 0) + case
            when membership_a.customer_id = membership_b.customer_id then 0
            else coalesce(customer_b.order_revenue, 0) + coalesce(customer_b.pos_spend, 0)
        end as revenue_affected
    from undecided_pairs
    inner join memberships as membership_a
        on undecided_pairs.record_key_a = membership_a.record_key
    inner join memberships as membership_b
        on undecided_pairs.record_key_b = membership_b.record_key
    left join customers as customer_a
        on membership_a.customer_id = customer_a.customer_id
    left join customers as customer_b
        on membership_b.customer_id = customer_b.customer_id
    -- Read by comparison_weights(), when the scoring has written its table.
    left join scored_pairs  -- noqa: ST11
        on
            undecided_pairs.record_key_a = scored_pairs.record_key_a
            and undecided_pairs.record_key_b = scored_pairs.record_key_b

),

cluster_items as (

    select
        'customer:' || customer_id as review_item_id,
        'customer' as item_type,
        cast(null as {{ dbt.type_string() }}) as record_key_a,
        cast(null as {{ dbt.type_string() }}) as record_key_b,
        customer_id as customer_id_a,
        cast(null as {{ dbt.type_string() }}) as customer_id_b,
        true as is_same_customer,
        cast(null as double) as match_weight,
        cast(null as double) as match_probability,
        cast(null as {{ dbt.type_string() }}) as model_version,
        cast(null as double) as auto_link_threshold,
        cast(null as {{ dbt.type_string() }}) as contradicted_by,
        cast(null as {{ dbt.type_string() }}) as comparison_weights,
        1 as customers_affected,
        record_count as records_affected,
        coalesce(order_revenue, 0) + coalesce(pos_spend, 0) as revenue_affected
    from customers
    where is_flagged_for_review

),

items as (

    select * from pair_items
    union all
    select * from cluster_items

),

ranked as (

    select
        items.*,
        -- bigint on every engine (Spark's row_number is an int).
        cast(row_number() over (
            order by
                items.customers_affected desc,
                items.revenue_affected desc,
                items.records_affected desc,
                items.review_item_id asc
        ) as bigint) as impact_rank
    from items

),

final as (

    select
        review_item_id,
        item_type,
        impact_rank,
        record_key_a,
        record_key_b,
        customer_id_a,
        customer_id_b,
        is_same_customer,
        match_weight,
        match_probability,
        model_version,
        auto_link_threshold,
        contradicted_by,
        comparison_weights,
        customers_affected,
        records_affected,
        cast(revenue_affected as decimal(38, 2)) as revenue_affected
    from ranked

)

select * from final
