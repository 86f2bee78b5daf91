-- Stewards' must-link and cannot-link decisions as record-key pairs, the
-- smaller key first (as edges are). A later decision on the same pair
-- replaces an earlier one.
with

overrides as (

    select * from {{ ref('steward_overrides') }}

),

keyed as (

    select
        override_type,
        reason,
        decided_by,
        decided_on,
        source_table_a || ':' || source_record_id_a as key_a,
        source_table_b || ':' || source_record_id_b as key_b
    from overrides

),

ordered as (

    select
        override_type,
        reason,
        decided_by,
        decided_on,
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
            order by ordered.decided_on desc, ordered.override_type asc
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
        decided_on
    from latest
    where decision_rank = 1

)

select * from final
