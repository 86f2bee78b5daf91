-- The golden record, long form: for each customer and attribute the value
-- survivorship picks (seed survivorship_rules), with the record, source and
-- time it came from. Only sources the rule lists are eligible.
with

candidates as (

    select * from {{ ref('int_customer_attribute_candidates') }}
    {{ touched_customers_only('customer_id') }}

),

rules as (

    select * from {{ ref('survivorship_rules') }}

),

eligible as (

    select
        candidates.*,
        rules.strategy,
        {{ dbt.position(
            "'|' || candidates.source_table || '|'", "'|' || rules.source_priority || '|'"
        ) }} as source_rank
    from candidates
    inner join rules on candidates.attribute_name = rules.attribute_name

),

-- Only the rule's sources vote, and only they can win.
voting as (

    select
        *,
        count(*) over (
            partition by customer_id, attribute_name, attribute_value
        ) as value_frequency
    from eligible
    where source_rank > 0

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, attribute_name
            order by
                case when strategy = 'source_priority' then source_rank end asc,
                case when strategy = 'most_frequent' then value_frequency end desc,
                case when strategy = 'most_complete' then filled_identity_fields end desc,
                record_updated_at desc,
                source_rank asc,
                record_key asc
        ) as survivor_rank
    from voting

),

final as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        source_table as attribute_source,
        record_updated_at as attribute_updated_at,
        record_key as attribute_record_key
    from ranked
    where survivor_rank = 1

)

select * from final
