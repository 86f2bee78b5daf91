"""Resource limits (docs/faults.md): DuckDB's memory limit, threads and spill
directory come from the settings, on the pipeline's connections and dbt's;
a day 0 of 50,000 customers under a 1 GB memory limit finishes."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from c360.engine.duckdb_dbt_plugin import Plugin
from c360.settings import Settings
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from tests.support.cli import c360
from tests.support.warehouse_files import query


def _limits(con) -> tuple:
    return con.execute(
        "select current_setting('memory_limit'), current_setting('threads'), "
        "current_setting('temp_directory')"
    ).fetchall()[0]


def test_the_settings_bound_the_pipelines_and_dbts_connections(tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {
            "C360_DUCKDB_MEMORY_LIMIT": "700MB",
            "C360_DUCKDB_THREADS": "1",
            "C360_DUCKDB_TEMP_DIRECTORY": str(tmp_path / "spill"),
        }
    )
    assert (settings.duckdb_memory_limit, settings.duckdb_threads) == ("700MB", 1)
    from c360.engine import duckdb as engine

    con = engine.connect(
        tmp_path / "w.duckdb",
        memory_limit=settings.duckdb_memory_limit,
        temp_directory=settings.duckdb_temp_directory,
        threads=settings.duckdb_threads,
    )
    try:
        memory, threads, spill = _limits(con)
    finally:
        con.close()
    # DuckDB reports the limit in its own units (700MB = 667.5 MiB).
    assert memory.endswith("MiB") and float(memory.split()[0]) < 700
    assert (threads, spill) == (1, str(tmp_path / "spill"))

    # dbt's connections, through the profile's plugin (profiles.yml).
    plugin = Plugin.__new__(Plugin)
    plugin.initialize(
        {"memory_limit": "700MB", "temp_directory": str(tmp_path / "spill"), "threads": "1"}
    )
    dbt_con = duckdb.connect(str(tmp_path / "dbt.duckdb"))
    try:
        plugin.configure_connection(dbt_con)
        assert _limits(dbt_con) == (memory, threads, spill)
    finally:
        dbt_con.close()


def test_a_day_of_50k_customers_finishes_under_a_1gb_memory_limit(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    generate(GeneratorConfig(customers=50_000, days=0, seed=5), out, progress=False)
    path = tmp_path / "warehouse.duckdb"
    spill = tmp_path / "spill"
    peak = {"bytes": 0}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            if spill.is_dir():
                size = sum(f.stat().st_size for f in spill.glob("*") if f.is_file())
                peak["bytes"] = max(peak["bytes"], size)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        run = c360(
            "run",
            "--landing",
            str(out / "landing"),
            "--warehouse",
            str(path),
            env={"C360_DUCKDB_MEMORY_LIMIT": "1GB", "C360_DUCKDB_TEMP_DIRECTORY": str(spill)},
        )
    finally:
        done.set()
        watcher.join()
    assert run.returncode == 0, run.stderr[-3000:]
    (customers, records) = query(
        path, "select customers_live, records_live from marts.identity_run_metrics"
    )[0]
    assert records > 100_000 and 45_000 < customers < 80_000
    print(f"peak spill {peak['bytes'] / 2**20:.0f} MiB")
