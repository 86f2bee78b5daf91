"""The Spark engine: the only module that imports pyspark (`pip install -e '.[spark]'`,
and Java 17).

The warehouse is a directory: Parquet tables under `tables/`, their catalog in
an embedded Hive metastore (Derby) under `metastore_db/`, so a second process
sees what the first built (profiles.yml's `spark` target starts the same
session). One SparkSession per process, for one warehouse: its static
configuration (warehouse directory, metastore) cannot change once started,
so `connect` to another warehouse in the same process raises `WarehouseBusy`.
Derby lets one process at a time open the metastore; a second one fails.

A `Connection` is a small object over the session offering the DB-API subset
the stages use (`execute(sql, params)` -> `fetchall()`, `description`;
`executemany`; `cursor`; `close`), so the stages keep one code path. The
stages write DuckDB's dialect: each statement is transpiled by sqlglot
(`read="duckdb", write="spark"`), `?` parameters are bound as Spark named
parameters (never spliced into the text), and what Parquet tables lack is
emulated here (see `Connection`):

- temp tables: Parquet files under `_c360/temp/<connection>/` with a temp
  view over them, dropped with the connection;
- `delete`, `update` (without `from`), `insert or replace`: only the Parquet
  files that hold affected rows are rewritten (found by their `_metadata`
  file path), the others are untouched; then the table is refreshed;
- `insert or ignore`: only the rows whose primary key the table lacks are
  appended;
- `insert ... select` returns the number of rows inserted, as DuckDB does;
- primary keys are not enforced: they are kept as a table property,
  `c360.primary_key`, which `insert or replace` and `insert or ignore` read;
- `alter table ... add column if not exists`.

Transactions: Parquet tables have none. `transaction(con)` journals the
files each statement adds or removes (removed files are moved aside, not
deleted, until the block ends): if the block raises, the added files are
deleted and the removed ones put back, so the data of every table the block
wrote is restored. It is not atomic against a crash mid-block or a
concurrent reader (a reader may see a half-done block), and DDL
(`create or replace table`, `drop`, `alter`) is not undone. Delta Lake or
Iceberg tables would give per-table atomic commits; their jars are not part
of this deployment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyspark
import sqlglot
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sqlglot import exp

from c360.engine import dbapi
from c360.landing_files import CsvDialect
from c360.settings import settings

NAME = "spark"
# The dialect Splink and sqlglot write this engine's SQL in.
SQL_DIALECT = "spark"
# The dialect the stages write their SQL in (transpiled from, per statement).
SOURCE_DIALECT = "duckdb"
PRIMARY_KEY_PROPERTY = "c360.primary_key"
SPARK_VERSION = pyspark.__version__

logger = logging.getLogger(__name__)


class WarehouseBusy(RuntimeError):
    """The process's Spark session belongs to another warehouse, or another
    process holds this warehouse's metastore."""


class UnsupportedStatement(NotImplementedError):
    """A statement the Spark connection cannot run on Parquet tables."""


# -- the session ---------------------------------------------------------------

_SESSION: SparkSession | None = None
_WAREHOUSE: Path | None = None


def _home(path: str | os.PathLike) -> Path:
    return Path(path).resolve()


