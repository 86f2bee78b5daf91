"""SQL that silently does the wrong thing, kept out of the project.

`key not in (select k from t)` is null, not true, for every row once one `k`
is null: an anti-join over a nullable key then keeps (or deletes) nothing, and
says nothing. `not exists (... where t.k = key)` means what it says. The scan
covers the dbt project's SQL and the SQL the Python packages write."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
SQL_FOLDERS = ("models", "macros", "snapshots", "data_tests")
PYTHON_PACKAGES = ("c360", "orchestration", "splink_models")
NOT_IN_SUBQUERY = re.compile(r"\bnot\s+in\s*\(\s*select\b", re.IGNORECASE)


def not_in_subqueries(text: str) -> list[str]:
    return [m.group(0) for m in NOT_IN_SUBQUERY.finditer(text)]


def test_the_trap_is_real_and_the_scan_sees_it() -> None:
    con = duckdb.connect()
    con.execute("create table t (k varchar); insert into t values ('a'), (null)")
    assert con.execute(
        "select count(*) from (values ('b')) v(x) where x not in (select k from t)"
    ).fetchall() == [(0,)]
    assert con.execute(
        "select count(*) from (values ('b')) v(x) where not exists (select 1 from t where t.k = x)"
    ).fetchall() == [(1,)]
    assert not_in_subqueries("where key NOT IN\n (  select k from t)")
    assert not not_in_subqueries("where not exists (select 1 from t where t.k = key)")


def test_no_anti_join_by_not_in_a_subquery() -> None:
    files = [p for folder in SQL_FOLDERS for p in (ROOT / folder).rglob("*.sql")]
    files += [p for package in PYTHON_PACKAGES for p in (ROOT / package).rglob("*.py")]
    found = {
        str(path.relative_to(ROOT)): hits
        for path in files
        if (hits := not_in_subqueries(path.read_text()))
    }
    assert found == {}


# Python writes raw, its own state (privacy, matching) and snapshot history;
# what dbt builds, dbt changes (macros/privacy/purge_pending_erasures.sql).
DBT_SCHEMAS = ("staging", "vault", "intermediate", "marts")
WRITE_TO_DBT_SCHEMA = re.compile(
    r"\b(delete\s+from|update|insert\s+(?:or\s+\w+\s+)?into|truncate)\s+\"?("
    + "|".join(DBT_SCHEMAS)
    + r")\"?\.",
    re.IGNORECASE,
)


def test_python_writes_nothing_dbt_builds() -> None:
    assert WRITE_TO_DBT_SCHEMA.search("delete from vault.vault_pii_tokens where 1")
    assert WRITE_TO_DBT_SCHEMA.search('insert or ignore into "intermediate".x values')
    assert not WRITE_TO_DBT_SCHEMA.search("delete from raw.ecommerce_customers where 1")
    found = {
        str(path.relative_to(ROOT)): [m.group(0) for m in WRITE_TO_DBT_SCHEMA.finditer(text)]
        for package in PYTHON_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if WRITE_TO_DBT_SCHEMA.search(text := path.read_text())
    }
    assert found == {}
