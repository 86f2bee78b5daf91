"""The engine seam: everything that knows which database runs the warehouse.

One module per engine (today `c360.engine.duckdb`) holds the calls that differ
between engines: connecting, reading and writing files, the catalog,
transactions, compacting the storage, releasing connections, and the Splink
backend. Nothing outside this package imports an engine's client library
(tests/unit/test_layering.py holds that). docs/architecture.md, "The engine
seam", lists what a second engine must provide.
"""
