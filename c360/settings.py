"""The Python side's settings: one typed object, read from the environment
once per process (`settings()`), and the one place the `C360_*` variables
are documented. The dbt project's knobs are its vars, declared once in
dbt_project.yml; tests/unit/test_knobs.py holds the invariants that span
the two.

    C360_ENGINE                 the engine running the warehouse: duckdb (default)
                                or spark (pyspark and Java 17: `pip install -e '.[spark]'`)
    C360_WAREHOUSE              the warehouse: DuckDB's file (default
                                data/warehouse.duckdb), Spark's directory
                                (default data/warehouse.spark)
    C360_SPARK_MASTER           Spark: the session's master (default local[2])
    C360_SPARK_DRIVER_MEMORY    Spark: the driver's memory, which is all of it locally (4g)
    C360_DUCKDB_MEMORY_LIMIT    DuckDB's memory limit, beyond which it spills (12GB)
    C360_DUCKDB_TEMP_DIRECTORY  where it spills (default <warehouse>.tmp)
    C360_DUCKDB_THREADS         DuckDB's threads (default one a core)
    C360_WAREHOUSE_BUSY_WAIT_SECONDS  how long a run waits for readers (a BI query)
                                to let go of the DuckDB file (default 60)
    C360_LANDING_MAX_REJECTED_SHARE  the share of a landing file's lines that may be
                                unreadable and quarantined before the file fails the
                                run (default 0.05)
    C360_DBT_PROJECT_DIR        another checkout of the dbt project to run
                                (a steward's branch; default this repository)
    C360_PRIVACY_EXPORT_DIR     where access exports are written
                                (default <warehouse dir>/privacy_exports)
    C360_LANDING                Dagster: the landing zone (default data/demo/landing)
    C360_TRUTH                  Dagster and `c360 serve`: the generator's truth, to
                                report accuracy
    C360_START_DATE             Dagster: the first daily partition (2025-01-01)
    C360_SCHEDULE_HOUR          Dagster: the hour of the daily run (0-23, default 5)
    C360_USERS_FILE             `c360 serve`: the app's accounts (default
                                <warehouse dir>/c360_users; `c360 users add`)
    C360_APP_HOST               `c360 serve`: the address it binds (default 127.0.0.1)
    C360_APP_PORT               `c360 serve`: its port (default 8360)
    DBT_TARGET_PATH             dbt's own: where its artifacts go (default target)

Secrets are not settings: they are read where they are used, each time, so
that no object holding them can be logged and a rotated mounted secret is
seen at once (c360/tokenization.py):

    C360_TOKENIZATION_KEY / C360_TOKENIZATION_KEY_FILE   the tokenization key
    C360_SUPPRESSION_KEY / C360_SUPPRESSION_KEY_FILE     the suppression key
    C360_TOKENIZATION_KEY_NEW                            a key rotation's new key
    C360_APP_SECRET_KEY                                  signs the app's session cookies
                                                         (else a random key per process)
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
ENGINES = ("duckdb", "spark")
# Each engine's default warehouse: a DuckDB file, a Spark directory.
DEFAULT_WAREHOUSES = {
    "duckdb": Path("data/warehouse.duckdb"),
    "spark": Path("data/warehouse.spark"),
}


@dataclass(frozen=True)
class Settings:
    engine: str = "duckdb"
    # None: the engine's default (DEFAULT_WAREHOUSES).
    warehouse: Path = None  # type: ignore[assignment]
    duckdb_memory_limit: str = "12GB"
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    duckdb_temp_directory: Path | None = None
    # None: DuckDB's default, one thread a core.
    duckdb_threads: int | None = None
    # How long a run waits for readers to let go of the warehouse file.
    warehouse_busy_wait_seconds: float = 60.0
    # The share of a landing file's lines that may be unreadable (set aside
    # in raw._landing_rejects) before the file counts as malformed and the
    # run stops instead.
    landing_max_rejected_share: float = 0.05
    dbt_project_dir: Path = PROJECT_DIR
    privacy_export_dir: Path | None = None
    landing: Path = Path("data/demo/landing")
    truth: Path | None = None
    start_date: dt.date = dt.date(2025, 1, 1)
    schedule_hour: int = 5
    dbt_target_path: Path = Path("target")
    # None: <warehouse dir>/c360_users (c360.app.auth.users_file).
    users_file: Path | None = None
    app_host: str = "127.0.0.1"
    app_port: int = 8360

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"C360_ENGINE must be one of {ENGINES}, not {self.engine!r}")
        if self.warehouse is None:
            object.__setattr__(self, "warehouse", DEFAULT_WAREHOUSES[self.engine])
        if not 0 <= self.schedule_hour <= 23:
            raise ValueError(
                f"C360_SCHEDULE_HOUR must be an hour of the day (0-23), not {self.schedule_hour}"
            )
        if not self.duckdb_memory_limit.strip():
            raise ValueError("C360_DUCKDB_MEMORY_LIMIT is empty")
        if self.duckdb_threads is not None and self.duckdb_threads < 1:
            raise ValueError(f"C360_DUCKDB_THREADS must be 1 or more, not {self.duckdb_threads}")
        if not 0 <= self.landing_max_rejected_share <= 1:
            raise ValueError(
                "C360_LANDING_MAX_REJECTED_SHARE must be a share between 0 and 1, not "
                f"{self.landing_max_rejected_share}"
            )

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, engine: str | None = None
    ) -> Settings:
        """The settings the environment gives; unset or empty variables keep
        their defaults. `engine`: a command line's choice, over C360_ENGINE."""
        env = os.environ if environ is None else environ

        def given(name: str) -> str | None:
            return env.get(name) or None

        defaults = cls()

        def path(name: str, default: Path | None) -> Path | None:
            value = given(name)
            return Path(value) if value else default

        start = given("C360_START_DATE")
        hour = given("C360_SCHEDULE_HOUR")
        try:
            start_date = dt.date.fromisoformat(start) if start else defaults.start_date
            schedule_hour = int(hour) if hour else defaults.schedule_hour
        except ValueError as bad:
            raise ValueError(f"invalid C360_START_DATE or C360_SCHEDULE_HOUR: {bad}") from None
        port = given("C360_APP_PORT")
        if port and not port.isdigit():
            raise ValueError(f"C360_APP_PORT must be a port number, not {port!r}")
        threads = given("C360_DUCKDB_THREADS")
        if threads and not threads.isdigit():
            raise ValueError(f"C360_DUCKDB_THREADS must be a number of threads, not {threads!r}")

        def number(name: str, default: float) -> float:
            value = given(name)
            try:
                return float(value) if value else default
            except ValueError:
                raise ValueError(f"{name} must be a number, not {value!r}") from None

        engine = (engine or given("C360_ENGINE") or defaults.engine).strip().lower()
        return cls(
            engine=engine,
            warehouse=path("C360_WAREHOUSE", None),
            duckdb_memory_limit=given("C360_DUCKDB_MEMORY_LIMIT") or defaults.duckdb_memory_limit,
            spark_master=given("C360_SPARK_MASTER") or defaults.spark_master,
            spark_driver_memory=given("C360_SPARK_DRIVER_MEMORY") or defaults.spark_driver_memory,
            duckdb_temp_directory=path("C360_DUCKDB_TEMP_DIRECTORY", None),
            duckdb_threads=int(threads) if threads else None,
            warehouse_busy_wait_seconds=number(
                "C360_WAREHOUSE_BUSY_WAIT_SECONDS", defaults.warehouse_busy_wait_seconds
            ),
            landing_max_rejected_share=number(
                "C360_LANDING_MAX_REJECTED_SHARE", defaults.landing_max_rejected_share
            ),
            dbt_project_dir=path("C360_DBT_PROJECT_DIR", defaults.dbt_project_dir),
            privacy_export_dir=path("C360_PRIVACY_EXPORT_DIR", None),
            landing=path("C360_LANDING", defaults.landing),
            truth=path("C360_TRUTH", None),
            start_date=start_date,
            schedule_hour=schedule_hour,
            dbt_target_path=path("DBT_TARGET_PATH", defaults.dbt_target_path),
            users_file=path("C360_USERS_FILE", None),
            app_host=given("C360_APP_HOST") or defaults.app_host,
            app_port=int(port) if port else defaults.app_port,
        )


# What the command line chose (`c360 … --engine`), over the environment.
_command_line: dict[str, str] = {}


def choose_engine(engine: str | None) -> None:
    """The engine a command line names, for the rest of the process (None:
    the environment's)."""
    _command_line.pop("engine", None)
    if engine:
        _command_line["engine"] = engine
    settings.cache_clear()


@functools.cache
def settings() -> Settings:
    """The process's settings, read from the environment at the first call,
    with the command line's choices over it."""
    return Settings.from_environment(**_command_line)