def session_config(path: str | os.PathLike) -> dict[str, str]:
    """The session's configuration for a warehouse directory (profiles.yml's
    `spark` target sets the same)."""
    home = _home(path)
    from splink.backends.spark import similarity_jar_location

    return {
        "spark.master": settings().spark_master,
        "spark.app.name": "c360",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(home / "tables"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={home}/metastore_db;create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
        # Locally the driver is the executor too; Spark's 1 GB default runs
        # out of heap while planning the larger incremental models.
        "spark.driver.memory": settings().spark_driver_memory,
        "spark.sql.shuffle.partitions": "4",
        # Parquet has no row-level delete: an erasure rewrites each file
        # holding a subject's row. Files of bounded rows make that cost what
        # the erasures hit, not the table's size (docs/spark.md).
        "spark.sql.files.maxRecordsPerFile": "100000",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.jars": similarity_jar_location(),
        # Python UDF workers run this interpreter (c360.phones is importable).
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }


def session(path: str | os.PathLike) -> SparkSession:
    """The process's Spark session, started for the warehouse `path` if none
    is; `WarehouseBusy` if the process's session serves another warehouse."""
    global _SESSION, _WAREHOUSE
    home = _home(path)
    active = SparkSession.getActiveSession()
    if _SESSION is not None and active is _SESSION and home == _WAREHOUSE:
        return _SESSION
    if active is not None:
        # dbt-spark (or a test) started it: usable if it serves this warehouse.
        serves = active.conf.get("spark.sql.warehouse.dir", "")
        served = Path(serves.removeprefix("file:")).resolve().parent if serves else None
        if served != home:
            raise WarehouseBusy(
                f"this process's Spark session serves the warehouse {served}, not {home}: "
                "a session's warehouse cannot change; use one warehouse per process"
            )
        _SESSION, _WAREHOUSE = active, home
        _prepare_session(active, home)
        return active
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in session_config(home).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as failed:  # pragma: no cover - the JVM's message says why
        raise WarehouseBusy(f"cannot start Spark for {home}: {failed}") from failed
    spark.sparkContext.setLogLevel("ERROR")
    _SESSION, _WAREHOUSE = spark, home
    _prepare_session(spark, home)
    return spark


def _prepare_session(spark: SparkSession, home: Path) -> None:
    checkpoints = home / "_c360" / "splink_checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(checkpoints))
    try:
        # Fails (Derby's lock) when another process holds the metastore.
        spark.sql("show databases").collect()
    except Exception as held:
        raise WarehouseBusy(f"cannot open the catalog of {home}: {held}") from held
    _register_udfs(spark)


def _scratch(kind: str) -> Path:
    assert _WAREHOUSE is not None
    path = _WAREHOUSE / "_c360" / kind / uuid.uuid4().hex
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# -- connections ---------------------------------------------------------------


class Cursor:
    """The result of one statement: `fetchall()` and `description`."""

    def __init__(self, rows: list[tuple] | None = None, columns: Sequence[str] = ()):
        self._rows = rows or []
        self.description = [(name, None, None, None, None, None, None) for name in columns]
        self.rowcount = len(self._rows)

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    @classmethod
    def of(cls, frame: DataFrame) -> Cursor:
        return cls([tuple(row) for row in frame.collect()], frame.columns)


@dataclass
class _Target:
    """A table or temp table as DML sees it: its name in SQL, its files."""

    name: str
    location: Path
    schema: T.StructType
    partition_columns: tuple[str, ...]
    temp: bool


class Connection:
    """The DB-API subset the stages use, over the process's Spark session."""

    def __init__(self, spark: SparkSession, warehouse: Path):
        self.session = spark
        self.warehouse = warehouse
        self.id = uuid.uuid4().hex[:12]
        # Temp tables of this connection: name -> its files' directory.
        self._temp: dict[str, Path] = {}
        # In a transaction: ("added", file) / ("moved", original, aside).
        self._journal: list[tuple] | None = None
        self._touched: set[str] = set()
        self.closed = False

    # DB-API -------------------------------------------------------------------

    def cursor(self) -> Connection:
        return self

    def execute(self, sql: str, params: Sequence | None = None) -> Cursor:
        if self.closed:
            raise RuntimeError("this Spark connection is closed")
        statement, args = _parse(sql, params)
        return self._run(statement, args)

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        rows = list(rows)
        if not rows:
            return
        statement, _ = _parse(sql, rows[0])
        values = statement.expression if isinstance(statement, exp.Insert) else None
        if not isinstance(values, exp.Values):
            for row in rows:
                self.execute(sql, row)
            return
        # One insert of many rows, not one Parquet file per row.
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            many, args = _parse(sql, chunk[0])
            tuples = []
            bound: dict[str, object] = {}
            for i, row in enumerate(chunk):
                one, one_args = _parse(sql, row, prefix=f"r{i}_")
                tuples.append(one.expression.expressions[0])
                bound.update(one_args)
            many.expression.set("expressions", tuples)
            self._run(many, bound)

    def close(self) -> None:
        if self.closed:
            return
        for name, location in self._temp.items():
            self.session.catalog.dropTempView(name)
            shutil.rmtree(location, ignore_errors=True)
        self._temp.clear()
        self.closed = True

    def sql(self, text: str, args: dict | None = None) -> DataFrame:
        """Spark SQL (already in Spark's dialect) on the session."""
        return self.session.sql(text, args=args or None)

    # dispatch -----------------------------------------------------------------

    def _run(self, statement: exp.Expression, args: dict) -> Cursor:
        if isinstance(statement, exp.Create):
            return self._create(statement, args)
        if isinstance(statement, exp.Insert):
            return self._insert(statement, args)
        if isinstance(statement, exp.Delete):
            return self._delete(statement, args)
        if isinstance(statement, exp.Update):
            return self._update(statement, args)
        if isinstance(statement, exp.Alter):
            return self._alter(statement, args)
        if isinstance(statement, exp.Drop) and self._temp_name(statement.this):
            name = self._temp_name(statement.this)
            self.session.catalog.dropTempView(name)
            shutil.rmtree(self._temp.pop(name), ignore_errors=True)
            return Cursor()
        frame = self.sql(_spark_sql(statement), args)
        return Cursor.of(frame)

    # DDL ----------------------------------------------------------------------

    def _create(self, statement: exp.Create, args: dict) -> Cursor:
        kind = (statement.args.get("kind") or "").upper()
        if kind not in ("TABLE", "VIEW"):
            self.sql(_spark_sql(statement), args)
            return Cursor()
        properties = statement.args.get("properties")
        temporary = bool(properties and properties.find(exp.TemporaryProperty))
        replace = bool(statement.args.get("replace"))
        table = statement.this if isinstance(statement.this, exp.Table) else statement.this.this
        query = statement.expression
        if kind == "VIEW":
            self.sql(_spark_sql(statement), args)
            return Cursor()
        if temporary:
            return self._create_temp(statement, table.name, query, args, replace)
        name = _table_name(table)
        exists = self.session.catalog.tableExists(name)
        if exists and statement.args.get("exists"):
            return Cursor()
        if exists and replace:
            self.sql(f"drop table {_quoted(name)}")
        if query is not None:
            frame = self.sql(_spark_sql(query), args)
            self.sql(f"create table {_quoted(name)} using parquet as select * from {_view(frame)}")
            return Cursor()
        columns, keys = _column_defs(statement.this)
        ddl = f"create table {_quoted(name)} ({columns}) using parquet"
        if keys:
            ddl += f" tblproperties ('{PRIMARY_KEY_PROPERTY}' = '{','.join(keys)}')"
        self.sql(ddl)
        return Cursor()

    def _create_temp(self, statement, name: str, query, args, replace: bool) -> Cursor:
        if name in self._temp and not replace:
            if statement.args.get("exists"):
                return Cursor()
            raise ValueError(f"temp table {name} already exists")
        if query is not None:
            frame = self.sql(_spark_sql(query), args)
        else:
            columns, _ = _column_defs(statement.this)
            frame = self.session.createDataFrame([], T.StructType.fromDDL(columns))
        location = _scratch("temp")
        frame.write.parquet(str(location))
        previous = self._temp.get(name)
        self._temp[name] = location
        self._view_temp(name, frame.schema)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        return Cursor()

    def _view_temp(self, name: str, schema: T.StructType) -> None:
        self.session.read.schema(schema).parquet(str(self._temp[name])).createOrReplaceTempView(
            name
        )

    def _alter(self, statement: exp.Alter, args: dict) -> Cursor:
        actions = statement.args.get("actions") or []
        name = _table_name(statement.this)
        if all(isinstance(a, exp.ColumnDef) for a in actions):
            present = {f.name.lower() for f in self.session.table(name).schema.fields}
            new = [a for a in actions if a.name.lower() not in present]
            if new:
                columns = ", ".join(_column_sql(a) for a in new)
                self.sql(f"alter table {_quoted(name)} add columns ({columns})")
            return Cursor()
        self.sql(_spark_sql(statement), args)
        return Cursor()

    # DML ----------------------------------------------------------------------

    def _insert(self, statement: exp.Insert, args: dict) -> Cursor:
        into = statement.this
        columns = None
        if isinstance(into, exp.Schema):
            columns = [c.name for c in into.expressions]
            into = into.this
        target = self._target(into)
        source = statement.expression
        if isinstance(source, exp.Values):
            width = len(source.expressions[0].expressions)
            alias = exp.TableAlias(
                this=exp.to_identifier("_c360_values"),
                columns=[exp.to_identifier(f"_c{i}") for i in range(width)],
            )
            values = source.copy()
            values.set("alias", alias)
            source = exp.select("*").from_(values)
            frame = self.sql(_spark_sql(source), args)
            frame = frame.toDF(*(columns or [f.name for f in target.schema.fields][:width]))
            by_name = True
        else:
            frame = self.sql(_spark_sql(source), args)
            by_name = bool(statement.args.get("by_name"))
            if columns:
                frame = frame.toDF(*columns)
                by_name = True
        frame = _aligned(frame, target.schema, by_name=by_name)
        alternative = (statement.args.get("alternative") or "").upper()
        keys = self._primary_key(target) if alternative in ("REPLACE", "IGNORE") else []
        if alternative in ("REPLACE", "IGNORE") and not keys:
            raise UnsupportedStatement(
                f"insert or {alternative.lower()} into {target.name}: the table has no primary key"
            )
        if alternative == "IGNORE":
            # The rows whose key the table does not hold yet, one per key
            # (which of several new rows sharing a key is not defined; DuckDB
            # keeps the first), staged before the table they read is appended to.
            existing = self.session.table(target.name).select(*[F.col(f"`{k}`") for k in keys])
            frame = frame.dropDuplicates(keys).join(existing, on=keys, how="left_anti")
            frame = frame.select(*[F.col(f"`{f.name}`") for f in target.schema.fields])
            frame = frame.localCheckpoint()
        if alternative == "REPLACE":
            staged = frame.localCheckpoint()
            view = _view(staged)
            matches = " and ".join(f"_new.`{k}` = _old.`{k}`" for k in keys)
            self._rewrite(
                target,
                "_old",
                f"exists (select 1 from {view} as _new where {matches})",
                {},
                None,
            )
            frame = staged
        count = self._append(target, frame)
        return Cursor([(count,)], ["Count"])

    def _delete(self, statement: exp.Delete, args: dict) -> Cursor:
        if statement.args.get("using"):
            raise UnsupportedStatement("delete ... using: write it with `where ... in (select)`")
        table = statement.this
        target = self._target(table)
        alias = table.alias_or_name
        where = statement.args.get("where")
        condition = _spark_sql(where.this) if where else "true"
        count = self._rewrite(target, alias, condition, args, None)
        return Cursor([(count,)], ["Count"])

    def _update(self, statement: exp.Update, args: dict) -> Cursor:
        if statement.args.get("from"):
            raise UnsupportedStatement(
                "update ... from is not emulated on Parquet tables: write it at the call "
                "site as a rebuild of the table, or as `update ... where key in (select ...)`"
            )
        table = statement.this
        target = self._target(table)
        where = statement.args.get("where")
        condition = _spark_sql(where.this) if where else "true"
        assignments = {}
        for eq in statement.expressions:
            assignments[eq.this.name.lower()] = _spark_sql(eq.expression)
        count = self._rewrite(target, table.alias_or_name, condition, args, assignments)
        return Cursor([(count,)], ["Count"])

    # tables and their files ---------------------------------------------------

    def _temp_name(self, table: exp.Expression) -> str | None:
        if isinstance(table, exp.Table) and not table.db and table.name in self._temp:
            return table.name
        return None

    def _target(self, table: exp.Expression) -> _Target:
        temp = self._temp_name(table)
        if temp:
            schema = self.session.table(temp).schema
            return _Target(temp, self._temp[temp], schema, (), True)
        name = _table_name(table)
        if not self.session.catalog.tableExists(name):
            raise ValueError(f"table {name} does not exist")
        details = {
            r[0].strip(): r[1]
            for r in self.sql(f"describe table extended {_quoted(name)}").collect()
            if r[0]
        }
        if details.get("Type", "").upper() == "VIEW":
            raise UnsupportedStatement(f"{name} is a view")
        location = Path(details["Location"].removeprefix("file:"))
        partitions = tuple(c.name for c in self.session.catalog.listColumns(name) if c.isPartition)
        schema = self.session.table(name).schema
        return _Target(name, location, schema, partitions, False)

    def _primary_key(self, target: _Target) -> list[str]:
        if target.temp:
            return []
        for key, value in self.sql(f"show tblproperties {_quoted(target.name)}").collect():
            if key == PRIMARY_KEY_PROPERTY:
                return [k for k in value.split(",") if k]
        return []

    def _refresh(self, target: _Target) -> None:
        if target.temp:
            self._view_temp(target.name, target.schema)
        else:
            self.sql(f"refresh table {_quoted(target.name)}")

    def _append(self, target: _Target, frame: DataFrame) -> int:
        """Append the frame's rows to the target; how many."""
        observation = pyspark.sql.Observation()
        observed = frame.observe(observation, F.count(F.lit(1)).alias("rows"))
        before = set(_data_files(target.location))
        if target.temp:
            observed.write.mode("append").parquet(str(target.location))
        else:
            observed.write.insertInto(target.name)
        rows = observation.get["rows"]
        self._journal_add(set(_data_files(target.location)) - before)
        self._refresh(target)
        self._touched.add(target.name)
        return rows

    def _rewrite(
        self,
        target: _Target,
        alias: str,
        condition: str,
        args: dict,
        assignments: dict[str, str] | None,
    ) -> int:
        """Delete (assignments None) or update the rows of `target` the
        condition holds for: rewrite only the files that hold such rows.
        Returns how many rows it deleted or updated."""
        reader = self.session.read.schema(target.schema)
        if target.partition_columns:
            reader = reader.option("basePath", str(target.location))
        files = _data_files(target.location)
        if not files:
            return 0
        scan = reader.parquet(*map(str, files)).withColumn(
            "_c360_file", F.col("_metadata.file_path")
        )
        view = _view(scan)
        hits = self.sql(
            f"select _c360_file, count(*) as n from {view} as {_ident(alias)} "
            f"where {condition} group by _c360_file",
            args,
        ).collect()
        if not hits:
            return 0
        affected = [_local_path(r[0]) for r in hits]
        count = sum(r[1] for r in hits)
        part = reader.parquet(*map(str, affected))
        part_view = _view(part)
        names = [f.name for f in target.schema.fields]
        if assignments is None:
            kept = self.sql(
                f"select * from {part_view} as {_ident(alias)} "
                f"where not coalesce({condition}, false)",
                args,
            )
        else:
            # The condition only in WHERE clauses (a subquery in it may not
            # be allowed in a projection), and the assignments only on the
            # rows it holds for: the updated rows and the others apart, each
            # projected before the union (a correlated subquery in an
            # assignment, projected above the union, breaks Spark's
            # PushProjectionThroughUnion: "key not found").
            projection = ", ".join(
                (
                    f"cast({assignments[n.lower()]} as "
                    f"{target.schema[n].dataType.simpleString()}) as {_ident(n)}"
                )
                if n.lower() in assignments
                else _ident(n)
                for n in names
            )
            hit_rows = self.sql(
                f"select {projection} from {part_view} as {_ident(alias)} where {condition}",
                args,
            )
            other_rows = self.sql(
                f"select * from {part_view} as {_ident(alias)} "
                f"where not coalesce({condition}, false)",
                args,
            )
            kept = hit_rows.unionByName(other_rows)
        staging = _scratch("staging")
        writer = kept.select(*[F.col(f"`{n}`") for n in names]).write
        if target.partition_columns:
            writer = writer.partitionBy(*target.partition_columns)
        writer.parquet(str(staging))
        aside = _scratch("aside")
        if self._journal is not None:
            self._journal.append(("aside", aside))
        for path in affected:
            self._move_aside(path, target.location, aside)
        added = []
        for new in _data_files(staging):
            destination = target.location / new.relative_to(staging)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(new, destination)
            added.append(destination)
        shutil.rmtree(staging, ignore_errors=True)
        self._journal_add(added)
        if self._journal is None:
            shutil.rmtree(aside, ignore_errors=True)
        self._refresh(target)
        self._touched.add(target.name)
        return count

    def _move_aside(self, path: Path, root: Path, aside: Path) -> None:
        destination = aside / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, destination)
        checksum = path.with_name(f".{path.name}.crc")
        if checksum.exists():
            checksum.unlink()
        if self._journal is not None:
            self._journal.append(("moved", path, destination))

    def _journal_add(self, files) -> None:
        if self._journal is not None:
            self._journal.extend(("added", f) for f in files)

    # transactions -------------------------------------------------------------

    def begin(self) -> None:
        if self._journal is not None:
            raise RuntimeError("a transaction is already open on this connection")
        self._journal = []
        self._touched = set()

    def commit(self) -> None:
        journal, self._journal = self._journal or [], None
        for entry in journal:
            if entry[0] == "moved":
                entry[2].unlink(missing_ok=True)
            elif entry[0] == "aside":
                shutil.rmtree(entry[1], ignore_errors=True)

    def rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for entry in reversed(journal):
            if entry[0] == "added":
                entry[1].unlink(missing_ok=True)
                entry[1].with_name(f".{entry[1].name}.crc").unlink(missing_ok=True)
            elif entry[0] == "moved":
                _, original, aside = entry
                original.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(aside, original)
        for name in list(self._temp):
            self._view_temp(name, self.session.table(name).schema)
        for name in self._touched - set(self._temp):
            with contextlib.suppress(Exception):
                self.sql(f"refresh table {_quoted(name)}")


