-- The edges clustering joins records over, one row per record pair: every
-- deterministic rule that linked the pair, the model's auto-links and the
-- stewards' must-links. A pair's confidence is its strongest evidence; the
-- over-merge guard cuts the weakest edges of a cluster first and never a
-- must-link. A pair a steward said cannot link is no edge, whatever linked it.
with

deterministic_edges as (

    select * from {{ ref('int_identity_edges__deterministic') }}

),

probabilistic_edges as (

    select * from {{ ref('int_identity_edges__probabilistic') }}
    where match_band = 'auto_link'

),

steward_overrides as (

    select * from {{ ref('int_steward_overrides') }}

),

evidence as (

    select
        record_key_a,
        record_key_b,
        rule_name,
        confidence
    from deterministic_edges
    union all
    select
        record_key_a,
        record_key_b,
        'splink_model' as rule_name,
        -- Below every rule: when the guard must cut, model links go first.
        {{ var('model_edge_confidence_scale') }} * match_probability as confidence
    from probabilistic_edges
    union all
    select
        record_key_a,
        record_key_b,
        'steward_must_link' as rule_name,
        {{ var('steward_must_link_confidence') }} as confidence
    from steward_overrides
    where override_type = 'must_link'

),

final as (

    select
        record_key_a,
        record_key_b,
        max(confidence) as confidence,
        {{ sorted_listagg('rule_name', "','") }} as rule_names
    from evidence
    where not exists (
            select 1
            from steward_overrides
            where
                steward_overrides.override_type = 'cannot_link'
                and steward_overrides.record_key_a = evidence.record_key_a
                and steward_overrides.record_key_b = evidence.record_key_b
        )
    group by record_key_a, record_key_b

)

select * from final
