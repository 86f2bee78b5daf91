"""Helpers the test modules share: no fixtures (those live in conftest.py files),
no tests.

- generated_data: DuckDB relations over a generated landing zone and its truth;
  the shape of the ten-day data set.
- landing: a day's rows written into a landing zone (parquet or CSV), a record
  read back, a copied warehouse pointed at a copied landing zone.
- warehouse_files: a copy of a warehouse file to change, a one-off query, and
  the file's lock released by this process's dbt.
- dbt_project: a copy of the dbt project a test may edit (a steward's overrides).
- privacy_scan: where a person's values, or PII-shaped values, could still be.
- full_refresh: a full rebuild from raw compared with what the incremental runs left.
"""
