"""The engine seam: everything that knows which database runs the warehouse.

One module per engine (`c360.engine.duckdb`, `c360.engine.spark`) holds the
calls that differ between engines: connecting, reading and writing files,
the catalog, transactions, compacting the storage, releasing connections,
and the Splink backend. Nothing outside this package imports an engine's
client library (tests/unit/test_layering.py holds that). docs/architecture.md,
"The engine seam", lists what an engine provides.

This package is the facade: `from c360 import engine`, then
`engine.connect(...)`, `engine.rows(...)`, `engine.Connection`... reach the
module of the engine the settings name (C360_ENGINE, default duckdb). The
engine module is imported on first use, so the DuckDB path never imports
pyspark, nor the Spark path duckdb.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from c360.settings import ENGINES, settings


def backend(name: str | None = None) -> ModuleType:
    """The engine module: `name`'s, else the settings' (C360_ENGINE)."""
    name = name or settings().engine
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")
    return importlib.import_module(f"{__name__}.{name}")


def __getattr__(attribute: str):
    # PEP 562: what this package does not define is the engine module's.
    if attribute.startswith("__"):
        raise AttributeError(attribute)
    try:
        return getattr(backend(), attribute)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}") from None
