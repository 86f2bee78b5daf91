-- The auto-link threshold of each Splink model, chosen from the model's own
-- estimate of how many of the pairs it would link are false. Splink's match
-- probability is the model's posterior that a pair is one person, so among
-- the undecided pairs (those no deterministic rule links) scored at or above
-- a threshold t, sum(1 - match_probability) is the number of false links the
-- model expects, and that sum over the count its false-link rate. The
-- threshold is the least match probability of an undecided pair (from the
-- review threshold up) at which that rate, over the pairs at or above it,
-- stays within var('auto_link_max_false_link_rate'). No grid of candidates:
-- its steps left links on the table (one step went from 0.995 to 0.999,
-- and on names and birth dates alone that cost a third of the recall).
-- It is estimated once per model version, from the full scoring that
-- follows training: a model's threshold does not drift from day to day.
-- A new target rate estimates it again (the row is replaced by model
-- version). The estimate is as good as the model's calibration;
-- `c360 evaluate` sets it beside the measured rate.
{{
    config(
        unique_key='model_version',
    )
}}
with

scored_pairs as (

    {{ scored_pairs_select() }}

),

deterministic_edges as (

    select distinct
        record_key_a,
        record_key_b
    from {{ ref('int_identity_edges__deterministic') }}

),

-- The models whose threshold is already chosen, for today's target.
estimated_models as (

    {%- if is_incremental() %}
        select model_version from {{ this }}
        where max_false_link_rate = {{ var('auto_link_max_false_link_rate') }}
    {%- else %}
        select cast(null as {{ dbt.type_string() }}) as model_version
        where false
    {%- endif %}

),

undecided as (

    select
        scored_pairs.model_version,
        scored_pairs.match_probability
    from scored_pairs
    left join deterministic_edges
        on
            scored_pairs.record_key_a = deterministic_edges.record_key_a
            and scored_pairs.record_key_b = deterministic_edges.record_key_b
    left join estimated_models
        on scored_pairs.model_version = estimated_models.model_version
    where
        deterministic_edges.record_key_a is null
        and scored_pairs.model_version is not null
        and estimated_models.model_version is null
        and scored_pairs.match_probability >= {{ var('match_probability_review') }}

),

-- At each probability, the pairs at or above it (ties together, by the
-- range frame) and the false links the model expects among them.
estimates as (

    select distinct
        model_version,
        match_probability as auto_link_threshold,
        count(*) over tail_from_threshold as pairs_at_or_above,
        sum(1 - match_probability) over tail_from_threshold as expected_false_links
    from undecided
    window tail_from_threshold as (
        partition by model_version
        order by match_probability desc
        range between unbounded preceding and current row
    )

),

within_target as (

    select
        model_version,
        auto_link_threshold,
        pairs_at_or_above,
        expected_false_links / pairs_at_or_above as estimated_false_link_rate,
        row_number() over (
            partition by model_version order by auto_link_threshold
        ) as rank_from_lowest
    from estimates
    where expected_false_links / pairs_at_or_above <= {{ var('auto_link_max_false_link_rate') }}

),

final as (

    select
        model_version,
        auto_link_threshold,
        estimated_false_link_rate,
        pairs_at_or_above as estimated_on_pairs,
        {{ var('auto_link_max_false_link_rate') }} as max_false_link_rate,
        {{ run_date_literal() }} as estimated_on
    from within_target
    where rank_from_lowest = 1

)

select * from final
