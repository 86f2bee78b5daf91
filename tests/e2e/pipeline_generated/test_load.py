"""Generated landing data through the real loader: every partition and row
loaded once, a rerun with nothing new does nothing, a deployment of two
sources runs, and a folder that is no contract table is a clear error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from c360 import pipeline
from c360.contract import TABLES
from tests.support.warehouse_files import query as _query


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


def test_rerun_with_nothing_new_changes_nothing(generated: Path, warehouse) -> None:
    path, first = warehouse
    xref = "select * from marts.customer_source_xref order by all"
    models = "select model_version, trained_at, is_current from matching.splink_models order by all"
    xref_before, models_before = _query(path, xref), _query(path, models)
    again = pipeline.run(generated / "landing", path)
    # Every landing date was processed: nothing is loaded, built or scored again.
    assert [d.run_date.isoformat() for d in first.days] == ["2025-01-01", "2025-01-02"]
    assert again.days == [] and again.loaded == []
    assert again.staged_rows == first.staged_rows
    assert first.trained is not None and again.trained is None
    assert _query(path, models) == models_before
    # Same records, same clusters, same customer ids.
    assert len(xref_before) > 5000
    assert _query(path, xref) == xref_before
    # Day 0 scored in full; the change days only the records that changed.
    runs = _query(
        path,
        "select run_date, is_full, records_rescored, records from matching.splink_scoring_runs "
        "order by run_date",
    )
    assert [r[1] for r in runs] == [True, False]
    assert all(r[2] < 0.05 * r[3] for r in runs[1:])


def test_a_deployment_with_two_sources_runs(generated: Path, tmp_path: Path) -> None:
    # Day 0 only: what two sources can do does not need the change days.
    landing = tmp_path / "landing"
    for table in ("ecommerce_customers", "crm_contacts"):
        day0 = sorted((generated / "landing" / table).iterdir())[0]
        shutil.copytree(day0, landing / table / day0.name)
    result = pipeline.run(landing, tmp_path / "two.duckdb")
    assert len(result.days) == 1
    assert result.staged_rows["stg_ecommerce__customers"] > 0
    assert result.staged_rows["stg_crm__contacts"] > 0
    assert result.staged_rows["stg_loyalty__members"] == 0
    assert result.staged_rows["stg_mobile_app__events"] == 0
    # Few comparable pairs: the model is still trained, from what pairs there
    # are and documented defaults for the rest, and the run says which.
    assert result.trained is not None
    assert result.scoring.model_version == result.trained.version
    assert "model: m of" in pipeline.format_run(result)
    assert "deterministic rules only" not in pipeline.format_run(result)
    con = duckdb.connect(str(tmp_path / "two.duckdb"))
    try:
        xref, records = con.execute(
            "select (select count(*) from marts.customer_source_xref), "
            "(select count(*) from intermediate.int_identity_records)"
        ).fetchall()[0]
    finally:
        con.close()
    assert xref == records > 0


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
