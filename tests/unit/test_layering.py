"""The import graph of the Python packages: no circles, the layers that
pyproject.toml's import-linter contracts state (cli/orchestration -> tools ->
pipeline -> stages -> warehouse -> engine), and one engine seam.

Imports inside functions count: a lazy import that closes a circle is still
a circle, only hidden."""

from __future__ import annotations

import os
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

PACKAGES = ("c360", "orchestration", "splink_models")
ENGINE_PACKAGE = "c360.engine"
ENGINE_LIBRARIES = ("duckdb", "pyspark")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def import_circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), or of
    one module importing itself: each is a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(imports.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in imports.get(module, ()):
                circles.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return circles


def test_the_circle_finder_finds_a_circle_through_a_lazy_import() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert import_circles(imports) == [["a", "b", "c"], ["e"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []


def _internal(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    internal = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    return {m: graph.find_modules_directly_imported_by(m) & internal for m in internal}


def test_no_import_circles(graph: grimp.ImportGraph) -> None:
    assert import_circles(_internal(graph)) == []


def test_only_the_engine_seam_imports_an_engine_library(graph: grimp.ImportGraph) -> None:
    offenders = {
        module: sorted(graph.find_modules_directly_imported_by(module) & set(ENGINE_LIBRARIES))
        for module in _internal(graph)
        if not (module == ENGINE_PACKAGE or module.startswith(f"{ENGINE_PACKAGE}."))
    }
    assert {m: libs for m, libs in offenders.items() if libs} == {}


# Within the seam, each engine's library is its own module's.
ENGINE_MODULES = {
    "duckdb": {"c360.engine.duckdb", "c360.engine.duckdb_dbt_plugin"},
    "pyspark": {"c360.engine.spark"},
}


def test_each_engine_library_is_imported_by_its_engine_module_alone(
    graph: grimp.ImportGraph,
) -> None:
    importers = {
        library: {
            module
            for module in _internal(graph)
            if library in graph.find_modules_directly_imported_by(module)
        }
        for library in ENGINE_LIBRARIES
    }
    for library, modules in importers.items():
        assert modules <= ENGINE_MODULES[library], library


def test_the_import_linter_contracts_hold() -> None:
    """The layers and the forbidden imports of pyproject.toml (`make lint` runs
    the same contracts)."""
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        assert lint_imports(config_filename="pyproject.toml", no_cache=True, no_logo=True) == 0
    finally:
        os.chdir(previous)
