{#
    A steward's cannot-link holds against every rule: cut the weakest path.

    While a component holds both records of a cannot-link pair (a, b), one
    pair per component per round:
    1. every record of the component learns how strongly it is tied to a and
       to b: the strength of its strongest path to each, where a path is as
       strong as its weakest edge (a maximin propagation, repeated as
       create-table-as-select statements until nothing changes);
    2. each record goes with the side it is tied to more strongly (a tie
       goes to a);
    3. the edges between the two sides are cut (never a steward's
       must-link) and the component's records are re-clustered.
    The two sides are what a maximum spanning tree of the component splits
    into when its weakest edge between a and b is removed: the least
    evidence is given up, and nothing else of the component is touched.

    A pair still joined after `max_rounds` rounds is joined only by
    must-links (the stewards contradict each other): it is logged unresolved
    in the guard log, so its cluster is flagged for review.
#}
{% macro separate_cannot_links(labels, live_edges, cannot_links, guard_log, max_rounds) %}
    {%- set pairs = labels ~ '__cannot_link_pairs' -%}
    {%- set conflicted = labels ~ '__cannot_link' -%}
    {%- set strengths = labels ~ '__cannot_link_strengths' -%}
    {%- set state = namespace(done=false) -%}
    {%- for cut_round in range(1, max_rounds + 2) if not state.done -%}
        {% do replace_table_as(pairs, cannot_link_pairs_sql(labels, cannot_links, pairs)) %}
        {%- set found = run_query('select count(*) from ' ~ pairs).columns[0].values()[0] -%}
        {%- if found == 0 -%}
            {%- set state.done = true -%}
        {%- else -%}
            {% do replace_table_as(conflicted, "select component_id, 'cannot_link' as reason from " ~ pairs
            ) %}
            {% do run_query(
                'insert into ' ~ guard_log ~ ' select component_id, ' ~ (100 + cut_round)
                ~ ', reason, ' ~ ('false' if cut_round > max_rounds else 'true') ~ ' from ' ~ conflicted
            ) %}
            {%- if cut_round > max_rounds -%}
                {%- set state.done = true -%}
            {%- else -%}
                {% do compute_path_strengths(labels, live_edges, pairs, strengths) %}
                {% do cut_between_sides_and_recluster(labels, live_edges, conflicted, strengths) %}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for work_table in [pairs, conflicted, strengths] -%}
        {% do run_query('drop table if exists ' ~ work_table) %}
    {%- endfor -%}
{% endmacro %}

{# One cannot-link pair per component that still holds both its records. #}
{% macro cannot_link_pairs_sql(labels, cannot_links, output) -%}
    with

    joined_pairs as (

        select
            label_a.component_id,
            cannot_links.record_key_a,
            cannot_links.record_key_b,
            row_number() over (
                partition by label_a.component_id
                order by cannot_links.record_key_a, cannot_links.record_key_b
            ) as pair_rank
        from {{ cannot_links }} as cannot_links
        inner join {{ labels }} as label_a on cannot_links.record_key_a = label_a.node
        inner join {{ labels }} as label_b on cannot_links.record_key_b = label_b.node
        where label_a.component_id = label_b.component_id

    )

    select
        component_id,
        record_key_a,
        record_key_b
    from joined_pairs
    where pair_rank = 1
{%- endmacro %}

{#
    strengths (node, side, strength): for each record of a conflicted
    component, its strongest path to the pair's record on `side` ('a', 'b').
#}
{% macro compute_path_strengths(labels, live_edges, pairs, output, max_rounds=64) %}
    {%- set both_ways = output ~ '__edges' -%}
    {%- set work = output ~ '__round' -%}
    {% do replace_table_as(
        both_ways,
        'select edges.node_a as node, edges.node_b as neighbour, edges.confidence from ' ~ live_edges
        ~ ' as edges inner join ' ~ labels ~ ' as labels on edges.node_a = labels.node'
        ~ ' where labels.component_id in (select component_id from ' ~ pairs ~ ')'
        ~ ' union all select edges.node_b as node, edges.node_a as neighbour, edges.confidence from '
        ~ live_edges ~ ' as edges inner join ' ~ labels ~ ' as labels on edges.node_b = labels.node'
        ~ ' where labels.component_id in (select component_id from ' ~ pairs ~ ')'
    ) %}
    {% do replace_table_as(
        output,
        "select record_key_a as node, 'a' as side, cast(1e9 as double) as strength from " ~ pairs
        ~ " union all select record_key_b as node, 'b' as side, cast(1e9 as double) as strength from " ~ pairs
    ) %}
    {%- set state = namespace(converged=false) -%}
    {%- for round in range(max_rounds) if not state.converged -%}
        {% do replace_table_as(work, path_strengths_round_sql(output, both_ways, work)) %}
        {%- set changed = run_query(
            'select count(*) from ' ~ work ~ ' as next_round left join ' ~ output
            ~ ' as this_round on next_round.node = this_round.node and next_round.side = this_round.side'
            ~ ' where this_round.node is null or next_round.strength > this_round.strength'
        ).columns[0].values()[0] -%}
        {% do replace_table_as(output, 'select * from ' ~ work) %}
        {%- if changed == 0 -%}
            {%- set state.converged = true -%}
        {%- endif -%}
    {%- endfor -%}
    {% do run_query('drop table if exists ' ~ work) %}
    {% do run_query('drop table if exists ' ~ both_ways) %}
    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error(
            'path strengths from cannot-link pairs did not converge in ' ~ max_rounds ~ ' rounds'
        ) }}
    {%- endif -%}
{% endmacro %}

{% macro path_strengths_round_sql(strengths, both_ways, output) -%}
    with

    candidates as (

        select
            node,
            side,
            strength
        from {{ strengths }}
        union all
        select
            edges.neighbour as node,
            strengths.side,
            least(strengths.strength, edges.confidence) as strength
        from {{ strengths }} as strengths
        inner join {{ both_ways }} as edges on strengths.node = edges.node

    )

    select
        node,
        side,
        max(strength) as strength
    from candidates
    group by node, side
{%- endmacro %}

{#
    Cut the edges of the conflicted components whose records went to
    different sides (never a must-link), then re-cluster those components.
#}
{% macro cut_between_sides_and_recluster(labels, live_edges, conflicted, strengths) %}
    {%- set sides = strengths ~ '__sides' -%}
    {%- set swap = labels ~ '__swap' -%}
    {% do replace_table_as(sides, 'select node, '
        ~ "case when max(case when side = 'a' then strength end) >= coalesce(max(case when side = 'b' then strength end), 0) then 'a' else 'b' end as side"
        ~ ' from ' ~ strengths ~ ' group by node'
    ) %}
    {% do replace_table_as(swap, 'select edges.* from ' ~ live_edges ~ ' as edges'
        ~ ' left join ' ~ sides ~ ' as side_a on edges.node_a = side_a.node'
        ~ ' left join ' ~ sides ~ ' as side_b on edges.node_b = side_b.node'
        ~ ' where side_a.side is null or side_b.side is null or side_a.side = side_b.side'
        ~ ' or edges.confidence >= ' ~ var('steward_must_link_confidence')
    ) %}
    {% do replace_table_as(live_edges, 'select * from ' ~ swap) %}
    {% do recluster_components(labels, live_edges, conflicted) %}
    {% do run_query('drop table if exists ' ~ sides) %}
{% endmacro %}