# -- statements ----------------------------------------------------------------

# The same over both engines' connections (c360/engine/dbapi.py).
rows, scalar, insert_many = dbapi.rows, dbapi.scalar, dbapi.insert_many

_QUESTION = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\?)""")


def _numbered(sql: str, count: int) -> str:
    """`?` placeholders as `$1`, `$2`... (outside strings and identifiers),
    which sqlglot parses in DuckDB's dialect wherever DuckDB allows them."""
    position = itertools.count(1)

    def number(match: re.Match) -> str:
        text = match.group(0)
        return f"${next(position)}" if text == "?" else text

    return _QUESTION.sub(number, sql)


def _parse(sql: str, params: Sequence | None, prefix: str = "p") -> tuple[exp.Expression, dict]:
    params = list(params or [])
    statements = [
        s for s in sqlglot.parse(_numbered(sql, len(params)), read=SOURCE_DIALECT) if s is not None
    ]
    if len(statements) != 1:
        raise ValueError(f"one statement at a time, not {len(statements)}: {sql[:200]}")
    statement = statements[0]
    args: dict[str, object] = {}
    for node in list(statement.find_all(exp.Placeholder)):
        index = int(node.name) - 1
        name = f"{prefix}{index + 1}"
        args[name] = _parameter(params[index])
        node.replace(exp.Placeholder(this=name))
    return _portable(statement), args


