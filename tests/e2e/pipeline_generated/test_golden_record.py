"""Customers and their golden record: every live record in one customer, each
attribute from a source its survivorship rule allows, and activity facts that
reconcile with dim_customer."""

from __future__ import annotations

from pathlib import Path

from tests.support.warehouse_files import query as _query


def test_every_live_record_has_one_customer_and_every_customer_its_records(
    generated: Path, warehouse
) -> None:
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    live, xref_rows, missing, not_live, duplicated, without_customer = _query(
        path,
        f"""
        with live as (select * from {links} where is_live),
        xref as (select * from marts.customer_source_xref)
        select
            (select count(*) from live),
            (select count(*) from xref),
            (select count(*) from live l where not exists (
                select 1 from xref x where x.source_table = l.source_table
                and x.source_record_id = l.source_record_id)),
            (select count(*) from xref x where not exists (
                select 1 from live l where x.source_table = l.source_table
                and x.source_record_id = l.source_record_id)),
            (select count(*) from (
                select 1 from xref group by source_table, source_record_id having count(*) > 1)),
            (select count(*) from xref where customer_id is null)
        """,
    )[0]
    assert live > 5000
    assert xref_rows == live
    assert missing == not_live == duplicated == without_customer == 0
    customers, dim_rows, dim_ids, unknown, without_records, miscounted, multi = _query(
        path,
        """
        with per_customer as (
            select customer_id, count(*) as records, count(distinct source_table) as sources
            from marts.customer_source_xref group by customer_id
        )
        select
            (select count(*) from per_customer),
            (select count(*) from marts.dim_customer),
            (select count(distinct customer_id) from marts.dim_customer),
            (select count(*) from per_customer p where not exists (
                select 1 from marts.dim_customer d where d.customer_id = p.customer_id)),
            (select count(*) from marts.dim_customer d where not exists (
                select 1 from per_customer p where d.customer_id = p.customer_id)),
            (select count(*) from marts.dim_customer d join per_customer p using (customer_id)
             where d.record_count <> p.records or d.source_count <> p.sources),
            (select count(*) from per_customer where records > 1)
        """,
    )[0]
    assert customers == dim_rows == dim_ids
    assert unknown == without_records == miscounted == 0
    assert multi > 1000  # customers resolved from several records, not one per record


def test_golden_attributes_come_from_the_sources_their_rule_allows(warehouse) -> None:
    path, _ = warehouse
    # The rules as the build loaded them (the seed's key column is being
    # renamed from `attribute` to `attribute_name`: either is read).
    seed_columns = {
        name
        for (name,) in _query(
            path,
            "select column_name from information_schema.columns "
            "where table_schema = 'seeds' and table_name = 'survivorship_rules'",
        )
    }
    key = "attribute_name" if "attribute_name" in seed_columns else "attribute"
    rules = {
        attribute: (strategy, source_priority.split("|"))
        for attribute, strategy, source_priority in _query(
            path, f"select {key}, strategy, source_priority from seeds.survivorship_rules"
        )
    }
    assert len(rules) >= 10
    columns = {
        name
        for (name,) in _query(
            path,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'dim_customer'",
        )
    }
    for attribute, (_, sources) in rules.items():
        assert {attribute, f"{attribute}_source", f"{attribute}_updated_at"} <= columns, attribute
        allowed = ", ".join(f"'{s}'" for s in sources)
        filled, other_source, undated = _query(
            path,
            f"""
            select
                count({attribute}),
                count(*) filter (where {attribute} is not null and (
                    {attribute}_source is null or {attribute}_source not in ({allowed}))),
                count(*) filter (where {attribute} is not null and {attribute}_updated_at is null)
            from marts.dim_customer
            """,
        )[0]
        assert filled > 0, attribute
        assert other_source == 0, attribute
        assert undated == 0, attribute

    # The address the customer logs in with wins: whoever holds an e-commerce
    # record with an email gets that email's token, from that source.
    assert rules["email_token"][0] == "source_priority"
    assert rules["email_token"][1][0] == "ecommerce_customers"
    holders, other_source, not_an_account_email = _query(
        path,
        """
        with account_emails as (
            select x.customer_id, list(r.email_token) as tokens
            from marts.customer_source_xref x
            join intermediate.int_identity_records r
                on r.source_table = x.source_table and r.source_record_id = x.source_record_id
            where x.source_table = 'ecommerce_customers' and r.email_token is not null
            group by x.customer_id
        )
        select
            count(*),
            count(*) filter (where d.email_token_source is distinct from 'ecommerce_customers'),
            count(*) filter (where not coalesce(list_contains(a.tokens, d.email_token), false))
        from account_emails a
        join marts.dim_customer d using (customer_id)
        """,
    )[0]
    assert holders > 1000
    assert other_source == 0
    assert not_an_account_email == 0


