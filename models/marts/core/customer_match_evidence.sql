-- Why records are, or are not, one customer: every pair of records that
-- some evidence ties (a deterministic rule, a model score from the review
-- band up, a steward's decision), with the rules that fired, the model's
-- weights and the vetoes, once for each customer a side belongs to. The
-- edges clustering joined over (is_edge) and those the over-merge guard or
-- a cannot-link cut (is_edge_cut). `c360 explain` and the app read it.
-- A decision's type and time only: who decided and why (free text) stay in
-- the stewards' own tables, out of reach of the marts' readers.
-- Incremental by customer: a build recomputes the rows of the customers this
-- run touched and of the pairs whose other side is one of them.
{#- On a daily build (evidence_pairs), the pairs holding a touched customer's record only:
    every pair a recomputed row can describe. #}
{%- set touching = '' %}
{%- if is_incremental() %}
    {%- set touching = 'where record_key_a in (select record_key from touched_memberships)'
        ~ ' or record_key_b in (select record_key from touched_memberships)' %}
{%- endif %}
with

memberships as (

    select * from {{ ref('int_customer_memberships') }}

),

-- A daily build's filter of the evidence (`touching`, above).
touched_memberships as (  -- noqa: ST03

    select * from {{ ref('int_customer_memberships') }}
    {{ touched_customers_only('customer_id') }}

),

deterministic_edges as (

    select * from {{ ref('int_identity_edges__deterministic') }}

),

probabilistic_edges as (

    select * from {{ ref('int_identity_edges__probabilistic') }}

),

scored_pairs as (

    {{ scored_pairs_select() }}

),

steward_overrides as (

    select * from {{ ref('int_steward_overrides') }}

),

edges as (

    select * from {{ ref('int_identity_edges') }}

),

rules_fired as (

    select
        record_key_a,
        record_key_b,
        {{ sorted_listagg('rule_name', "','") }} as deterministic_rules
    from deterministic_edges
    group by record_key_a, record_key_b

),

evidence_pairs as (

    select
        record_key_a,
        record_key_b
    from deterministic_edges
    {{ touching }}
    union
    select
        record_key_a,
        record_key_b
    from probabilistic_edges
    {{ touching }}
    union
    select
        record_key_a,
        record_key_b
    from steward_overrides
    {{ touching }}
    union
    select
        record_key_a,
        record_key_b
    from edges
    {{ touching }}

),

-- The pairs of live records, with the customer of each side.
live_pairs as (

    select
        evidence_pairs.record_key_a,
        evidence_pairs.record_key_b,
        membership_a.customer_id as customer_id_a,
        membership_b.customer_id as customer_id_b
    from evidence_pairs
    inner join memberships as membership_a
        on evidence_pairs.record_key_a = membership_a.record_key
    inner join memberships as membership_b
        on evidence_pairs.record_key_b = membership_b.record_key

),

-- Each pair under the customer of each side: a pair within one customer
-- once, a pair across two customers under both (the untouched one too).
customer_pairs as (

    select
        live_pairs.*,
        live_pairs.customer_id_a as customer_id
    from live_pairs
    union
    select
        live_pairs.*,
        live_pairs.customer_id_b as customer_id
    from live_pairs

),

final as (

    select
        customer_pairs.customer_id,
        customer_pairs.record_key_a,
        customer_pairs.record_key_b,
        customer_pairs.customer_id_a,
        customer_pairs.customer_id_b,
        customer_pairs.customer_id_a = customer_pairs.customer_id_b as is_same_customer,
        edges.record_key_a is not null as is_edge,
        edges.record_key_a is not null
        and customer_pairs.customer_id_a <> customer_pairs.customer_id_b as is_edge_cut,
        edges.confidence as edge_confidence,
        edges.rule_names as edge_rules,
        rules_fired.deterministic_rules,
        probabilistic_edges.match_weight,
        probabilistic_edges.match_probability,
        probabilistic_edges.match_band,
        probabilistic_edges.auto_link_threshold,
        probabilistic_edges.contradicted_by,
        {{ comparison_weights('scored_pairs') }} as comparison_weights,
        steward_overrides.override_type,
        steward_overrides.decided_at as override_decided_at,
        case
            when customer_pairs.customer_id = customer_pairs.customer_id_a
                then customer_pairs.customer_id_b
            else customer_pairs.customer_id_a
        end as other_customer_id
    from customer_pairs
    left join edges
        on
            customer_pairs.record_key_a = edges.record_key_a
            and customer_pairs.record_key_b = edges.record_key_b
    left join rules_fired
        on
            customer_pairs.record_key_a = rules_fired.record_key_a
            and customer_pairs.record_key_b = rules_fired.record_key_b
    left join probabilistic_edges
        on
            customer_pairs.record_key_a = probabilistic_edges.record_key_a
            and customer_pairs.record_key_b = probabilistic_edges.record_key_b
    -- Read by comparison_weights(), when the scoring has written its table.
    left join scored_pairs  -- noqa: ST11
        on
            customer_pairs.record_key_a = scored_pairs.record_key_a
            and customer_pairs.record_key_b = scored_pairs.record_key_b
    left join steward_overrides
        on
            customer_pairs.record_key_a = steward_overrides.record_key_a
            and customer_pairs.record_key_b = steward_overrides.record_key_b

)

select * from final
