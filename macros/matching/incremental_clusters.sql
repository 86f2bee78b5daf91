{#
    Re-cluster only what the day touched (docs/customer_ids.md, "Daily runs").

    The previous run's clusters (`previous`: record_key, component_id,
    cluster_id, features_hash, is_flagged_for_review) and edges (`edge_state`)
    are compared with today's. A record is touched when it is new, gone, its
    guard-relevant attributes changed (features_hash), or an edge at it
    appeared, disappeared or changed confidence. Components are independent,
    so only the components (before the guard) holding a touched record, plus
    the new records, are clustered again (`output`__sub_records); every other
    record keeps its cluster as it was. Replaces those records' rows of
    `output` (node, component_id, cluster_id, reclustered_on,
    is_flagged_for_review), deletes the rows of records gone, and saves
    today's edges as the next run's `edge_state`. `reclustered_on` is the
    run date that last clustered the record: a rerun of a date, which finds
    nothing new against the state the first run of that date left, still
    knows what it touched.

    With no previous state (the first run, or `full_recluster`), everything
    is clustered.
#}
{% macro build_incremental_clusters(edges, records, name_equivalents, cannot_links, previous, output) %}
    {%- set edge_state = output ~ '__edge_state' -%}
    {%- set today_edges = output ~ '__today_edges' -%}
    {%- set sub_records = output ~ '__sub_records' -%}
    {%- set labels = output ~ '__labels' -%}
    {%- set components = labels ~ '__components' -%}
    {%- set state_relation = existing_relation(edge_state) -%}
    {%- set has_state = previous is not none and state_relation is not none
        and not var('full_recluster') -%}
    {#- The cannot-links the last run clustered under: one added or withdrawn
        since touches its records, edge or none between them. -#}
    {%- set cannot_link_state = output ~ '__cannot_link_state' -%}
    {%- set cannot_link_state_relation = existing_relation(cannot_link_state)
        if cannot_links is not none else none -%}
    {% do replace_table_as(today_edges, 'select record_key_a, record_key_b, confidence from ' ~ edges
    ) %}
    {%- if has_state %}
        {% do replace_table_as(sub_records, touched_records_sql(
            today_edges, edge_state, records, previous, sub_records,
            cannot_links=cannot_links if cannot_link_state_relation is not none else none,
            cannot_link_state=cannot_link_state,
        )) %}
    {%- else %}
        {% do replace_table_as(sub_records, 'select record_key from ' ~ records) %}
    {%- endif %}
    {% do build_guarded_clusters(
        edges=today_edges,
        records='(select * from ' ~ records ~ ' where record_key in (select record_key from ' ~ sub_records ~ '))',
        name_equivalents=name_equivalents,
        output=labels,
        max_rounds=var('guard_max_rounds'),
        cannot_links=cannot_links,
        cannot_link_max_rounds=var('cannot_link_max_rounds'),
    ) %}
    {%- set output_relation = existing_relation(output) -%}
    {#- The labels of the records not clustered again stay where they are: only
        the re-clustered records' rows, and those of records gone, are replaced. -#}
    {%- if has_state and output_relation is not none %}
        {% do run_delete_rows(
            output, 'node in (select record_key from ' ~ sub_records
            ~ ') or not exists (select 1 from ' ~ records ~ ' as records where records.record_key = labelled.node)',
            alias='labelled'
        ) %}
        {% do run_query('insert into ' ~ output ~ ' ' ~ reclustered_labels_sql(labels, components)) %}
    {%- else %}
        {% do replace_table_as(output, reclustered_labels_sql(labels, components)) %}
    {%- endif %}
    {#- Today's edges become the next run's state by a rename, not a copy of every edge. -#}
    {% do run_query('drop table if exists ' ~ edge_state) %}
    {% do rename_table(today_edges, edge_state.split('.')[-1]) %}
    {%- if cannot_links is not none %}
        {% do replace_table_as(
            cannot_link_state, 'select record_key_a, record_key_b from ' ~ cannot_links ~ ' as cannot_links'
        ) %}
    {%- endif %}
    {#- sub_records stays: the model reads it, to write those records' rows only. -#}
    {%- for work_table in [components] -%}
        {% do run_query('drop table if exists ' ~ work_table) %}
    {%- endfor -%}
{% endmacro %}

{% macro reclustered_labels_sql(labels, components) -%}
    with

    guarded as (

        select
            component_id,
            {{ dbt.bool_or('not is_resolved') }} as is_unresolved
        from {{ labels }}__guard
        group by component_id

    )

    select
        labels.node,
        components.component_id,
        labels.component_id as cluster_id,
        {{ run_date_literal() }} as reclustered_on,
        coalesce(guarded.is_unresolved, false) as is_flagged_for_review
    from {{ labels }} as labels
    inner join {{ components }} as components on labels.node = components.node
    left join guarded on labels.component_id = guarded.component_id
{%- endmacro %}

{#
    Pre-hook of int_identity_clusters: its rows of the records clustered
    again (`sub_records`) and of records gone are written again; the rest
    stay as they are.
#}
{% macro delete_reclustered_records() -%}
    {%- set records = ref('int_identity_records') -%}
    {%- if is_incremental() -%}
        {{ delete_rows(this,
            'clustered.record_key in (select record_key from ' ~ cluster_labels() ~ '__sub_records)'
            ~ ' or not exists (select 1 from ' ~ records ~ ' as records'
            ~ ' where records.record_key = clustered.record_key)',
            alias='clustered') }}
    {%- endif -%}
{%- endmacro %}

{#
    The label table int_identity_clusters keeps beside itself
    (build_incremental_clusters' `output`); its work tables add suffixes.
#}
{% macro cluster_labels() -%}
    {{ this.schema ~ '.' ~ this.identifier ~ '__labels' }}
{%- endmacro %}

{#- The relation a `schema.name` names, or none if it does not exist yet. -#}
{% macro existing_relation(name) -%}
    {{ return(adapter.get_relation(
        database=target_database(), schema=name.split('.')[0], identifier=name.split('.')[-1]
    )) }}
{%- endmacro %}

{#
    The pairs (record_key_a, record_key_b) in one of two relations and not the
    other, or in both but `changed_when` of them (`today`, `before`).
#}
{% macro changed_pairs(today, before, changed_when=none) -%}
    select
        coalesce(today.record_key_a, before.record_key_a) as record_key_a,
        coalesce(today.record_key_b, before.record_key_b) as record_key_b
    from {{ today }} as today
    full outer join {{ before }} as before
        on
            today.record_key_a = before.record_key_a
            and today.record_key_b = before.record_key_b
    where
        today.record_key_a is null
        or before.record_key_a is null
        {%- if changed_when %}
        or {{ changed_when }}
        {%- endif %}
{%- endmacro %}

{% macro touched_records_sql(
    today_edges, edge_state, records, previous, output, cannot_links=none, cannot_link_state=none
) -%}
    with

    {%- if cannot_links is not none %}

    changed_cannot_links as (

        {{ changed_pairs(cannot_links, cannot_link_state) }}

    ),
    {%- endif %}

    changed_edges as (

        {{ changed_pairs(today_edges, edge_state, 'today.confidence <> before.confidence') }}

    ),

    touched as (

        select record_key_a as record_key from changed_edges
        union
        select record_key_b as record_key from changed_edges
        {%- if cannot_links is not none %}
        union
        select record_key_a as record_key from changed_cannot_links
        union
        select record_key_b as record_key from changed_cannot_links
        {%- endif %}
        union
        select records.record_key
        from {{ records }} as records
        left join {{ previous }} as previous on records.record_key = previous.record_key
        where
            previous.record_key is null
            or previous.features_hash <> {{ guard_features_hash('records') }}
        union
        select previous.record_key
        from {{ previous }} as previous
        where not exists (
            select 1 from {{ records }} as records
            where records.record_key = previous.record_key
        )

    ),

    touched_components as (

        select distinct previous.component_id
        from {{ previous }} as previous
        inner join touched on previous.record_key = touched.record_key

    )

    select records.record_key
    from {{ records }} as records
    left join {{ previous }} as previous on records.record_key = previous.record_key
    where
        previous.record_key is null
        or previous.component_id in (select component_id from touched_components)
        or records.record_key in (select record_key from touched)
{%- endmacro %}

{# What the over-merge guard reads of a record: when it changes, the record's component is clustered again. #}
{% macro guard_features_hash(alias) -%}
    {{ dbt.hash(dbt.concat([
        "coalesce(" ~ alias ~ ".first_name_normalized, '')", "'|'",
        "coalesce(" ~ alias ~ ".first_name_canonical, '')", "'|'",
        "coalesce(" ~ alias ~ ".last_name_normalized, '')", "'|'",
        "coalesce(" ~ alias ~ ".name_suffix_inferred, '')", "'|'",
        "coalesce(cast(" ~ alias ~ ".date_of_birth_normalized as " ~ dbt.type_string() ~ "), '')", "'|'",
        "coalesce(" ~ alias ~ ".email_token, '')", "'|'",
        "coalesce(" ~ alias ~ ".phone_token, '')", "'|'",
        "coalesce(" ~ alias ~ ".loyalty_id, '')",
    ])) }}
{%- endmacro %}