def _parameter(value):
    """A Python value as Spark binds it; lists become arrays."""
    if isinstance(value, (list, tuple)):
        return F.array(*[F.lit(_parameter(v)) for v in value]) if value else F.array()
    return value


def _portable(statement: exp.Expression) -> exp.Expression:
    """The DuckDB-only pieces sqlglot keeps as they are, in Spark's terms."""

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this in (
            exp.DataType.Type.UBIGINT,
            exp.DataType.Type.UINT,
        ):
            return exp.DataType.build("bigint")
        name = ""
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
        elif isinstance(node, exp.Func):
            name = node.sql_name().lower()
        if name == "hash":
            # DuckDB's 64-bit hash; Spark's `hash` has 32 bits.
            args = node.expressions if isinstance(node, exp.Anonymous) else node.flatten()
            return exp.Anonymous(this="xxhash64", expressions=list(args))
        if name in ("jarowinkler_similarity", "jaro_winkler_similarity"):
            # DuckDB's Jaro-Winkler as the session's (spark_similarity):
            # Spark 4.3's builtin `jaro_winkler_similarity` computes another
            # value ("blanca" / "blaanca": 0.9083, not 0.9278) and shadows a
            # session function of its name.
            if isinstance(node, exp.Anonymous):
                args = list(node.expressions)
            else:
                args = [node.this, node.expression]
            return exp.Anonymous(this="jaro_winkler", expressions=args)
        if name == "getvariable":
            variable = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
            return exp.column(variable.name, table="session", db="system")
        return node

    return statement.transform(fix)


