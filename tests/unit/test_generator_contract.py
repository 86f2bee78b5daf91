"""Every landing table conforms to ../shared/CONTRACT.md, partition by partition."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from c360.contract import TABLES
from c360.tools.generator.render import ARROW_TYPES
from tests.support.generated_data import landing_view


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_files_match_contract(multiday, table: str) -> None:
    _, out = multiday
    spec = TABLES[table]
    root = Path(out) / "landing" / table
    partitions = sorted(root.iterdir())
    assert partitions, f"{table} has no partitions"
    assert all(re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", p.name) for p in partitions)
    expected = [(name, ARROW_TYPES[typ]) for name, typ in spec.all_columns]
    for f in root.rglob("*.parquet"):
        schema = pq.read_schema(f)
        assert [(fld.name, fld.type) for fld in schema] == expected, f


@pytest.mark.parametrize("table", sorted(TABLES))
def test_keys_unique_per_partition_and_ops_valid(multiday, db, table: str) -> None:
    _, out = multiday
    key = TABLES[table].key
    src = landing_view(out, table)
    dupes = db.execute(
        f"select dt, {key}, count(*) from {src} group by all having count(*) > 1 limit 5"
    ).fetchall()
    assert dupes == []
    bad = db.execute(
        f"select count(*) from {src} where _op not in ('U', 'D') or _op is null "
        f"or _extracted_at is null or {key} is null or {key} = ''"
    ).fetchall()[0][0]
    assert bad == 0


def test_day_zero_is_full_and_later_days_are_changes(multiday, db) -> None:
    cfg, out = multiday
    first = cfg.day_date(0)
    for table in ("ecommerce_customers", "mobile_app_devices", "enrichment_profiles"):
        by_day = dict(
            db.execute(
                f"select dt, count(*) from {landing_view(out, table)} group by dt"
            ).fetchall()
        )
        assert by_day[first] > 5 * max(v for d, v in by_day.items() if d != first)
        assert len(by_day) == cfg.days + 1
