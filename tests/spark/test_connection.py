"""The Spark connection: DuckDB's SQL transpiled, parameters bound, and the
DML Parquet tables lack emulated by rewriting only the files it touches."""

from __future__ import annotations

import datetime as dt

import pytest

from c360 import tokenization


def _files(spark_engine, con, table: str) -> set:
    return set(spark_engine._data_files(con._target(_table(table)).location))


def _table(name: str):
    import sqlglot

    return sqlglot.exp.to_table(name)


@pytest.fixture(scope="module")
def table(con):
    con.execute("create schema if not exists t")
    con.execute("drop table if exists t.people")
    con.execute(
        "create table t.people (id varchar primary key, n ubigint not null, "
        "born date, seen timestamp, tags varchar[])"
    )
    return "t.people"


def test_insert_binds_parameters_and_counts_rows(spark_engine, con, table) -> None:
    count = con.execute(
        f"insert into {table} values (?, ?, ?::date, ?::timestamp, ?)",
        ["a", 1, dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 3, 4, 5), ["x", "it's"]],
    ).fetchall()
    assert count == [(1,)]
    spark_engine.insert_many(
        con, f"insert into {table} (id, n) values (?, ?)", [("b", 2), ("c", 3), ("it's", 4)]
    )
    got = spark_engine.rows(con, f"select * from {table} where id = ?", ["a"])
    assert got == [
        {
            "id": "a",
            "n": 1,
            "born": dt.date(2025, 1, 2),
            "seen": dt.datetime(2025, 1, 2, 3, 4, 5),
            "tags": ["x", "it's"],
        }
    ]
    assert spark_engine.scalar(con, f"select count(*) from {table} where id = '?'") == 0
    assert spark_engine.scalar(con, f"select count(*) from {table}") == 4


def test_delete_and_update_rewrite_only_the_files_holding_affected_rows(
    spark_engine, con, table
) -> None:
    before = _files(spark_engine, con, table)
    assert con.execute(f"delete from {table} where n = ?", [3]).fetchall() == [(1,)]
    after = _files(spark_engine, con, table)
    # The file of "c" alone was rewritten (b, c, it's came in one insert).
    assert len(before - after) == 1
    assert con.execute(f"delete from {table} where n > 100").fetchall() == [(0,)]
    assert _files(spark_engine, con, table) == after
    assert con.execute(
        f"update {table} set n = n * 10 where id in (select unnest(?::varchar[]))", [["a"]]
    ).fetchall() == [(1,)]
    assert spark_engine.rows(con, f"select id, n from {table} order by id") == [
        {"id": "a", "n": 10},
        {"id": "b", "n": 2},
        {"id": "it's", "n": 4},
    ]


def test_insert_or_replace_replaces_by_the_primary_key(spark_engine, con, table) -> None:
    con.execute(f"insert or replace into {table} (id, n) values (?, ?)", ["b", 20])
    con.execute(f"insert or replace into {table} (id, n) values (?, ?)", ["d", 5])
    assert spark_engine.rows(con, f"select id, n from {table} order by id") == [
        {"id": "a", "n": 10},
        {"id": "b", "n": 20},
        {"id": "d", "n": 5},
        {"id": "it's", "n": 4},
    ]


def test_insert_or_ignore_keeps_the_rows_it_holds(spark_engine, con, table) -> None:
    """As DuckDB: a key the table holds is left as it is; of new rows sharing
    a key, one is inserted."""
    before = spark_engine.rows(con, f"select id, n from {table} order by id")
    count = con.execute(
        f"insert or ignore into {table} (id, n) values (?, ?), (?, ?), (?, ?)",
        ["b", 99, "e", 6, "e", 6],
    ).fetchall()
    assert count == [(1,)]
    assert spark_engine.rows(con, f"select id, n from {table} order by id") == sorted(
        [*before, {"id": "e", "n": 6}], key=lambda r: r["id"]
    )
    con.execute(f"delete from {table} where id = 'e'")


def test_a_failed_transaction_leaves_the_data_as_it_was(spark_engine, con, table) -> None:
    con.execute("create or replace temp table scratch as select id, true as flag from t.people")
    before = spark_engine.rows(con, f"select * from {table} order by id")
    with pytest.raises(RuntimeError, match="boom"), spark_engine.transaction(con):
        con.execute(f"delete from {table} where id = 'a'")
        con.execute(f"insert into {table} (id, n) values ('q', 9)")
        con.execute("update scratch set flag = false where id = 'b'")
        raise RuntimeError("boom")
    assert spark_engine.rows(con, f"select * from {table} order by id") == before
    assert spark_engine.scalar(con, "select count(*) from scratch where not flag") == 0
    with spark_engine.transaction(con):
        con.execute(f"delete from {table} where id = 'd'")
    assert spark_engine.scalar(con, f"select count(*) from {table}") == len(before) - 1


def test_delete_with_a_correlated_subquery_and_an_alias(spark_engine, con, table) -> None:
    con.execute("create or replace temp table keep (id varchar)")
    con.execute("insert into keep values ('a'), ('b')")
    con.execute(
        f"delete from {table} as p where not exists (select 1 from keep where keep.id = p.id)"
    )
    assert [r["id"] for r in spark_engine.rows(con, f"select id from {table} order by id")] == [
        "a",
        "b",
    ]


def test_alter_add_column_if_not_exists(spark_engine, con, table) -> None:
    con.execute(f"alter table {table} add column if not exists note varchar")
    con.execute(f"alter table {table} add column if not exists note varchar")
    assert spark_engine.scalar(con, f"select count(note) from {table}") == 0
    assert con.execute(f"select * from {table} limit 0").description[-1][0] == "note"


def test_the_catalog(spark_engine, con, table) -> None:
    assert spark_engine.relation_exists(con, "t", "people")
    assert not spark_engine.relation_exists(con, "t", "nobody")
    assert "people" in spark_engine.relation_names(con, "t")
    columns = {(s, t): c for s, t, c in spark_engine.base_tables(con)}
    assert columns[("t", "people")]["n"] == "bigint"


def test_hmac_pads_and_the_phone_function(spark_engine, con) -> None:
    spark_engine.bind_hmac_pads(con, tokenization.TOKEN_PADS, b"k1")
    sql = tokenization.hmac_sha256_sql(tokenization.TOKEN_PADS, "?")
    assert spark_engine.scalar(con, f"select {sql}", ["email\x1fa@b.c"]) == (
        tokenization.token("email", "a@b.c", b"k1")
    )
    assert spark_engine.rows(
        con,
        "select c360_phone_e164(?, 'GB') as gb, c360_phone_e164(null, 'GB') as none",
        ["020 7946 0958"],
    ) == [{"gb": "+442079460958", "none": None}]


def test_one_warehouse_per_process(spark_engine, tmp_path) -> None:
    with pytest.raises(spark_engine.WarehouseBusy, match="one warehouse per process"):
        spark_engine.connect(tmp_path / "another.spark")