def _spark_sql(node: exp.Expression) -> str:
    return node.sql(dialect="spark")


def _table_name(table: exp.Expression) -> str:
    if isinstance(table, exp.Schema):
        table = table.this
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return ".".join(parts)


def _quoted(name: str) -> str:
    return ".".join(f"`{p}`" for p in name.split("."))


def _ident(name: str) -> str:
    return f"`{name}`"


_VIEWS = itertools.count()


def _view(frame: DataFrame) -> str:
    name = f"_c360_frame_{os.getpid()}_{next(_VIEWS)}"
    frame.createOrReplaceTempView(name)
    return name


def _column_sql(column: exp.ColumnDef) -> str:
    kind = column.args.get("kind")
    return f"{_ident(column.name)} {kind.sql(dialect='spark') if kind else 'string'}"


def _column_defs(schema: exp.Expression) -> tuple[str, list[str]]:
    """A CREATE TABLE's columns in Spark DDL (no constraints: Parquet tables
    enforce none), and its primary key."""
    columns, keys = [], []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            columns.append(_column_sql(item))
            constraints = item.args.get("constraints") or []
            if any(
                isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint) for c in constraints
            ):
                keys.append(item.name)
        elif isinstance(item, exp.PrimaryKey):
            keys += [e.name for e in item.expressions]
    return ", ".join(columns), keys


