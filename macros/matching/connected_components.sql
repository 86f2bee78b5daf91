{#
    Connected components of an undirected graph, in plain SQL statements run
    one after another until nothing changes: each round every node takes the
    smallest label among itself and its neighbours, then jumps to its label's
    label (pointer jumping), so long chains converge in a logarithmic number
    of rounds rather than one round per hop. Every statement is a
    create-table-as-select over the whole graph: set-based, no recursion, the
    same on DuckDB and Spark.

    `edges` is a relation with columns node_a, node_b; `nodes` one with column
    node (every node of the graph, isolated ones included). Writes the labels
    to `output` (node, component_id), where component_id is the smallest node
    of the component. Raises if the graph has not converged after
    `max_rounds` rounds, rather than returning half-joined components.
#}
{% macro compute_connected_components(edges, nodes, output, max_rounds=64) %}
    {%- set work = output ~ '__cc_round' -%}
    {%- set both_ways = output ~ '__cc_edges' -%}
    {% do replace_table_as(
        both_ways,
        'select node_a as node, node_b as neighbour from ' ~ edges
        ~ ' union all select node_b as node, node_a as neighbour from ' ~ edges
    ) %}
    {% do replace_table_as(output, 'select node, node as component_id from ' ~ nodes
    ) %}
    {%- set state = namespace(converged=false, rounds=0) -%}
    {%- for round in range(max_rounds) if not state.converged -%}
        {% do replace_table_as(work, connected_components_round_sql(output, both_ways, work)) %}
        {%- set changed = run_query(
            'select count(*) from ' ~ work ~ ' as next_round inner join ' ~ output
            ~ ' as this_round on next_round.node = this_round.node'
            ~ ' where next_round.component_id <> this_round.component_id'
        ).columns[0].values()[0] -%}
        {#- The next round's labels by a rename, not a copy of every label. -#}
        {% do run_query('drop table if exists ' ~ output) %}
        {% do rename_table(work, output.split('.')[-1]) %}
        {%- set state.rounds = round + 1 -%}
        {%- if changed == 0 -%}
            {%- set state.converged = true -%}
        {%- endif -%}
    {%- endfor -%}
    {% do run_query('drop table if exists ' ~ work) %}
    {% do run_query('drop table if exists ' ~ both_ways) %}
    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error(
            'connected components of ' ~ edges ~ ' did not converge in ' ~ max_rounds ~ ' rounds'
        ) }}
    {%- endif -%}
    {{ return(state.rounds) }}
{% endmacro %}

{% macro connected_components_round_sql(labels, both_ways, output) -%}
    with

    neighbour_minimum as (

        select
            edges.node,
            min(labels.component_id) as component_id
        from {{ both_ways }} as edges
        inner join {{ labels }} as labels on edges.neighbour = labels.node
        group by edges.node

    ),

    propagated as (

        select
            labels.node,
            case
                when neighbour_minimum.component_id < labels.component_id
                    then neighbour_minimum.component_id
                else labels.component_id
            end as component_id
        from {{ labels }} as labels
        left join neighbour_minimum on labels.node = neighbour_minimum.node

    )

    -- Pointer jumping: a label is itself a node, whose own label may be smaller.
    select
        propagated.node,
        case
            when jumped.component_id < propagated.component_id then jumped.component_id
            else propagated.component_id
        end as component_id
    from propagated
    inner join propagated as jumped on propagated.component_id = jumped.node
{%- endmacro %}