ACTIVITY = [
    ("stg_ecommerce__orders", "order_id", "fct_orders"),
    ("stg_mobile_app__events", "event_id", "fct_app_events"),
    ("stg_pos__transactions", "transaction_id", "fct_pos_transactions"),
    ("stg_crm__tickets", "ticket_id", "fct_tickets"),
]


def test_activity_facts_hold_every_event_once_and_reconcile_with_dim_customer(warehouse):
    path, _ = warehouse
    for model, key, fact in ACTIVITY:
        live, rows, keys, missing, unknown = _query(
            path,
            f"""
            with live as (select * from staging.{model} where not is_deleted)
            select
                (select count(*) from live),
                (select count(*) from marts.{fact}),
                (select count(distinct {key}) from marts.{fact}),
                (select count(*) from live s where not exists (
                    select 1 from marts.{fact} f where f.{key} = s.{key})),
                (select count(*) from marts.{fact} f where not exists (
                    select 1 from live s where f.{key} = s.{key}))
            """,
        )[0]
        assert live > 500, fact
        assert rows == keys == live, fact
        assert missing == unknown == 0, fact

    (
        mismatched,
        revenue,
        fact_revenue,
        non_revenue_orders,
        spend,
        fact_spend,
        attributed_orders,
        orders,
    ) = _query(
        path,
        """
        with
        o as (
            select customer_id, count(*) as n,
                   sum(case when is_revenue then order_total else 0 end) as revenue
            from marts.fct_orders where customer_id is not null group by 1
        ),
        a as (
            select customer_id, count(*) as n
            from marts.fct_app_events where customer_id is not null group by 1
        ),
        p as (
            select customer_id, count(*) as n, sum(amount) as spend
            from marts.fct_pos_transactions where customer_id is not null group by 1
        ),
        t as (
            select customer_id, count(*) as n
            from marts.fct_tickets where customer_id is not null group by 1
        )
        select
            count(*) filter (where
                d.order_count <> coalesce(o.n, 0)
                or d.order_revenue <> coalesce(o.revenue, 0)
                or d.app_event_count <> coalesce(a.n, 0)
                or d.pos_transaction_count <> coalesce(p.n, 0)
                or d.pos_spend <> coalesce(p.spend, 0)
                or d.ticket_count <> coalesce(t.n, 0)),
            sum(d.order_revenue),
            (select sum(order_total) from marts.fct_orders
             where customer_id is not null and is_revenue),
            (select count(*) from marts.fct_orders
             where customer_id is not null and not is_revenue and order_total > 0),
            sum(d.pos_spend),
            (select sum(amount) from marts.fct_pos_transactions where customer_id is not null),
            (select count(*) from marts.fct_orders where customer_id is not null),
            (select count(*) from marts.fct_orders)
        from marts.dim_customer d
        left join o using (customer_id)
        left join a using (customer_id)
        left join p using (customer_id)
        left join t using (customer_id)
        """,
    )[0]
    assert mismatched == 0
    assert revenue == fact_revenue > 0
    assert non_revenue_orders > 0  # cancelled and returned orders exist and are left out
    assert spend == fact_spend > 0
    # An order whose account was since deleted has no customer; most have one.
    assert attributed_orders >= 0.95 * orders