def _aligned(frame: DataFrame, schema: T.StructType, *, by_name: bool) -> DataFrame:
    """The frame's columns as the table's, in its order and types (by name, or
    by position); a table column the frame lacks is null."""
    if by_name:
        given = {c.lower(): c for c in frame.columns}
        columns = [
            (F.col(f"`{given[f.name.lower()]}`") if f.name.lower() in given else F.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in schema.fields
        ]
    else:
        if len(frame.columns) != len(schema.fields):
            raise ValueError(
                f"insert of {len(frame.columns)} columns into a table of {len(schema.fields)}"
            )
        columns = [
            F.col(f"`{c}`").cast(f.dataType).alias(f.name)
            for c, f in zip(frame.columns, schema.fields, strict=True)
        ]
    return frame.select(*columns)


def _data_files(root: Path) -> list[Path]:
    """The data files under a table's directory (not Spark's `_SUCCESS`,
    checksums or hidden files)."""
    if not root.exists():
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        found += [Path(folder) / f for f in files if not f.startswith(("_", "."))]
    return sorted(found)


def _local_path(uri: str) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)


# -- the seam --------------------------------------------------------------------


def connect(
    path: str | os.PathLike,
    *,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike | None = None,
    threads: int | None = None,
    read_only: bool = False,
) -> Connection:
    """A connection to the warehouse directory over the process's session
    (started on first use). `memory_limit`, `temp_directory` and `threads`
    are DuckDB's knobs: Spark's memory is its own configuration."""
    spark = session(path)
    return Connection(spark, _home(path))


def connect_for_reading(path: str | os.PathLike, *, memory_limit: str | None = None) -> Connection:
    """The same as `connect`: Spark has one session per process."""
    return connect(path, memory_limit=memory_limit, read_only=True)


def _register_udfs(spark: SparkSession) -> None:
    """The project's SQL functions on the session, for dbt's models as for
    Splink and the stages: c360_phone_e164, and the string similarities."""
    from pyspark.sql.functions import arrow_udf

    from c360 import phones
    from c360.engine import spark_similarity

    # c360_phone_e164 as an Arrow UDF over phones.e164_arrow (one Arrow
    # batch per call, as DuckDB's vectorised UDF).
    spark.udf.register(phones.SQL_FUNCTION, arrow_udf(phones.e164_arrow, "string"))
    # Splink's similarity jar (`spark.jars`) for what it has and we do not
    # override (jaccard, cosine_distance, Dmetaphone, QgramTokeniser...).
    from splink.internals.spark.jar_location import get_scala_udfs

    for name, java_class, returns in get_scala_udfs():
        if name not in spark_similarity.FUNCTIONS:
            spark.udf.registerJavaFunction(name, java_class, returns)
    # Jaro-Winkler, Jaro and Damerau-Levenshtein: not the jar's but
    # rapidfuzz's, under every name Splink's Spark SQL and the dbt models
    # call them by (spark_similarity.FUNCTIONS). Why: parity with DuckDB.
    # The jar's Jaro-Winkler differs from DuckDB's ("blanca" / "blaanca":
    # 0.9278 on DuckDB, under 0.92 in the jar), which moved first-name
    # levels (match weight off by 1.29) between the engines; these equal
    # DuckDB's to the bit (tests/spark/test_similarity.py). The cost:
    # a Python UDF, so each batch of rows goes to a Python worker as Arrow
    # and back (rapidfuzz's C++ scores the batch at once), and Spark
    # computes a UDF under a CASE for every row, not only where the CASE
    # reaches it.
    for name, (function, returns) in spark_similarity.FUNCTIONS.items():
        spark.udf.register(name, arrow_udf(function, returns))


