-- What erasure and suppression removed from each day's deliveries, per
-- landing table: identity rows dropped (an erased record sent again, a
-- third party sending an erased email or phone) and activity rows whose link
-- to an erased record was cut. Counts only.
with

suppression_log as (

    select * from {{ source('privacy_actions', 'suppression_log') }}

),

final as (

    select
        run_date,
        table_name,
        reason,
        cast(sum(rows_removed) as {{ dbt.type_bigint() }}) as rows_removed,
        cast(sum(rows_unlinked) as {{ dbt.type_bigint() }}) as rows_unlinked
    from suppression_log
    group by run_date, table_name, reason

)

select * from final
