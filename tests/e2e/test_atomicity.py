"""What a failure leaves behind, on a small real warehouse: a transaction that
fails rolls all of it back and leaves its connection usable; files a
transaction writes appear only once it commits; a key rotation that fails
leaves the process tokenizing with the key it had."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from c360 import pipeline, privacy, tokenization, warehouse
from c360.engine import duckdb as engine
from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate
from splink_models import runtime
from tests.support.warehouse_files import copy_warehouse, query


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("atomicity")
    generate(GeneratorConfig(customers=400, days=0, seed=4, chunk_size=400), out, progress=False)
    path = out / "warehouse.duckdb"
    pipeline.run(out / "landing", path, quiet=True)
    return path


@pytest.fixture()
def path(built: Path, tmp_path: Path) -> Path:
    return copy_warehouse(built, tmp_path / "warehouse.duckdb")


def test_a_failed_transaction_rolls_back_and_the_connection_stays_usable(path: Path) -> None:
    """Scoring that fails half-way through its writes: nothing of it stays, and
    the next statement on the same connection (a pipeline step shares one)
    runs rather than meeting an aborted transaction."""
    con = warehouse.connect(path)
    try:
        before = engine.scalar(con, f"select count(*) from {runtime.SCORED_TABLE}")
        assert before > 0
        # One scoring run a run date: the log's insert, the last write, fails,
        # after the pairs were replaced and the scored records deleted.
        run_date = engine.scalar(con, f"select max(run_date) from {runtime.RUNS_TABLE}")
        con.execute(f"create unique index one_run_a_date on {runtime.RUNS_TABLE} (run_date)")
        with pytest.raises(Exception, match="[Dd]uplicate key"):
            runtime.score_nothing(con, run_date=run_date)
        assert engine.scalar(con, f"select count(*) from {runtime.SCORED_TABLE}") == before
    finally:
        con.close()


def test_the_engine_transaction_commits_or_rolls_back_all(path: Path) -> None:
    con = warehouse.connect(path)
    try:
        con.execute("create table t (v integer)")
        with engine.transaction(con):
            con.execute("insert into t values (1)")
        with pytest.raises(ZeroDivisionError), engine.transaction(con):
            con.execute("insert into t values (2)")
            raise ZeroDivisionError
        assert con.execute("select v from t").fetchall() == [(1,)]
    finally:
        con.close()


def _an_email(path: Path) -> str:
    return query(
        path,
        "select min(email_normalized) from vault.vault_identity_pii "
        "where email_normalized is not null",
    )[0][0]


def test_an_export_appears_only_if_its_intake_commits(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = tmp_path / "exports"
    monkeypatch.setenv("C360_PRIVACY_EXPORT_DIR", str(exports))
    request_id = privacy.submit("access", email=_an_email(path), warehouse_file=path)
    # The sweep's watermark cannot be written: the intake fails after the
    # export was made.
    con = warehouse.connect(path)
    try:
        con.execute("create table privacy.sweep_state_kept as select * from privacy.sweep_state")
        con.execute("drop table privacy.sweep_state")
        con.execute(
            "create table privacy.sweep_state (swept_through timestamp "
            "check (swept_through is null), is_compaction_due boolean not null, "
            "bytes_purge_due_on date)"
        )
        con.execute("insert into privacy.sweep_state values (null, false, null)")
    finally:
        con.close()
    with pytest.raises(Exception, match="[Cc]onstraint"):
        privacy.intake(dt.date(2025, 1, 2), path)
    assert not exports.exists() or not any(exports.iterdir())
    assert privacy.request_status(request_id, path) == {}

    # Mended, the same request is answered, and its file is there.
    con = warehouse.connect(path)
    try:
        con.execute("drop table privacy.sweep_state")
        con.execute("alter table privacy.sweep_state_kept rename to sweep_state")
    finally:
        con.close()
    result = privacy.intake(dt.date(2025, 1, 2), path)
    assert result.requests == {"completed": 1}
    status = privacy.request_status(request_id, path)
    assert Path(status["export_file"]).parent == exports
    assert Path(status["export_file"]).is_file()
    assert sorted(p.name for p in exports.iterdir()) == [Path(status["export_file"]).name]


def test_a_failed_key_rotation_leaves_the_old_key_in_use(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tokenization.KEY_ENV, "the-key-in-use")
    monkeypatch.delenv(tokenization.KEY_FILE_ENV, raising=False)
    # The rebuild under the new key fails: the warehouse has no finished run
    # date left to rebuild.
    con = warehouse.connect(path)
    try:
        con.execute(f"delete from {warehouse.RUN_LOG}")
    finally:
        con.close()
    with pytest.raises(RuntimeError, match="no finished run date"):
        pipeline.rotate_tokenization_key(b"a-new-key", path)
    assert tokenization.tokenization_key() == b"the-key-in-use"
    assert os.environ[tokenization.KEY_ENV] == "the-key-in-use"
    assert tokenization.KEY_FILE_ENV not in os.environ