def register_functions(con: Connection) -> None:
    """The project's Python SQL functions (`c360_phone_e164`): registered on
    the session when it starts, so every connection and dbt's have them."""
    _register_udfs(con.session)


def bind_hmac_pads(con: Connection | SparkSession, pads: str, key: bytes) -> None:
    """The key's HMAC pads as the session variables `<pads>_ipad` /
    `<pads>_opad` (BINARY), set as parameters: the key is in no SQL text.
    Spark's variables belong to the session, so dbt's statements see them."""
    from c360.tokenization import hmac_pads

    spark = con.session if isinstance(con, Connection) else con
    for suffix, pad in zip(("ipad", "opad"), hmac_pads(key), strict=True):
        name = f"{pads}_{suffix}"
        spark.sql(f"declare or replace variable {name} binary default null")
        spark.sql(f"set var {name} = :pad", args={"pad": pad})


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """The block's writes to table data are kept if it finishes, and undone
    if it raises: the files it added are deleted, those it rewrote put back.
    Not atomic (a crash mid-block, or a concurrent reader, sees part of it)
    and DDL is not undone: Parquet tables have no transactions (Delta Lake
    or Iceberg would give per-table atomic commits)."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def checkpoint(con: Connection) -> None:
    """Spark writes every statement's files before it returns: nothing to do."""


# -- the catalog ---------------------------------------------------------------


def relation_exists(con: Connection, schema: str, name: str) -> bool:
    spark = con.session
    return spark.catalog.databaseExists(schema) and spark.catalog.tableExists(f"{schema}.{name}")


def relation_names(con: Connection, schema: str) -> list[str]:
    """Every table and view of a schema, by name."""
    spark = con.session
    if not spark.catalog.databaseExists(schema):
        return []
    return sorted(t.name for t in spark.catalog.listTables(schema) if not t.isTemporary)


def base_tables(
    con: Connection, excluded_schemas: tuple[str, ...] = ()
) -> list[tuple[str, str, dict[str, str]]]:
    """(schema, table, {column: data type}) of every table (not view) outside
    the excluded schemas."""
    spark = con.session
    found = []
    for database in sorted(d.name for d in spark.catalog.listDatabases()):
        if database in excluded_schemas:
            continue
        for table in sorted(spark.catalog.listTables(database), key=lambda t: t.name):
            if table.isTemporary or table.tableType == "VIEW":
                continue
            columns = spark.catalog.listColumns(f"{database}.{table.name}")
            found.append((database, table.name, {c.name: c.dataType for c in columns}))
    return found


# -- files ---------------------------------------------------------------------


# What reading a landing file raises when the file is not what its name
# says (truncated, corrupt, not Parquet, not of its encoding): the loader
# names the file.
FILE_READ_ERRORS: tuple[type[BaseException], ...] = (
    pa.ArrowException,
    OSError,
    UnicodeDecodeError,
    PySparkException,
)


# The lines the last CSV read could not parse, for read_rejects.
_rejected_lines: list[tuple[int, str]] = []


