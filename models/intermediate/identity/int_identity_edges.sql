-- The edges clustering joins records over, one row per record pair: every
-- deterministic rule that linked the pair and the model's auto-links. A
-- pair's confidence is its strongest evidence; the over-merge guard cuts the
-- weakest edges of a cluster first.
with

deterministic_edges as (

    select * from {{ ref('int_identity_edges__deterministic') }}

),

probabilistic_edges as (

    select * from {{ ref('int_identity_edges__probabilistic') }}
    where match_band = 'auto_link'

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
        {{ var('model_edge_confidence_scale', 0.8) }} * match_probability as confidence
    from probabilistic_edges

),

final as (

    select
        record_key_a,
        record_key_b,
        max(confidence) as confidence,
        {{ dbt.listagg('rule_name', "','", "order by rule_name") }} as rule_names
    from evidence
    group by record_key_a, record_key_b

)

select * from final
