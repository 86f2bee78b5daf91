"""Same arguments, same bytes; the number of worker processes changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from c360.tools.generator.config import GeneratorConfig
from c360.tools.generator.core import generate


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_same_arguments_give_identical_output(tmp_path: Path) -> None:
    cfg = GeneratorConfig(customers=1_500, days=2, seed=7, chunk_size=500)
    generate(cfg, tmp_path / "a", progress=False)
    generate(cfg, tmp_path / "b", progress=False)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert len(a) > 20
    assert a == b


def test_worker_count_does_not_change_output(tmp_path: Path) -> None:
    serial = GeneratorConfig(customers=1_500, days=1, seed=7, chunk_size=500, workers=1)
    parallel = GeneratorConfig(customers=1_500, days=1, seed=7, chunk_size=500, workers=2)
    generate(serial, tmp_path / "serial", progress=False)
    generate(parallel, tmp_path / "parallel", progress=False)
    assert _digest(tmp_path / "serial") == _digest(tmp_path / "parallel")


def test_another_seed_gives_other_people(tmp_path: Path) -> None:
    generate(GeneratorConfig(customers=500, seed=1), tmp_path / "s1", progress=False)
    generate(GeneratorConfig(customers=500, seed=2), tmp_path / "s2", progress=False)
    a, b = _digest(tmp_path / "s1" / "landing"), _digest(tmp_path / "s2" / "landing")
    assert len(set(a) & set(b)) >= 10
    assert all(a[k] != b[k] for k in set(a) & set(b))
