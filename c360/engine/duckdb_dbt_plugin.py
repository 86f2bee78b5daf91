"""dbt-duckdb plugin: hands every dbt cursor the tokenization key's HMAC pads,
and dbt's connection the project's Python SQL functions.

Registered in profiles.yml (`plugins: - module: c360.engine.duckdb_dbt_plugin`). Tokens are
computed in SQL by the dispatched `pii_token` macro (macros/tokenize/), which
reads the pads from session variables. The pads are bound as parameters, so
the key never appears in SQL, compiled files or logs. The key is read again
for every cursor, so a key rotation takes effect in a running process.

The functions (c360.engine.duckdb.register_functions: c360_phone_e164, phone
numbers under their country's plan) are registered once on the connection;
its cursors share them.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from c360.engine.duckdb import apply_limits, bind_hmac_pads, register_functions
from c360.tokenization import TOKEN_PADS, tokenization_key


def bind_token_pads(cursor) -> None:
    bind_hmac_pads(cursor, TOKEN_PADS, tokenization_key())


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        # The limits are the plugin's, not the profile's `settings`: dbt-duckdb
        # applies those to every cursor, and DuckDB refuses a second
        # `set temp_directory` once it has spilled, failing the next model.
        self.memory_limit = plugin_config["memory_limit"]
        self.temp_directory = plugin_config["temp_directory"]
        self.threads = int(plugin_config.get("threads") or 0) or None

    # DuckDB session variables belong to one connection: dbt-duckdb runs every
    # statement on a cursor (a connection of its own), so each gets the pads.
    def configure_connection(self, conn) -> None:
        apply_limits(conn, self.memory_limit, self.temp_directory, self.threads)
        register_functions(conn)
        bind_token_pads(conn)

    def configure_cursor(self, cursor) -> None:
        bind_token_pads(cursor)
