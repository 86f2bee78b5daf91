-- Splink's scored pairs given a meaning: an auto-link band (accepted as
-- edges), a review band (for a steward), and nothing below. Pairs the
-- deterministic rules already link are left out: they are decided. A pair
-- whose records show two people (different first names that no typo,
-- nickname or swap explains, Jr. against Sr., two complete birth dates
-- further apart than a typo, a suffix on one side without an equal birth
-- date), or that agrees on what a household shares while the first name
-- that could tell two members apart is missing or only alike (with no equal
-- birth date), is never auto-linked, however much else agrees: a household
-- shares an address, a surname and a phone. A missing value, a typo or a
-- changed surname stops nothing by itself: the model weighs them.
-- Incremental: a build recomputes the pairs of the records its changes reach
-- (int_identity_changes), whose scores, records or deterministic edges may
-- have changed, or every pair when scoring scored all of them; the pre-hook
-- deletes those pairs first. The auto-link threshold is the model's own
-- (int_auto_link_thresholds), fixed per model version, and a new model
-- re-scores in full; a change of the review threshold or a pinned auto-link
-- threshold needs a full refresh.
-- depends_on: {{ ref('int_identity_changes') }}
{%- set changes_only = '' %}
{%- if is_incremental() %}
    {%- set changes_only = 'where ' ~ scored_in_full_this_run()
        ~ reached_by_changes_only('record_key_a', keyword='or')
        ~ reached_by_changes_only('record_key_b', keyword='or') %}
{%- endif %}
with

scored_pairs as (

    {{ scored_pairs_select(changes_only) }}

),

identity_records as (

    select * from {{ ref('int_identity_records') }}

),

first_name_equivalents as (

    select * from {{ ref('int_first_name_equivalents') }}

),

auto_link_thresholds as (

    select * from {{ ref('int_auto_link_thresholds') }}

),

deterministic_edges as (

    select * from {{ ref('int_identity_edges__deterministic') }}

),

undecided as (

    select scored_pairs.*
    from scored_pairs
    left join deterministic_edges
        on
            scored_pairs.record_key_a = deterministic_edges.record_key_a
            and scored_pairs.record_key_b = deterministic_edges.record_key_b
    where deterministic_edges.record_key_a is null

),

-- Each undecided pair with what its records share by name and household key.
undecided_records as (

    select
        undecided.record_key_a,
        undecided.record_key_b,
        record_a.first_name_normalized as first_name_a,
        record_b.first_name_normalized as first_name_b,
        case
            when record_a.address_token = record_b.address_token then record_a.address_token
        end as shared_address_token,
        case
            when record_a.phone_token = record_b.phone_token then record_a.phone_token
        end as shared_phone_token
    from undecided
    inner join identity_records as record_a
        on undecided.record_key_a = record_a.record_key
    inner join identity_records as record_b
        on undecided.record_key_b = record_b.record_key

),

-- A nickname with a typo (kahty for kathy, a form of katherine) is no other
-- name: one edit from a name the nickname seed relates to the other's.
nickname_typos as (

    -- Two equality joins, one for each side's name as the seed's form: an
    -- `or` in the join condition could not be hashed.
    select
        undecided_records.record_key_a,
        undecided_records.record_key_b
    from undecided_records
    inner join first_name_equivalents
        on undecided_records.first_name_b = first_name_equivalents.first_name_b
    where {{ one_edit_apart(
        'first_name_equivalents.first_name_a', 'undecided_records.first_name_a'
    ) }}
    union
    select
        undecided_records.record_key_a,
        undecided_records.record_key_b
    from undecided_records
    inner join first_name_equivalents
        on undecided_records.first_name_a = first_name_equivalents.first_name_b
    where {{ one_edit_apart(
        'first_name_equivalents.first_name_a', 'undecided_records.first_name_b'
    ) }}

),

-- How many first names all records at a shared address, or with a shared
-- phone, give: one is a household of one, where a record without a first
-- name cannot be anybody else.
address_first_names as (

    select
        address_token,
        count(distinct first_name_canonical) as first_names
    from identity_records
    where address_token in (select undecided_records.shared_address_token from undecided_records)
    group by address_token

),

phone_first_names as (

    select
        phone_token,
        count(distinct first_name_canonical) as first_names
    from identity_records
    where phone_token in (select undecided_records.shared_phone_token from undecided_records)
    group by phone_token

),

households_of_one as (

    select
        undecided_records.record_key_a,
        undecided_records.record_key_b
    from undecided_records
    left join address_first_names
        on undecided_records.shared_address_token = address_first_names.address_token
    left join phone_first_names
        on undecided_records.shared_phone_token = phone_first_names.phone_token
    where
        coalesce(undecided_records.shared_address_token, undecided_records.shared_phone_token)
        is not null
        and coalesce(address_first_names.first_names, 1) <= 1
        and coalesce(phone_first_names.first_names, 1) <= 1

),

