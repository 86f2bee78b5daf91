"""dbt-duckdb plugin: gives every dbt connection the `c360_pii_token` function.

Registered in profiles.yml (`plugins: - module: c360.dbt_plugin`), so models
call it through the dispatched `pii_token` macro and the key never appears
in SQL, compiled files or logs.
"""

from __future__ import annotations

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from c360.tokenization import token, tokenization_key


def _tokens(pii_types: pa.Array, values: pa.Array) -> pa.Array:
    key = tokenization_key()
    return pa.array(
        [token(t, v, key) for t, v in zip(pii_types.to_pylist(), values.to_pylist(), strict=True)],
        pa.string(),
    )


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.create_function(
            "c360_pii_token",
            _tokens,
            [VARCHAR, VARCHAR],
            VARCHAR,
            type="arrow",
            null_handling="special",
        )