def read_file(path: Path, dialect: CsvDialect | None = None):
    """A landing file as an Arrow table, read as the DuckDB engine reads it:
    CSV in its dialect, all strings, `\\N` (unquoted) the only null, an empty
    field ''; a line with too many or too few fields set aside."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if dialect is None:
        return pq.read_table(path)
    _rejected_lines.clear()

    def set_aside(row) -> str:
        # pyarrow counts data rows (None when it cannot tell); the header is line 1.
        line = row.number + 1 if row.number is not None else 0
        _rejected_lines.append(
            (line, f"{row.actual_columns} fields where {row.expected_columns} were expected")
        )
        return "skip"

    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding="latin1" if dialect.encoding == "latin-1" else "utf8"
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in dialect.columns},
            null_values=["\\N"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=dialect.delimiter, newlines_in_values=True, invalid_row_handler=set_aside
        ),
    )


def read_rejects(con: Connection) -> list[tuple[int, str]]:
    """The (line, problem) of each line the last CSV read set aside; forgets them."""
    taken = sorted(set(_rejected_lines))
    _rejected_lines.clear()
    return taken


def reader_sql(path: Path, dialect: CsvDialect | None = None) -> str:
    """A temp view of one landing file, read as the loader reads it (DuckDB's
    reader_sql semantics: see read_file)."""
    assert _SESSION is not None, "connect() before reading files"
    frame = (
        _SESSION.createDataFrame(read_file(path, dialect))
        if dialect is not None
        else (_SESSION.read.parquet(str(path)))
    )
    return _view(frame)


def file_columns(con: Connection, path: Path) -> list[str]:
    """The columns of a Parquet file."""
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def write_file(con: Connection, relation: str, path: Path, file_format: str) -> None:
    """Write a relation to a file, `csv` (every value quoted, `\\N` for null,
    as read_file reads it) or `parquet`."""
    table = con.sql(f"select * from {relation}").toArrow()
    if file_format == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(_csv_field(n) for n in table.column_names) + "\n")
            for row in table.to_pylist():
                handle.write(",".join(_csv_field(v) for v in row.values()) + "\n")
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)


def table_files(path: str | os.PathLike) -> dict[tuple[str, str], Path]:
    """Each table's folder of Parquet files in a warehouse directory, by
    (schema, table), read from the layout Spark gives managed tables
    (`tables/<schema>.db/<table>/`), without starting a session."""
    root = _home(path) / "tables"
    if not root.is_dir():
        raise FileNotFoundError(f"no Spark warehouse at {_home(path)} (no tables/ folder)")
    return {
        (schema_dir.name.removesuffix(".db"), table_dir.name): table_dir
        for schema_dir in sorted(root.glob("*.db"))
        for table_dir in sorted(schema_dir.iterdir())
        if table_dir.is_dir() and not table_dir.name.startswith(("_", "."))
    }


def write_parquet_folder(con: Connection, relation: str, folder: Path) -> None:
    """Write a relation as Parquet into a new folder, one file per partition,
    as Spark writes a table (readers take the folder)."""
    if folder.exists():
        raise FileExistsError(f"{folder} exists")
    con.sql(f"select * from {relation}").write.parquet(str(folder))
    for marker in folder.glob("_SUCCESS"):
        marker.unlink()
    for checksum in folder.glob(".*.crc"):
        checksum.unlink()


def _csv_field(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        value = value.isoformat(sep=" ")
    text = str(value)
    return '"' + text.replace('"', '""') + '"'


# -- storage -------------------------------------------------------------------


def compact(path: str | os.PathLike) -> None:
    """Deleted rows leave the Parquet files when DML rewrites them (the old
    files are deleted once the statement, or its transaction, finishes):
    what is left is the scratch space under `_c360/`, removed here."""
    scratch = _home(path) / "_c360"
    for kind in ("aside", "staging", "splink_checkpoints"):
        shutil.rmtree(scratch / kind, ignore_errors=True)
    (scratch / "splink_checkpoints").mkdir(parents=True, exist_ok=True)


def release_connections(path: str | os.PathLike) -> None:
    """Nothing to release: connections are views of the one session, which
    stays up for the process (a restarted session would lose dbt's)."""


# -- dbt -----------------------------------------------------------------------


def before_dbt(path: str | os.PathLike) -> None:
    """Start the session (dbt-spark's session method uses it) and bind the
    tokenization pads on it, with the key in use now (a key rotation's)."""
    from c360.tokenization import TOKEN_PADS, tokenization_key

    spark = session(path)
    bind_hmac_pads(spark, TOKEN_PADS, tokenization_key())


# -- Splink --------------------------------------------------------------------


def _usable_splink_dialect() -> None:
    """Splink writes Spark SQL through its sqlglot dialect "customspark",
    whose generator subclasses sqlglot's; the compiled sqlglot (sqlglotc, in
    constraints.txt) refuses a Python subclass of its compiled generator
    ("interpreted classes cannot inherit from compiled"). Then "customspark"
    is sqlglot's Spark dialect itself. Its one change was to write a double
    literal as `0.5D` rather than `CAST(0.5 AS DOUBLE)`: the same value."""
    import splink.internals.spark.spark_helpers.custom_spark_dialect  # noqa: F401
    from sqlglot.dialects import Spark
    from sqlglot.dialects.dialect import _Dialect

    try:
        sqlglot.transpile("select cast(0.5 as double)", read="spark", write="customspark")
    except TypeError:
        _Dialect._classes["customspark"] = Spark


def splink_api(con: Connection):
    """Splink's database API over the connection's session; its intermediate
    tables are Parquet under the warehouse's `_c360/splink_checkpoints`."""
    from splink.backends.spark import SparkAPI

    _usable_splink_dialect()
    return SparkAPI(spark_session=con.session, break_lineage_method="parquet")


def dataframe_columns(con: Connection, relation: str) -> list[str]:
    return con.session.table(relation).columns
