{#
    Clusters of identity records over accepted edges, with the over-merge
    guard (docs/architecture.md, "Clustering and the over-merge guard").

    1. Connected components over all edges.
    2. A component cannot be one person when two of its records have
       different generational suffixes (Jr. and Sr.), birth dates further
       apart than a typo, or first names that cannot be one person's
       (macros/matching/record_conflicts.sql), or when it
       holds more distinct emails, phones or loyalty ids, or more records,
       than one person has.
    3. Each such component loses its weakest edges (those at its lowest
       confidence) and only its records are re-clustered; repeat up to
       `max_rounds` times. A component still in conflict then is left whole
       and flagged for a steward.

    `edges`: record_key_a, record_key_b, confidence. `records`:
    int_identity_records. Writes `output` (node, component_id) and
    `output`__guard (component_id, guard_round, reason) for every component
    the guard acted on or flagged; returns the number of guard rounds used.
#}
{% macro build_guarded_clusters(
    edges, records, name_equivalents, output, max_rounds=4, cannot_links=none, cannot_link_max_rounds=16
) %}
    {%- set live_edges = output ~ '__live_edges' -%}
    {%- set nodes = output ~ '__nodes' -%}
    {%- set conflicted = output ~ '__conflicted' -%}
    {%- set sub_nodes = output ~ '__sub_nodes' -%}
    {%- set sub_edges = output ~ '__sub_edges' -%}
    {%- set sub_output = output ~ '__sub_labels' -%}
    {%- set guard_log = output ~ '__guard' -%}
    {%- set swap = output ~ '__swap' -%}
    {% do replace_table_as(nodes, 'select record_key as node from ' ~ records) %}
    {% do replace_table_as(live_edges, 'select record_key_a as node_a, record_key_b as node_b, confidence from '
        ~ edges ~ ' where record_key_a in (select node from ' ~ nodes ~ ') and record_key_b in (select node from ' ~ nodes ~ ')'
    ) %}
    {% do compute_connected_components(live_edges, nodes, output) %}
    {#- The components before any cut: what is independent of what. -#}
    {% do replace_table_as(output ~ '__components', 'select * from ' ~ output) %}
    {% do replace_empty_table(guard_log, [
        ('component_id', dbt.type_string()), ('guard_round', dbt.type_int()),
        ('reason', dbt.type_string()), ('is_resolved', dbt.type_boolean()),
    ]) %}
    {%- set state = namespace(done=false, rounds=0) -%}
    {%- for guard_round in range(1, max_rounds + 2) if not state.done -%}
        {#- After the first round only the components just clustered again can
            hold a conflict: every other one was found free of them and kept. -#}
        {%- set checked = output if guard_round == 1 else
            '(select * from ' ~ output ~ ' where node in (select node from ' ~ sub_nodes ~ '))' -%}
        {% do replace_table_as(conflicted, cluster_conflicts_sql(checked, records, name_equivalents, conflicted)) %}
        {%- set found = run_query('select count(*) from ' ~ conflicted).columns[0].values()[0] -%}
        {%- if found == 0 -%}
            {%- set state.done = true -%}
        {%- elif guard_round > max_rounds -%}
            {% do run_query(
                'insert into ' ~ guard_log ~ ' select component_id, ' ~ guard_round
                ~ ', reason, false from ' ~ conflicted
            ) %}
            {%- set state.done = true -%}
        {%- else -%}
            {%- set state.rounds = guard_round -%}
            {% do run_query(
                'insert into ' ~ guard_log ~ ' select component_id, ' ~ guard_round
                ~ ', reason, true from ' ~ conflicted
            ) %}
            {% do cut_weakest_and_recluster(output, live_edges, conflicted) %}
        {%- endif -%}
    {%- endfor -%}
    {%- if cannot_links is not none -%}
        {% do separate_cannot_links(output, live_edges, cannot_links, guard_log, cannot_link_max_rounds) %}
    {%- endif -%}
    {%- for work_table in [live_edges, nodes, conflicted, sub_nodes, sub_edges, sub_output, swap] -%}
        {% do run_query('drop table if exists ' ~ work_table) %}
    {%- endfor -%}
    {{ return(state.rounds) }}
{% endmacro %}

{#
    Cut the weakest edges of the `conflicted` components (component_id) and
    re-cluster only their records; `labels` and `live_edges` are updated.
#}
{% macro cut_weakest_and_recluster(labels, live_edges, conflicted) %}
    {%- set swap = labels ~ '__swap' -%}
    {% do replace_table_as(swap, weakest_edges_cut_sql(labels, live_edges, conflicted, swap)) %}
    {% do replace_table_as(live_edges, 'select * from ' ~ swap) %}
    {% do recluster_components(labels, live_edges, conflicted) %}
{% endmacro %}

{#
    After edges of the `conflicted` components were cut: their records are
    clustered again over the edges left; every other label stays.
#}
{% macro recluster_components(labels, live_edges, conflicted) %}
    {%- set sub_nodes = labels ~ '__sub_nodes' -%}
    {%- set sub_edges = labels ~ '__sub_edges' -%}
    {%- set sub_output = labels ~ '__sub_labels' -%}
    {%- set swap = labels ~ '__swap' -%}
    {% do replace_table_as(sub_nodes, 'select labels.node from ' ~ labels
        ~ ' as labels inner join ' ~ conflicted ~ ' as conflicted on labels.component_id = conflicted.component_id'
    ) %}
    {% do replace_table_as(sub_edges, 'select node_a, node_b from ' ~ live_edges
        ~ ' where node_a in (select node from ' ~ sub_nodes ~ ')'
    ) %}
    {% do compute_connected_components(sub_edges, sub_nodes, sub_output) %}
    {% do replace_table_as(swap, 'select labels.node, labels.component_id from ' ~ labels
        ~ ' as labels where not exists (select 1 from ' ~ sub_nodes ~ ' as sub where sub.node = labels.node)'
        ~ ' union all select node, component_id from ' ~ sub_output
    ) %}
    {% do replace_table_as(labels, 'select * from ' ~ swap) %}
    {#- sub_nodes stays: the guard's next round checks those records only. -#}
    {%- for work_table in [sub_edges, sub_output] -%}
        {% do run_query('drop table if exists ' ~ work_table) %}
    {%- endfor -%}
{% endmacro %}

{% macro cluster_conflicts_sql(labels, records, name_equivalents, output) -%}
    with

    members as (

        select
            labels.component_id,
            records.record_key,
            records.first_name_normalized,
            records.first_name_canonical,
            records.last_name_normalized,
            records.name_suffix_inferred as name_suffix,
            records.date_of_birth_normalized,
            records.email_token,
            records.phone_token,
            records.loyalty_id
        from {{ labels }} as labels
        inner join {{ records }} as records on labels.node = records.record_key
        where labels.component_id in (
            select component_id from {{ labels }}
            group by component_id
            having count(*) > 1
        )

    ),

    component_sizes as (

        select
            component_id,
            count(*) as records,
            count(distinct email_token) as emails,
            count(distinct phone_token) as phones,
            count(distinct loyalty_id) as loyalty_ids
        from members
        group by component_id

    ),

    too_many as (

        select
            component_id,
            case
                when records > {{ var('guard_max_records') }} then 'too_many_records'
                when emails > {{ var('guard_max_emails') }} then 'too_many_emails'
                when phones > {{ var('guard_max_phones') }} then 'too_many_phones'
                else 'too_many_loyalty_ids'
            end as reason
        from component_sizes
        where
            records > {{ var('guard_max_records') }}
            or emails > {{ var('guard_max_emails') }}
            or phones > {{ var('guard_max_phones') }}
            or loyalty_ids > {{ var('guard_max_loyalty_ids') }}

    ),

    contradicting_pairs as (

        select
            member_a.component_id,
            max(case
                when {{ suffix_conflict('member_a.name_suffix', 'member_b.name_suffix') }}
                    then 'suffix_conflict'
            end) as suffix_reason,
            max(case
                when {{ dob_conflict('member_a.date_of_birth_normalized', 'member_b.date_of_birth_normalized') }}
                    then 'date_of_birth_conflict'
            end) as dob_reason,
            max(case when {{ first_name_conflict_of_members() }} then 'first_name_conflict' end)
                as first_name_reason
        from members as member_a
        inner join members as member_b
            on
                member_a.component_id = member_b.component_id
                and member_a.record_key < member_b.record_key
        left join {{ name_equivalents }} as first_name_equivalents
            on
                member_a.first_name_normalized = first_name_equivalents.first_name_a
                and member_b.first_name_normalized = first_name_equivalents.first_name_b
        where
            not exists (select 1 from too_many where too_many.component_id = member_a.component_id)
            and (
                {{ suffix_conflict('member_a.name_suffix', 'member_b.name_suffix') }}
                or {{ dob_conflict('member_a.date_of_birth_normalized', 'member_b.date_of_birth_normalized') }}
                or {{ first_name_conflict_of_members() }}
            )
        group by member_a.component_id

    )

    select
        component_id,
        reason
    from too_many
    union all
    select
        component_id,
        coalesce(suffix_reason, dob_reason, first_name_reason) as reason
    from contradicting_pairs
{%- endmacro %}

{% macro first_name_conflict_of_members() -%}
    {%- if var('guard_first_name_conflicts') -%}
        {{ first_name_conflict(
            'member_a.first_name_canonical', 'member_b.first_name_canonical',
            'member_a.last_name_normalized', 'member_b.last_name_normalized',
            'first_name_equivalents.first_name_a is not null',
        ) }}
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{% macro weakest_edges_cut_sql(labels, live_edges, conflicted, output) -%}
    with

    component_edges as (

        select
            edges.node_a,
            edges.node_b,
            edges.confidence,
            labels.component_id,
            min(edges.confidence) over (partition by labels.component_id) as weakest
        from {{ live_edges }} as edges
        inner join {{ labels }} as labels on edges.node_a = labels.node
        where
            labels.component_id in (select component_id from {{ conflicted }})
            -- a steward's must-link is never cut
            and edges.confidence < {{ var('steward_must_link_confidence') }}

    ),

    cut as (

        select
            node_a,
            node_b
        from component_edges
        where confidence = weakest

    )

    select edges.*
    from {{ live_edges }} as edges
    left join cut
        on edges.node_a = cut.node_a and edges.node_b = cut.node_b
    where cut.node_a is null
{%- endmacro %}
