"""The trained model as an artifact: exported from one warehouse, imported
into another (of either engine) as trained, and refused when altered."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from c360 import pipeline
from c360.cli import main
from splink_models import runtime


def test_an_exported_model_becomes_current_elsewhere_and_an_altered_one_is_refused(
    warehouse, tmp_path: Path, capsys
) -> None:
    path, _ = warehouse
    artifact = tmp_path / "model.json"
    assert main(["model", "export", "--out", str(artifact), "--warehouse", str(path)]) == 0
    exported = json.loads(artifact.read_text())
    elsewhere = tmp_path / "elsewhere.duckdb"
    assert main(["model", "import", str(artifact), "--warehouse", str(elsewhere)]) == 0
    assert f"{exported['model_version']} is now current" in capsys.readouterr().out
    con = duckdb.connect(str(elsewhere))
    assert con.execute(
        f"select model_version, is_current, model_json from {runtime.MODELS_TABLE}"
    ).fetchall() == [
        (exported["model_version"], True, json.dumps(exported["model"], sort_keys=True))
    ]
    con.close()

    altered = dict(
        exported, model={**exported["model"], "probability_two_random_records_match": 0.5}
    )
    (tmp_path / "altered.json").write_text(json.dumps(altered))
    with pytest.raises(ValueError, match="do not match its version"):
        pipeline.import_model(tmp_path / "altered.json", elsewhere)
    other = dict(exported, definition_version="an-older-definition")
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert (
        main(["model", "import", str(tmp_path / "other.json"), "--warehouse", str(elsewhere)]) == 2
    )
    assert "train a model here instead" in capsys.readouterr().err


def test_a_model_scores_in_the_other_engines_dialect(warehouse, tmp_path: Path) -> None:
    path, _ = warehouse
    pipeline.export_model(tmp_path / "model.json", path)
    model = json.loads((tmp_path / "model.json").read_text())["model"]
    assert model["sql_dialect"] == "duckdb"
    conditions = [
        level["sql_condition"]
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
    ]
    assert any("jaro_winkler_similarity" in c for c in conditions)
    on_spark = runtime.in_dialect(model, "spark")
    assert on_spark["sql_dialect"] == "spark"
    spark_conditions = [
        level["sql_condition"]
        for comparison in on_spark["comparisons"]
        for level in comparison["comparison_levels"]
    ]
    assert len(spark_conditions) == len(conditions) and spark_conditions != conditions
    assert runtime.in_dialect(model, "duckdb") == model
    assert model["sql_dialect"] == "duckdb"  # the stored model is left as it was
