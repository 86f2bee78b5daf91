"""The dbt docs site (`make docs`) documents what it shows: every model, seed,
snapshot and source table has a description, every column a mart's YAML lists
has one, and the exposures (models/marts/_exposures.yml: the app and the BI
dashboards that read the marts) name models that exist.

Reads the project's YAML with PyYAML, without dbt: it runs in well under a
second, and says which file to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
MARTS = MODELS / "marts"
EXPOSURE_TYPES = {"dashboard", "notebook", "analysis", "ml", "application"}
MATURITIES = {"high", "medium", "low"}
# ref('model'), ref("model"), ref('package', 'model'), ref('model', v=2)
REF = re.compile(r"""^ref\(\s*(?:['"]\w+['"]\s*,\s*)?['"](\w+)['"]\s*(?:,[^)]*)?\)$""")


def described(entry: dict) -> bool:
    return bool(str(entry.get("description") or "").strip())


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fail_if(problems: list[str], what: str) -> None:
    """One line a problem, each naming its file: a readable failure."""
    if problems:
        pytest.fail(f"{len(problems)} {what}:\n" + "\n".join(problems), pytrace=False)


def yaml_files() -> list[Path]:
    return sorted(
        [
            *MODELS.rglob("*.yml"),
            *(ROOT / "seeds").glob("*.yml"),
            *(ROOT / "snapshots").glob("*.yml"),
        ]
    )


@pytest.fixture(scope="module")
def properties() -> dict[str, list[tuple[Path, dict]]]:
    """Each resource key of the YAML files (models, seeds, snapshots, sources,
    exposures) -> (file, entry) for every entry under it."""
    found: dict[str, list[tuple[Path, dict]]] = {}
    for path in yaml_files():
        document = yaml.safe_load(path.read_text()) or {}
        for key, entries in document.items():
            if isinstance(entries, list):
                found.setdefault(key, []).extend((path, entry) for entry in entries)
    return found


@pytest.fixture(scope="module")
def models(properties) -> dict[str, tuple[Path, dict]]:
    return {entry["name"]: (path, entry) for path, entry in properties.get("models", [])}


def model_files() -> dict[str, Path]:
    return {path.stem: path for ext in ("sql", "py") for path in MODELS.rglob(f"*.{ext}")}


def test_every_model_has_yaml_with_a_description(models):
    files = model_files()
    assert files, "no models found under models/"
    missing = [relative(path) for name, path in sorted(files.items()) if name not in models]
    fail_if(missing, "models without a YAML entry")
    undescribed = [
        f"{relative(path)}: {name}"
        for name, (path, entry) in sorted(models.items())
        if not described(entry)
    ]
    fail_if(undescribed, "models without a description")


def test_every_yaml_model_has_a_model_file(models):
    files = model_files()
    orphans = [
        f"{relative(path)}: {name}" for name, (path, _) in models.items() if name not in files
    ]
    fail_if(orphans, "YAML entries of models that do not exist")


def test_every_mart_column_has_a_description(models):
    marts = {name: (path, entry) for name, (path, entry) in models.items() if MARTS in path.parents}
    assert marts, "no mart models found under models/marts/"
    no_columns = [
        f"{relative(path)}: {name}"
        for name, (path, entry) in marts.items()
        if not entry.get("columns")
    ]
    fail_if(no_columns, "marts whose YAML lists no columns")
    undescribed = [
        f"{relative(path)}: {name}.{column['name']}"
        for name, (path, entry) in sorted(marts.items())
        for column in entry["columns"]
        if not described(column)
    ]
    fail_if(undescribed, "mart columns without a description")


@pytest.mark.parametrize("kind", ["seeds", "snapshots"])
def test_every_seed_and_snapshot_has_a_description(properties, kind):
    entries = properties.get(kind, [])
    assert entries, f"no {kind} found in the project's YAML"
    undescribed = [
        f"{relative(path)}: {entry['name']}" for path, entry in entries if not described(entry)
    ]
    fail_if(undescribed, f"{kind} without a description")


def test_every_source_table_has_a_description(properties):
    undescribed = [
        f"{relative(path)}: {source['name']}.{table['name']}"
        for path, source in properties.get("sources", [])
        for table in source.get("tables", [])
        if not described(table)
    ]
    fail_if(undescribed, "source tables without a description")


def test_exposures_name_existing_models(properties):
    exposures = properties.get("exposures", [])
    names = {entry["name"] for _, entry in exposures}
    assert "customer_360_app" in names, "the Customer 360 app is not an exposure"
    assert any(entry.get("type") == "dashboard" for _, entry in exposures), "no BI dashboards"
    assert len(names) == len(exposures), "two exposures share a name"
    files = model_files()
    problems = []
    for path, entry in exposures:
        where = f"{relative(path)}: exposure {entry.get('name')}"
        if entry.get("type") not in EXPOSURE_TYPES:
            problems.append(f"{where}: type {entry.get('type')!r}, not {sorted(EXPOSURE_TYPES)}")
        if entry.get("maturity", "low") not in MATURITIES:
            problems.append(f"{where}: maturity {entry.get('maturity')!r}")
        if not described(entry):
            problems.append(f"{where}: no description")
        owner = entry.get("owner") or {}
        if not (owner.get("name") and owner.get("email")):
            problems.append(f"{where}: owner needs a name and an email")
        depends_on = entry.get("depends_on") or []
        if not depends_on:
            problems.append(f"{where}: depends on nothing")
        for dependency in depends_on:
            match = REF.match(str(dependency).strip())
            if not match:
                problems.append(f"{where}: {dependency!r} is not a ref('model')")
            elif match.group(1) not in files:
                problems.append(f"{where}: {dependency} names no model")
    fail_if(problems, "problems with the exposures")
