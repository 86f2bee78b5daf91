"""Parity: one generated landing, three days with merges, splits, a steward's
must-link and privacy requests (erasures among them), run through `c360 run`
on DuckDB and on Spark, gives the same customers, ids, events and activity
facts, row by row, and the same scored pairs.

Both engines score with one model: DuckDB's run trains it, and the Spark
warehouse imports it (`c360 model import`) before its first run. Training
itself is not compared: u is estimated from random pairs, which each engine
samples differently (docs/spark.md, "Parity").

Each engine runs as a scheduler would run it, in its own process: a Spark
session serves one warehouse per process, and this module's must not meet
the other Spark modules'."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from c360.tools.generator.config import Changes, GeneratorConfig
from c360.tools.generator.core import generate
from tests.support.dbt_project import copy_project

CUSTOMERS = 2000
START = "2025-03-01"
# Marts and what identifies a row of each; every column is compared.
MARTS = {
    "customer_source_xref": ("source_table", "source_record_id"),
    "customer_id_history": ("customer_id",),
    "identity_events": ("event_id",),
    "dim_customer": ("customer_id",),
    "fct_orders": ("order_id",),
    "fct_app_events": ("event_id",),
    "fct_pos_transactions": ("transaction_id",),
    "fct_tickets": ("ticket_id",),
    "identity_review_queue": ("review_item_id",),
    "customer_match_evidence": ("customer_id", "record_key_a", "record_key_b"),
}
PAIRS = "matching.splink_match_pairs"


def _c360(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "c360.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 0, f"c360 {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _decide_in_app_table(engine: str, warehouse: Path, row: list, env: dict[str, str]) -> None:
    """A steward's decision as the app writes it (stewardship.steward_decisions),
    through the engine's own connection."""
    code = (
        "import sys, json, datetime as dt; from c360 import warehouse; "
        "con = warehouse.connect(sys.argv[1]); warehouse.ensure_raw_tables(con); "
        "row = json.loads(sys.argv[2]); row[8] = dt.datetime.fromisoformat(row[8]); "
        "con.execute(f'insert into {warehouse.STEWARD_DECISIONS} values "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', row); con.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse), json.dumps(row)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "C360_ENGINE": engine},
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _export_pairs(engine: str, warehouse: Path, out: Path, env: dict[str, str]) -> None:
    code = (
        "import sys; from pathlib import Path; from c360 import engine, warehouse; "
        "con = warehouse.connect(sys.argv[1]); "
        f"engine.write_parquet_folder(con, '{PAIRS}', Path(sys.argv[2])); con.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse), str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "C360_ENGINE": engine},
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("parity")
    generate(
        GeneratorConfig(
            customers=CUSTOMERS,
            days=2,
            seed=15,
            chunk_size=CUSTOMERS,
            start_date=dt.date.fromisoformat(START),
            # Livelier than real days, so three days hold merges, splits,
            # deletions and privacy requests.
            changes=Changes(
                new_email_rate=0.01,
                new_phone_rate=0.01,
                marriage_rate=0.02,
                move_rate=0.01,
                record_delete_rate=0.004,
                new_record_rate=0.01,
                privacy_request_rate=0.003,
            ),
        ),
        root,
        progress=False,
    )
    # A steward's must-link between two records of different people.
    links = (
        duckdb.connect()
        .execute(
            f"select source_table, source_record_id, person_id "
            f"from '{root / 'truth' / 'person_links.parquet'}' "
            "where source_table in ('ecommerce_customers', 'loyalty_members') "
            "order by source_table, source_record_id"
        )
        .fetchall()
    )
    first = links[0]
    other = next(r for r in links if r[0] != first[0] and r[2] != first[2])
    # And one taken in the app: two records of one person cannot link.
    by_person: dict[str, list[tuple]] = {}
    for link in links:
        by_person.setdefault(link[2], []).append(link)
    apart = next(
        records
        for records in by_person.values()
        if len({r[0] for r in records}) == 2 and first not in records and other not in records
    )
    decision = [
        "parity-decision",
        "cannot_link",
        apart[0][0],
        apart[0][1],
        apart[-1][0],
        apart[-1][1],
        "two people (parity test)",
        "steward",
        f"{START}T09:00:00",
        None,
    ]
    project = copy_project(root)
    with (project / "seeds" / "steward_overrides.csv").open("a") as seed:
        seed.write(
            f"must_link,{first[0]},{first[1]},{other[0]},{other[1]},"
            f"one person (parity test),steward@example.com,{START}\n"
        )
    env = {
        "C360_DBT_PROJECT_DIR": str(project),
        "C360_TOKENIZATION_KEY": "parity-tokenization-key",
        "C360_SUPPRESSION_KEY": "parity-suppression-key",
    }
    landing = root / "landing"
    for engine, name in (("duckdb", "warehouse.duckdb"), ("spark", "warehouse.spark")):
        engine_env = {
            **env,
            "DBT_TARGET_PATH": str(root / f"target_{engine}"),
            "DBT_LOG_PATH": str(root / f"logs_{engine}"),
        }
        warehouse = root / name
        common = ["--engine", engine, "--warehouse", str(warehouse)]
        if engine == "spark":
            _c360("model", "import", str(root / "model.json"), *common, env=engine_env)
        _decide_in_app_table(engine, warehouse, decision, engine_env)
        _c360("run", "--landing", str(landing), *common, env=engine_env)
        if engine == "duckdb":
            _c360("model", "export", "--out", str(root / "model.json"), *common, env=engine_env)
        _c360("export-marts", "--out", str(root / f"marts_{engine}"), *common, env=engine_env)
        _export_pairs(engine, warehouse, root / f"pairs_{engine}", engine_env)
        _c360(
            "evaluate",
            "--truth",
            str(root / "truth"),
            "--out",
            str(root / f"evaluation_{engine}.json"),
            *common,
            env=engine_env,
        )
    return {
        "root": root,
        "apart": tuple(f"{table}:{record_id}" for table, record_id, _ in (apart[0], apart[-1])),
    }


def _rows(folder: Path, order: tuple[str, ...]) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect()
    relation = con.sql(f"select * from read_parquet('{folder}/*.parquet')")
    columns = relation.columns
    rows = con.execute(
        f"select * from read_parquet('{folder}/*.parquet') order by {', '.join(order)}"
    ).fetchall()
    return columns, rows


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def _differences(folder_a: Path, folder_b: Path, order: tuple[str, ...]) -> list[str]:
    columns_a, rows_a = _rows(folder_a, order)
    columns_b, rows_b = _rows(folder_b, order)
    if columns_a != columns_b:
        return [f"columns differ: {columns_a} vs {columns_b}"]
    if len(rows_a) != len(rows_b):
        return [f"{len(rows_a)} rows vs {len(rows_b)}"]
    found = []
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for column, a, b in zip(columns_a, row_a, row_b, strict=True):
            if not _same(a, b):
                found.append(f"{column}: {a!r} vs {b!r} (row {row_a[:2]})")
    return found[:10]


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_the_marts_are_the_same_on_both_engines(runs, mart: str) -> None:
    root = runs["root"]
    duck, spark = root / "marts_duckdb" / mart, root / "marts_spark" / mart
    assert _differences(duck, spark, MARTS[mart]) == []


def test_the_evaluation_is_the_same_on_both_engines(runs) -> None:
    """`c360 evaluate` reads a Spark warehouse's Parquet files with DuckDB."""
    root = runs["root"]
    duck = json.loads((root / "evaluation_duckdb.json").read_text())
    spark = json.loads((root / "evaluation_spark.json").read_text())
    for report in (duck, spark):
        del report["warehouse"], report["truth_dir"]
        # The rules' text is in the dialect of the engine that scored.
        for rule in report["blocking"]["rules"]:
            del rule["rule"]
    assert duck["pairwise"]["precision"] > 0.9
    assert spark == duck


def test_the_three_days_hold_what_parity_must_cover(runs) -> None:
    root = runs["root"]
    con = duckdb.connect()
    events = dict(
        con.execute(
            f"select event_type, count(*) from "
            f"read_parquet('{root / 'marts_duckdb' / 'identity_events'}/*.parquet') group by 1"
        ).fetchall()
    )
    assert {"merge", "split", "erasure"} <= set(events), events
    # The app's cannot-link held on both engines (the marts are compared).
    key_a, key_b = sorted(runs["apart"])
    xref = f"read_parquet('{root / 'marts_duckdb' / 'customer_source_xref'}/*.parquet')"
    customers = con.execute(
        f"select count(distinct customer_id) from {xref} "
        "where source_table || ':' || source_record_id in (?, ?)",
        [key_a, key_b],
    ).fetchall()[0][0]
    assert customers == 2
    evidence = f"read_parquet('{root / 'marts_duckdb' / 'customer_match_evidence'}/*.parquet')"
    assert con.execute(
        f"select distinct override_type from {evidence} "
        "where record_key_a = ? and record_key_b = ?",
        [key_a, key_b],
    ).fetchall() == [("cannot_link",)]
    assert (
        con.execute(
            f"select count(distinct run_date) from "
            f"read_parquet('{root / 'marts_duckdb' / 'identity_events'}/*.parquet')"
        ).fetchall()[0][0]
        == 3
    )


def test_the_scored_pairs_are_the_same_on_both_engines(runs) -> None:
    root = runs["root"]
    con = duckdb.connect()
    duck = f"read_parquet('{root / 'pairs_duckdb'}/*.parquet')"
    spark = f"read_parquet('{root / 'pairs_spark'}/*.parquet')"
    only_one, both, worst = con.execute(
        f"""select
            count(*) filter (where d.record_key_a is null or s.record_key_a is null),
            count(*) filter (where d.record_key_a is not null and s.record_key_a is not null),
            max(abs(d.match_probability - s.match_probability))
        from {duck} as d
        full join {spark} as s using (record_key_a, record_key_b)"""
    ).fetchall()[0]
    assert only_one == 0
    assert both > 1000
    assert worst <= 1e-9
