-- Stewards' must-link and cannot-link decisions as record-key pairs, the
-- smaller key first (as edges are): those versioned with the code (the
-- steward_overrides seed) and those taken in the app's review queue
-- (stewardship.steward_decisions). A later decision on the same pair
-- replaces an earlier one, wherever either was taken.
with

seeded_overrides as (

    select * from {{ ref('steward_overrides') }}

),

app_decisions as (

    select * from {{ source('stewardship', 'steward_decisions') }}

),

overrides as (

    select
        override_type,
        source_table_a,
        source_record_id_a,
        source_table_b,
        source_record_id_b,
        reason,
        decided_by,
        cast(decided_on as {{ dbt.type_timestamp() }}) as decided_at,
        'seed' as decision_source
    from seeded_overrides
    union all
    select
        override_type,
        source_table_a,
        source_record_id_a,
        source_table_b,
        source_record_id_b,
        reason,
        decided_by,
        decided_at,
        'app' as decision_source
    from app_decisions

),

keyed as (

    select
        override_type,
        reason,
        decided_by,
        decided_at,
        decision_source,
        source_table_a || ':' || source_record_id_a as key_a,
        source_table_b || ':' || source_record_id_b as key_b
    from overrides

),

ordered as (

    select
        override_type,
        reason,
        decided_by,
        decided_at,
        decision_source,
        case when key_a < key_b then key_a else key_b end as record_key_a,
        case when key_a < key_b then key_b else key_a end as record_key_b
    from keyed
    where key_a <> key_b

),

latest as (

    select
        ordered.*,
        row_number() over (
            partition by ordered.record_key_a, ordered.record_key_b
            order by ordered.decided_at desc, ordered.override_type asc
        ) as decision_rank
    from ordered

),

final as (

    select
        override_type,
        record_key_a,
        record_key_b,
        reason,
        decided_by,
        cast(decided_at as date) as decided_on,
        decided_at,
        decision_source
    from latest
    where decision_rank = 1

)

select * from final
