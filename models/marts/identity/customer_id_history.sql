-- Every customer id ever issued and the id it lives on as today: look up any
-- id a downstream system holds and re-key it in one step.
with

registry as (

    select * from {{ ref('int_customer_id_registry') }}

),

final as (

    select
        customer_id,
        current_customer_id,
        status,
        cast(changed_on as {{ dbt.type_timestamp() }}) as changed_at,
        issued_on,
        merged_into_customer_id
    from registry

)

select * from final
