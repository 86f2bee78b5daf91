-- A nickname that stands for one name only is replaced by it for comparison
-- (bob: robert); an ambiguous one (chris) has no row and stays as it is.
with

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

final as (

    select
        nickname,
        min(canonical_name) as canonical_name
    from nicknames
    group by nickname
    having count(*) = 1

)

select * from final
