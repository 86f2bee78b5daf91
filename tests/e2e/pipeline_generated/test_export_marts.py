"""`c360 export-marts`: every mart as a folder of Parquet, equal to the mart."""

from __future__ import annotations

from pathlib import Path

import duckdb

from c360.cli import main


def test_every_mart_is_exported_whole_and_a_second_export_replaces_the_first(
    warehouse, tmp_path: Path, capsys
) -> None:
    path, _ = warehouse
    out = tmp_path / "export"
    for _ in range(2):
        assert main(["export-marts", "--out", str(out), "--warehouse", str(path)]) == 0
    # Not read-only: an in-process dbt run may still hold the file.
    con = duckdb.connect(str(path))
    marts = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = 'marts'"
        ).fetchall()
    }
    assert {"dim_customer", "customer_source_xref", "customer_id_history"} <= marts
    assert f"exported {len(marts)} marts" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == marts  # no staged or retired folder left
    for mart in sorted(marts):
        exported = f"read_parquet('{out / mart}/*.parquet')"
        kept = f"marts.{mart}"
        differing = con.execute(
            f"select count(*) from ((select * from {kept} except all select * from {exported}) "
            f"union all (select * from {exported} except all select * from {kept}))"
        ).fetchall()[0][0]
        assert (mart, differing) == (mart, 0)
        assert (
            con.execute(f"select count(*) from {exported}").fetchall()
            == con.execute(f"select count(*) from {kept}").fetchall()
        )
    con.close()


def test_a_warehouse_without_marts_is_a_clear_error(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["export-marts", "--out", str(tmp_path / "x"), "--warehouse", str(empty)]) == 2
    assert "has no marts: run `c360 run`" in capsys.readouterr().err
