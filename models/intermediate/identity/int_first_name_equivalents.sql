-- Pairs of first names that may name one person, from the nickname seed: a
-- nickname and each formal name it stands for (kathy: kathleen, katherine),
-- and two forms of one formal name (kathy and kate). Both orders are listed,
-- so a lookup needs one equality join.
with

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

forms as (

    select
        nickname as first_name,
        canonical_name
    from nicknames
    union all
    select distinct
        canonical_name as first_name,
        canonical_name
    from nicknames

),

final as (

    select distinct
        forms.first_name as first_name_a,
        other_forms.first_name as first_name_b
    from forms
    inner join forms as other_forms
        on
            forms.canonical_name = other_forms.canonical_name
            and forms.first_name <> other_forms.first_name

)

select * from final
