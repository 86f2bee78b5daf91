"""The knobs, one place per kind: dbt vars declared once in dbt_project.yml
and used without inline defaults; the Python settings in c360.settings, which
documents every C360_* variable; and the invariants that span the two."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from c360 import settings as settings_module
from c360.settings import Settings
from splink_models import runtime

ROOT = Path(__file__).resolve().parents[2]
DBT_FOLDERS = ("models", "macros", "snapshots", "data_tests")
VAR_USE = re.compile(r"""\bvar\(\s*['"]([a-z_]+)['"]\s*(,)?""")
# Profiles render before the project's vars exist: this one is read there.
PROFILE_VARS = {"warehouse_path"}


@pytest.fixture(scope="module")
def declared() -> dict:
    return yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"]


def _dbt_files() -> list[Path]:
    return [
        p
        for folder in DBT_FOLDERS
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".sql", ".yml")
    ]


def test_every_dbt_var_is_declared_once_and_used_without_an_inline_default(declared) -> None:
    used: dict[str, set[str]] = {}
    with_default: list[str] = []
    for path in _dbt_files():
        for name, comma in VAR_USE.findall(path.read_text()):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
            if comma:
                with_default.append(f"{path.relative_to(ROOT)}: {name}")
    assert with_default == []
    assert sorted(set(used) - set(declared) - PROFILE_VARS) == []
    # A declared var nothing reads is a knob that turns nothing.
    assert sorted(set(declared) - set(used)) == []


def test_the_bands_are_ordered_from_what_scoring_keeps_to_certainty(declared) -> None:
    """Scoring keeps pairs from runtime.STORE_FLOOR up; the review band starts
    above it; a pinned auto-link threshold lies above review."""
    review = declared["match_probability_review"]
    assert 0 < runtime.STORE_FLOOR < review < 1
    pinned = declared["match_probability_auto_link"]
    assert pinned is None or review < pinned <= 1
    assert 0 < declared["auto_link_max_false_link_rate"] < 1


def test_a_model_link_never_outranks_a_rule_and_a_steward_outranks_all(declared) -> None:
    with (ROOT / "seeds" / "match_rules.csv").open() as rules:
        confidences = [float(row["confidence"]) for row in csv.DictReader(rules)]
    # A model link's confidence is the scale times a probability of at most 1.
    assert declared["model_edge_confidence_scale"] < min(confidences)
    assert declared["steward_must_link_confidence"] > max(confidences)


def test_the_guard_and_group_caps_are_positive_counts(declared) -> None:
    for name in (
        "guard_max_records",
        "guard_max_emails",
        "guard_max_phones",
        "guard_max_loyalty_ids",
        "guard_max_rounds",
        "cannot_link_max_rounds",
        "deterministic_max_group_size",
        "name_block_max_records",
        "household_name_min_records",
    ):
        assert isinstance(declared[name], int) and declared[name] > 0, name
    assert 0 < declared["first_name_typo_similarity"] < 1


def test_every_c360_variable_the_code_reads_is_documented_in_the_settings() -> None:
    sources = [
        p
        for package in ("c360", "orchestration", "splink_models")
        for p in (ROOT / package).rglob("*.py")
    ]
    sources += [ROOT / "profiles.yml"]
    named = {name for path in sources for name in re.findall(r"\bC360_[A-Z_]+\b", path.read_text())}
    documented = set(re.findall(r"\bC360_[A-Z_]+\b", settings_module.__doc__))
    assert named and sorted(named - documented) == []


def test_settings_come_from_the_environment_once() -> None:
    given = Settings.from_environment(
        {
            "C360_WAREHOUSE": "/w/h.duckdb",
            "C360_DUCKDB_MEMORY_LIMIT": "3GB",
            "C360_START_DATE": "2024-02-29",
            "C360_SCHEDULE_HOUR": "23",
            "C360_TRUTH": "",
        }
    )
    assert given.warehouse == Path("/w/h.duckdb")
    assert given.duckdb_memory_limit == "3GB"
    assert given.start_date == dt.date(2024, 2, 29)
    assert given.schedule_hour == 23
    assert given.truth is None  # empty is unset
    assert Settings.from_environment({}) == Settings()
    with pytest.raises(ValueError, match="C360_SCHEDULE_HOUR"):
        Settings.from_environment({"C360_SCHEDULE_HOUR": "24"})
    with pytest.raises(ValueError, match="C360_START_DATE"):
        Settings.from_environment({"C360_START_DATE": "yesterday"})


def test_the_process_reads_its_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_DUCKDB_MEMORY_LIMIT", "5GB")
    first = settings_module.settings()
    monkeypatch.setenv("C360_DUCKDB_MEMORY_LIMIT", "6GB")
    assert settings_module.settings() is first
    assert first.duckdb_memory_limit == "5GB"


def test_the_command_line_engine_wins_over_the_environment_and_brings_its_warehouse(
    monkeypatch,
) -> None:
    from c360.cli import build_parser
    from c360.settings import choose_engine, settings

    monkeypatch.setenv("C360_ENGINE", "duckdb")
    monkeypatch.delenv("C360_WAREHOUSE", raising=False)
    assert (settings().engine, settings().warehouse.name) == ("duckdb", "warehouse.duckdb")
    args = build_parser().parse_args(["run", "--landing", "x", "--engine", "spark"])
    choose_engine(args.engine)
    assert (settings().engine, settings().warehouse.name) == ("spark", "warehouse.spark")
    choose_engine(None)
    assert settings().engine == "duckdb"
    monkeypatch.setenv("C360_ENGINE", "oracle")
    with pytest.raises(ValueError, match="C360_ENGINE must be one of"):
        choose_engine(None) or settings()


def test_python_publishes_the_schemas_dbt_builds_apart() -> None:
    """Write-audit-publish: the schemas dbt builds under `__wap`
    (macros/generate_schema_name.sql) are those c360.warehouse.publish copies."""
    from c360 import warehouse

    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    assert tuple(project["vars"]["write_audit_publish_schemas"]) == warehouse.PUBLISHED_SCHEMAS
