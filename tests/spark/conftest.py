"""The Spark engine's tests: one Spark session for the process (a session
serves one warehouse), one warehouse directory for every module, a
connection per module.

They need pyspark and Java 17; without them they fail, saying what to
install, rather than skip: a Spark deployment must not lose its tests
silently."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

from c360.settings import settings

INSTALL = (
    "the Spark engine's tests need pyspark and Java 17: "
    "`pip install -e '.[spark]'` and `apt-get install openjdk-17-jre-headless`"
)


def _spark_engine():
    try:
        import pyspark  # noqa: F401
    except ImportError as missing:
        pytest.fail(f"{INSTALL} ({missing})", pytrace=False)
    if not shutil.which("java"):
        pytest.fail(f"{INSTALL} (no `java` on PATH)", pytrace=False)
    from c360.engine import spark

    return spark


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory):
    return tmp_path_factory.mktemp("spark") / "warehouse.spark"


@contextlib.contextmanager
def engine_named(name: str) -> Iterator[None]:
    """The engine the facade (c360.engine) resolves to, within the block."""
    previous = os.environ.get("C360_ENGINE")
    os.environ["C360_ENGINE"] = name
    settings.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("C360_ENGINE", None)
        else:
            os.environ["C360_ENGINE"] = previous
        settings.cache_clear()


@pytest.fixture(scope="module")
def spark_engine():
    """The Spark engine for a module's tests, and only for them: the worker
    runs other tests after it (on DuckDB), in the same process."""
    engine = _spark_engine()
    with engine_named("spark"):
        yield engine


@pytest.fixture(scope="module")
def con(spark_engine, spark_warehouse):
    connection = spark_engine.connect(spark_warehouse)
    yield connection
    connection.close()
