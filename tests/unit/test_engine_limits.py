"""A second connection to a warehouse that has spilled gets its limits
without failing (dbt's connection after the loader's, in one process)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from c360.engine import duckdb as engine


def _spill(con) -> None:
    con.execute(
        "create or replace table big as select range as i, md5(range::varchar) as s "
        "from range(3000000)"
    )
    con.execute("select s from big order by s").fetchall()


def test_limits_are_applied_again_after_a_spill(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    spill = tmp_path / "spill"
    con = engine.connect(path, memory_limit="64MB", temp_directory=spill)
    _spill(con)
    second = con.cursor()
    engine.apply_limits(second, "64MB", spill)  # the same directory: no error
    # The trap itself: DuckDB refuses even the same directory once used.
    with pytest.raises(duckdb.NotImplementedException, match="temporary directory"):
        second.execute("set temp_directory = ?", [str(spill)])
    con.close()
