"""Tools around the runtime, not part of it: the synthetic six-source data
generator with its ground truth (`c360 generate`, `c360 demo`) and the
benchmarks (`make bench`). The runtime (pipeline, its stages, the engine)
never imports them (tests/unit/test_layering.py)."""
