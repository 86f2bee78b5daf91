"""Generated landing data through the real loader and a real `dbt build`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from c360 import pipeline
from c360.contract import IDENTITY_TABLES, TABLES

STAGING = {
    "ecommerce_customers": "stg_ecommerce__customers",
    "mobile_app_devices": "stg_mobile_app__devices",
    "loyalty_members": "stg_loyalty__members",
    "pos_card_holders": "stg_pos__card_holders",
    "crm_contacts": "stg_crm__contacts",
    "enrichment_profiles": "stg_enrichment__profiles",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Through the console entry point, as a scheduler would call it."""
    out = tmp_path_factory.mktemp("e2e_generated")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "generate",
            "--customers",
            "3000",
            "--days",
            "2",
            "--seed",
            "3",
            "--out",
            str(out),
            "--chunk-size",
            "1500",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ecommerce_customers" in result.stdout
    return out


@pytest.fixture(scope="module")
def warehouse(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("e2e_wh") / "warehouse.duckdb"
    result = pipeline.run(generated / "landing", path)
    return path, result


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_partition_is_loaded_with_every_row(generated: Path, warehouse) -> None:
    path, result = warehouse
    on_disk = {
        (t.name, p.name[3:]): sum(pq.read_metadata(f).num_rows for f in p.glob("*.parquet"))
        for t in TABLES.values()
        if (generated / "landing" / t.name).exists()
        for p in (generated / "landing" / t.name).iterdir()
    }
    loaded = {(p.table, p.dt.isoformat()): p.rows for p in result.loaded}
    assert loaded == on_disk
    for table in TABLES:
        raw = _query(path, f"select count(*) from raw.{table}")[0][0]
        assert raw == sum(n for (t, _), n in on_disk.items() if t == table)


def test_staging_holds_the_live_records_of_the_truth(generated: Path, warehouse) -> None:
    path, _ = warehouse
    links = f"read_parquet('{generated}/truth/person_links.parquet')"
    for spec in IDENTITY_TABLES:
        live_truth = _query(
            path, f"select count(*) from {links} where source_table = '{spec.name}' and is_live"
        )[0][0]
        live_staged = _query(
            path, f"select count(*) from staging.{STAGING[spec.name]} where not is_deleted"
        )[0][0]
        assert live_staged == live_truth > 0, spec.name


def test_rerun_with_nothing_new_changes_nothing(generated: Path, warehouse) -> None:
    path, first = warehouse
    again = pipeline.run(generated / "landing", path)
    assert again.loaded == []
    assert again.staged_rows == first.staged_rows


def test_a_deployment_with_two_sources_runs(generated: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for table in ("ecommerce_customers", "crm_contacts"):
        shutil.copytree(generated / "landing" / table, landing / table)
    result = pipeline.run(landing, tmp_path / "two.duckdb")
    assert result.staged_rows["stg_ecommerce__customers"] > 0
    assert result.staged_rows["stg_crm__contacts"] > 0
    assert result.staged_rows["stg_loyalty__members"] == 0
    assert result.staged_rows["stg_mobile_app__events"] == 0


def test_unknown_landing_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "landing" / "ecommerce_customer" / "dt=2025-01-01").mkdir(parents=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "c360.cli",
            "run",
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "not a contract table" in result.stderr