-- Each check on its own, so that a pair carries the names of the checks that
-- stopped it (for a steward) and evaluation can weigh each check's cost.
checks as (

    select
        undecided.record_key_a,
        undecided.record_key_b,
        undecided.match_weight,
        undecided.match_probability,
        undecided.model_version,
        {%- if var('match_probability_auto_link') is none %}
            auto_link_thresholds.auto_link_threshold,
        {%- else %}
            {{ var('match_probability_auto_link') }} as auto_link_threshold,
        {%- endif %}
        {{ first_name_conflict(
            'record_a.first_name_canonical', 'record_b.first_name_canonical',
            'record_a.last_name_normalized', 'record_b.last_name_normalized',
            '(first_name_equivalents.first_name_a is not null'
            ~ ' or nickname_typos.record_key_a is not null)',
            'record_a.first_name_normalized', 'record_b.first_name_normalized',
        ) }} as has_first_name_conflict,
        {{ dob_conflict(
            'record_a.date_of_birth_normalized', 'record_b.date_of_birth_normalized'
        ) }} as has_birth_date_conflict,
        -- Suffixes as given, and as the records' own keys tell them
        -- (name_suffix_inferred).
        {{ suffix_conflict('record_a.name_suffix', 'record_b.name_suffix') }}
        or {{ suffix_conflict(
            'record_a.name_suffix_inferred', 'record_b.name_suffix_inferred'
        ) }} as has_suffix_conflict,
        {{ suffix_uncertain(
            'record_a.name_suffix_inferred', 'record_b.name_suffix_inferred',
            'record_a.date_of_birth_normalized', 'record_b.date_of_birth_normalized',
        ) }} as is_suffix_uncertain,
        {{ first_name_unverified(
            'record_a.first_name_canonical', 'record_b.first_name_canonical',
            'record_a.date_of_birth_normalized', 'record_b.date_of_birth_normalized',
        ) }}
        and households_of_one.record_key_a is null as is_first_name_unverified,
        {{ household_lookalike(
            'record_a', 'record_b',
            '(first_name_equivalents.first_name_a is not null'
            ~ ' or nickname_typos.record_key_a is not null)',
        ) }}
        -- Two names, each held by several records: a typo is held by one.
        and coalesce(
            undecided.first_name_records_a >= {{ var('household_name_min_records') }}
            and undecided.first_name_records_b >= {{ var('household_name_min_records') }},
            false
        ) as is_household_lookalike
    from undecided
    inner join identity_records as record_a
        on undecided.record_key_a = record_a.record_key
    inner join identity_records as record_b
        on undecided.record_key_b = record_b.record_key
    left join first_name_equivalents
        on
            record_a.first_name_normalized = first_name_equivalents.first_name_a
            and record_b.first_name_normalized = first_name_equivalents.first_name_b
    left join nickname_typos
        on
            undecided.record_key_a = nickname_typos.record_key_a
            and undecided.record_key_b = nickname_typos.record_key_b
    left join households_of_one
        on
            undecided.record_key_a = households_of_one.record_key_a
            and undecided.record_key_b = households_of_one.record_key_b
    left join auto_link_thresholds
        on undecided.model_version = auto_link_thresholds.model_version

),

checked as (

    select
        record_key_a,
        record_key_b,
        match_weight,
        match_probability,
        model_version,
        auto_link_threshold,
        has_first_name_conflict
        or has_birth_date_conflict
        or has_suffix_conflict
        or is_suffix_uncertain
        or is_first_name_unverified
        or is_household_lookalike as is_contradicted,
        nullif(concat_ws(
            ',',
            case when has_first_name_conflict then 'first_name_conflict' end,
            case when has_birth_date_conflict then 'birth_date_conflict' end,
            case when has_suffix_conflict then 'suffix_conflict' end,
            case when is_suffix_uncertain then 'suffix_uncertain' end,
            case when is_first_name_unverified then 'first_name_unverified' end,
            case when is_household_lookalike then 'household_lookalike' end
        ), '') as contradicted_by
    from checks

),

final as (

    select
        record_key_a,
        record_key_b,
        match_weight,
        match_probability,
        model_version,
        auto_link_threshold,
        is_contradicted,
        contradicted_by,
        case
            -- A model with no threshold within the target links nothing
            -- unattended: its pairs all go to review.
            when
                match_probability >= auto_link_threshold
                and not is_contradicted
                then 'auto_link'
            else 'review'
        end as match_band
    from checked
    where match_probability >= {{ var('match_probability_review') }}

)

select * from final
