"""Apache Spark: in-process (local mode) or a cluster through Spark Connect.

Spark has no transactions, materialized views, unique indexes or locks. So a model's rows
live in a versioned table (``<model>__fk_v<version>``) and the model's name is a view over
the current version, replaced by one ``CREATE OR REPLACE VIEW``: readers see the old or the
new version, never half of one, and a refresh killed before the swap leaves the old one.
Versions not in use are dropped after each swap.

Reading a model's rows needs no catalog: each swap also records, in a file under the
warehouse, where the new version's Parquet files are (``_record_current``), and a training
set reads them there. Local targets thus skip the metastore, whose start-up (a Derby
database and Hive's client) costs seconds, and read while another process holds it.

One SparkSession serves the whole process (a JVM holds one SparkContext): the first local
target starts it with its ``master``, ``warehouse`` and ``conf``; later ones share it. Each
database is created with its location under its own target's warehouse, so tables land in
their project's folder even when the process's metastore lives in another one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.engines.base import Engine
from featurekit.engines.config import EngineConfig
from featurekit.errors import ConfigError, ConnectionFailed, DatabaseLocked, EngineError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from sqlglot import exp

    from featurekit.engines.pit import PitView

#: Versions of a model's table are named ``<model>__fk_v<version>``.
VERSION = "__fk_v"
DEFAULT_MASTER = "local[*]"
DEFAULT_WAREHOUSE = ".featurekit/spark"
MIN_JAVA = 17
INSTALL_HINT = "pip install 'featurekit[spark]'"

_sessions: dict[str, Any] = {}  # "local" or a Spark Connect URL -> its SparkSession
_sessions_lock = threading.Lock()

# Settings every featurekit session runs with: UTC timestamps, and "double quoted" names
# read as identifiers (featurekit quotes names the ANSI way on every engine).
_SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
}


def java_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why Spark cannot start a JVM here (no ``java``, or one older than 17), or None."""
    environ = os.environ if environ is None else environ
    home = environ.get("JAVA_HOME")
    java = (str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists()
            else shutil.which("java", path=environ.get("PATH", "")))
    if java is None:
        return (f"Spark needs Java {MIN_JAVA} or newer, and no `java` was found on PATH or "
                f"in JAVA_HOME; install a JDK {MIN_JAVA}+ (e.g. apt-get install "
                f"openjdk-{MIN_JAVA}-jdk-headless) or set JAVA_HOME to one")
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30,
                               env=dict(environ))
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Spark needs Java {MIN_JAVA} or newer, and `{java} -version` failed: {exc}"
    major = java_major(shown.stderr + shown.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "a Java whose version it could not read"
        return (f"Spark needs Java {MIN_JAVA} or newer, but {java} is {found}; install a JDK "
                f"{MIN_JAVA}+ and put it first on PATH or point JAVA_HOME at it")
    return None


def java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output.

    >>> java_major('openjdk version "17.0.15" 2025-04-15'), java_major('java version "1.8.0_1"')
    (17, 8)
    """
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def _import_pyspark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            f"the spark engine needs pyspark, which is not installed: {INSTALL_HINT}"
        ) from None
    return SparkSession


def _connect_address(url: str) -> tuple[str, int]:
    """Host and port of a Spark Connect URL (``sc://host:port/;params``).

    >>> _connect_address("sc://10.0.0.5:15002/;user_id=x"), _connect_address("sc://h")
    (('10.0.0.5', 15002), ('h', 15002))
    """
    rest = url.removeprefix("sc://").split("/")[0].split(";")[0]
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "15002")
    return host, int(port)


def _local_session(master: str, warehouse: str, conf: Mapping[str, Any]) -> Any:
    session_class = _import_pyspark()
    problem = java_problem()  # before pyspark starts a JVM and reports its failure obscurely
    if problem:
        raise EngineError(problem)
    Path(warehouse).mkdir(parents=True, exist_ok=True)
    metastore = f"jdbc:derby:;databaseName={Path(warehouse) / 'metastore_db'};create=true"
    builder = (
        session_class.builder.master(master).appName("featurekit")
        .config("spark.sql.warehouse.dir", warehouse)
        # The Hive catalog keeps tables between processes, in an embedded Derby metastore.
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", metastore)
        .config("spark.driver.extraJavaOptions",
                f"-Dderby.stream.error.file={Path(warehouse) / 'derby.log'}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in {**_SESSION_CONF, **conf}.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    # Failed analyses are raised to the caller; the JVM need not log them as well.
    session.sparkContext.setLogLevel("FATAL")
    return session


def _remote_session(url: str, conf: Mapping[str, Any]) -> Any:
    _import_pyspark()
    host, port = _connect_address(url)
    try:  # the client retries for minutes before it gives up on a server that is not there
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise ConnectionFailed(
            f"cannot reach the Spark Connect server at {host}:{port} ({exc.strerror or exc}); "
            f"is it running, and does `remote:` in profiles.yml point at it?"
        ) from None
    try:
        # The Spark Connect client's own class: pyspark's generic builder refuses a remote
        # session in a process that also runs a local one.
        from pyspark.sql.connect.session import SparkSession

        session = SparkSession.builder.remote(url).getOrCreate()
    except ImportError as exc:
        raise EngineError(
            f"Spark Connect needs pyspark's connect extras ({exc}): {INSTALL_HINT}"
        ) from None
    for key, value in {**_SESSION_CONF, **conf}.items():
        session.conf.set(key, str(value))
    return session


def spark_session(options: Mapping[str, Any]) -> Any:
    """The process's SparkSession for a target's options (started on first use)."""
    remote = options.get("remote")
    key = str(remote) if remote else "local"
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            conf = options.get("conf") or {}
            session = (_remote_session(str(remote), conf) if remote else _local_session(
                str(options.get("master", DEFAULT_MASTER)),
                str(options.get("warehouse", DEFAULT_WAREHOUSE)), conf))
            _quiet_analysis_errors()
            _sessions[key] = session
        return session


def stop_remote_session(url: str) -> None:
    """End this process's session with the Spark Connect server at ``url``, if it has one."""
    with _sessions_lock:
        session = _sessions.pop(url, None)
    if session is not None:
        session.stop()


def _quiet_analysis_errors() -> None:
    """pyspark logs every failed query with its JVM stack trace; featurekit raises them."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def _native_quote(name: str) -> str:
    """A dotted name in Spark's own quoting (backticks), for SQL built in this module.

    >>> _native_quote("features.a`b")
    '`features`.`a``b`'
    """
    return ".".join("`" + part.replace("`", "``") + "`" for part in name.split("."))


def _naive_utc(table: pa.Table) -> pa.Table:
    """Spark's TIMESTAMP columns (instants, read in the UTC session zone) as naive UTC,
    how featurekit hands out every timestamp."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(index).cast(pa.timestamp(field.type.unit))
            table = table.set_column(index, field.name, naive)
    return table


def _arrow_schema(fields: Any) -> pa.Schema:
    """A Spark schema as the Arrow schema of its rows (naive timestamps, as fetched)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return _naive_utc(to_arrow_schema(fields, timezone="UTC").empty_table()).schema


def _storable(data: pa.Table) -> pa.Table:
    """``data`` with types Spark stores: integers as 64-bit, dictionaries decoded."""
    import pyarrow as pa

    columns = []
    for column in data.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_integer(kind):
            column = column.cast(pa.int64())
        elif pa.types.is_large_string(kind):
            column = column.cast(pa.string())
        elif kind == pa.null():
            column = column.cast(pa.string())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=data.column_names)


@dataclasses.dataclass(frozen=True)
class SparkConfig(EngineConfig):
    """A Spark target: a Spark Connect server (``remote``), or Spark in this process
    (``master``, and a ``warehouse`` for tables and the metastore, relative to the project);
    ``conf`` holds any Spark settings."""

    default_schema = "default"  # Spark's own database, always there
    default_threads = 1  # one driver: Spark parallelises within each query

    remote: str | None = None
    master: str = DEFAULT_MASTER
    warehouse: str = DEFAULT_WAREHOUSE
    conf: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str,
                     project_dir: Path) -> SparkConfig:
        conf = options.get("conf") or {}
        if not isinstance(conf, dict):
            raise ConfigError(f"{where}: conf must be a mapping of Spark settings, e.g. "
                              f"conf: {{spark.sql.shuffle.partitions: 8}}")
        if options.get("remote"):
            local = [key for key in ("master", "warehouse") if key in options]
            if local:
                raise ConfigError(
                    f"{where}: remote (a Spark Connect server) and {' and '.join(local)} "
                    f"(Spark in this process) exclude each other; keep one"
                )
            return cls(remote=str(options["remote"]), conf=conf)
        warehouse = Path(str(options.get("warehouse", DEFAULT_WAREHOUSE)))
        if not warehouse.is_absolute():
            warehouse = project_dir / warehouse
        return cls(master=str(options.get("master", DEFAULT_MASTER)),
                   warehouse=str(warehouse), conf=conf)

    def describe(self, schema: str) -> str:
        where = self.remote or f"{self.master}, warehouse {self.warehouse}"
        return f"spark {where}, database {schema}"


class SparkEngine(Engine):
    type = "spark"
    dialect = "spark"
    config_class = SparkConfig
    transactions = False
    transactional_ddl = False
    native_materialized_views = False
    unique_indexes = False
    advisory_locks = False
    concurrent_writers = False  # one driver runs the refresh; Spark parallelises each query
    temporary_tables = False  # temporary views instead
    asof_join = False
    # Spark 4.3 runs LATERAL (... ORDER BY ... LIMIT 1), but answered some online lookups'
    # probes with no row where a window finds it: not trusted.
    lateral_join = False
    # No UPDATE or transactions on plain tables: run state, monitor references and refresh
    # locks live in a state store (`state:`, by default .featurekit/state.duckdb).
    holds_state = False
    positional_parameters = False  # spark.sql(text, args={...}) binds :name
    aggregate_columns_per_query = 5  # measured: 5 columns a query beat all 20 at once
    compact_after_files = 64  # see compact

    # -- connection ---------------------------------------------------------------------
    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        from pyspark.errors import PySparkException

        return (PySparkException,)

    def connect(self) -> None:
        options = self.target.options
        self.session = spark_session(options)
        self.remote = bool(options.get("remote"))
        # In this process an unpartitioned window sorts 5M values in 3 s on one core, while
        # Arrow brings a column over in 0.4 s; a remote server's values would cross the network.
        self.quantiles_from_bulk_reads = not self.remote
        warehouse = options.get("warehouse", DEFAULT_WAREHOUSE)
        self.warehouse = None if self.remote else str(Path(str(warehouse)).resolve())
        self.current_versions = self._current_versions_dir()
        # The metastore starts on the catalog's first use, which reading models need not make.
        if not self.read_only and not self._database_on_disk(self.schema):
            self.ensure_schema(self.schema)

    def _current_versions_dir(self) -> Path | None:
        """Where swaps record each model's current version (``_record_current``): under a
        local warehouse that holds the session's metastore (a process's one session may keep
        its catalog in another target's warehouse); None where none is kept."""
        from urllib.parse import urlsplit

        if self.warehouse is None:
            return None
        session_warehouse = str(self.session.conf.get("spark.sql.warehouse.dir"))
        if Path(urlsplit(session_warehouse).path).resolve() != Path(self.warehouse):
            return None
        return Path(self.warehouse) / "featurekit_current"

    def _database_on_disk(self, schema: str) -> bool:
        """True when this target's metastore and ``schema``'s folder exist (``ensure_schema``
        created them), so the database need not be created; a dropped one loses its folder."""
        if self.current_versions is None:
            return False
        warehouse = self.current_versions.parent
        folder = warehouse / f"{schema.lower()}.db"
        return (warehouse / "metastore_db").is_dir() and (
            schema.lower() == SparkConfig.default_schema or folder.is_dir())

    @contextlib.contextmanager
    def _metastore_errors(self) -> Iterator[None]:
        """A metastore held by another process (embedded Derby admits one) reported as such,
        rather than as a Hive stack trace, wherever the catalog is first used."""
        from pyspark.errors import AnalysisException

        try:
            yield
        except AnalysisException as exc:
            if "SessionHiveMetaStoreClient" not in str(exc):
                raise
            raise DatabaseLocked(
                f"the Spark metastore {Path(self.warehouse or '') / 'metastore_db'} is in use by "
                f"another process (its embedded Derby database admits one at a time); wait for "
                f"it to finish, or run a Spark Connect server and point `remote:` at it"
            ) from None

    def close(self) -> None:
        """Nothing to release: the session outlives engines (others in the process share it)."""

    def _sql(self, sql: str, params: Any = None) -> Any:
        with self._metastore_errors():
            return self.session.sql(sql, args=dict(params) if params else None)

    def execute(self, sql: str, params: Any = None) -> None:
        if _verb(sql) in ("UPDATE", "DELETE"):
            self._rewrite_rows(sql, params)
        else:
            self._sql(sql, params)

    def execute_count(self, sql: str, params: Any = None) -> int:
        """Run an INSERT, UPDATE or DELETE; the rows it touched.

        Spark reports no counts: an INSERT's query is counted first, and UPDATE and DELETE,
        which plain Spark tables lack, rewrite the table (``_rewrite_rows``).
        """
        verb = _verb(sql)
        if verb in ("UPDATE", "DELETE"):
            return self._rewrite_rows(sql, params)
        if verb != "INSERT":
            raise EngineError(f"execute_count takes INSERT, UPDATE or DELETE, not {verb}")
        source = _insert_source(sql)
        count = int(self._sql(f"SELECT count(*) FROM ({source})", params).first()[0])
        self._sql(sql, params)
        return count

    def fetchall(self, sql: str, params: Any = None) -> list[tuple]:
        table = _naive_utc(self._sql(sql, params).toArrow())
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(*columns)) if columns else []

    def fetch_arrow(self, sql: str) -> pa.Table:
        return _naive_utc(self._sql(sql).toArrow())

    def fetch_doubles(self, statement: str | exp.Expression,
                      params: Mapping[str, Any] | None = None,
                      nullable: Sequence[bool] | None = None) -> list[np.ndarray]:
        table = self._sql(*self.prepare(statement, params)).toArrow()
        return [column.drop_null().to_numpy() for column in table.columns]

    def placeholder(self, name: str, position: int) -> str:
        return f":{name}"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Spark has no transactions: statements take effect one by one.

        What must be all-or-nothing (a model's new rows) is written to a new version and
        made visible by one view swap instead.
        """
        yield

    def _rewrite_rows(self, sql: str, params: Any) -> int:
        """UPDATE or DELETE on a plain table: the table's new rows are computed, held in
        memory and written back over it; returns the rows the statement touched.

        For featurekit's small bookkeeping tables only: the table is replaced whole.
        """
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(sql, read=_session_dialect())
        table = tree.this
        where = tree.args.get("where")
        condition = where.this if where else exp.true()
        touched = exp.select("count(*)").from_(table.copy()).where(condition.copy())
        count = int(self._sql(touched.sql(dialect=_session_dialect()), params).first()[0])
        if not count:
            return 0
        bare = table.copy()
        bare.set("alias", None)
        name = bare.sql(dialect=_session_dialect())
        if isinstance(tree, exp.Delete):
            kept = exp.select("*").from_(table.copy()).where(
                exp.not_(exp.func("coalesce", condition.copy(), exp.false())))
        else:
            changed = {eq.this.name: eq.expression for eq in tree.expressions}
            columns = [field.name for field in self.session.table(name).schema.fields]
            kept = exp.select(*(
                exp.alias_(exp.case().when(condition.copy(), changed[c].copy())
                           .else_(exp.column(c, quoted=True)), c, quoted=True)
                if c in changed else exp.column(c, quoted=True)
                for c in columns
            )).from_(table.copy())
        rows = self._sql(kept.sql(dialect=_session_dialect()), params).localCheckpoint()
        rows.write.insertInto(name, overwrite=True)
        return count

    def compact(self, name: str, schema: str | None = None) -> None:
        """Past ``compact_after_files`` files, the table is rewritten into one: a monitor run
        appends a file, and a year of hourly runs would make every read open 8,760."""
        table = self._rel(name, schema)
        with self._metastore_errors():
            frame = self.session.table(table)
            if len(frame.inputFiles()) <= self.compact_after_files:
                return
            # Held in memory first, as _rewrite_rows does: Spark cannot overwrite what it reads.
            frame.localCheckpoint().coalesce(1).write.insertInto(table, overwrite=True)

    # -- catalog ------------------------------------------------------------------------
    @classmethod
    def unsupported(cls, expression: exp.Expression) -> list[str]:
        from sqlglot import exp

        problems = super().unsupported(expression)
        for star in expression.find_all(exp.Star):
            if star.args.get("except") or star.args.get("replace"):
                problems.append("SELECT * EXCLUDE/REPLACE (list the columns)")
        return sorted(set(problems))

    def syntax_error(self, sql: str) -> str | None:
        from pyspark.errors import AnalysisException, ParseException

        try:
            self._sql(f"SELECT * FROM ({sql}) AS q LIMIT 0").schema  # noqa: B018 - parses
        except ParseException as exc:
            return str(exc).strip().splitlines()[0]
        except AnalysisException:
            return None  # a table not built yet is not a syntax error
        return None

    def _rel(self, name: str, schema: str | None = None) -> str:
        return _native_quote(f"{schema or self.schema}.{name}")

    def ensure_schema(self, schema: str) -> None:
        location = ""
        if self.warehouse:  # local: the database's tables go under this target's warehouse
            path = (Path(self.warehouse) / f"{schema.lower()}.db").as_uri()
            location = f" LOCATION '{path}'"
        self.execute(f"CREATE DATABASE IF NOT EXISTS {_native_quote(schema)}{location}")

    def _tables(self, schema: str, like: str = "*") -> list[tuple[str, bool]]:
        """(name, is a view) of the tables and views in ``schema`` whose names match."""
        from pyspark.errors import AnalysisException

        database = _native_quote(schema)
        try:
            tables = self._sql(f"SHOW TABLES IN {database} LIKE '{like}'").collect()
            views = self._sql(f"SHOW VIEWS IN {database} LIKE '{like}'").collect()
        except AnalysisException as exc:
            if "SCHEMA_NOT_FOUND" in str(exc) or "NO_SUCH_NAMESPACE" in str(exc):
                return []
            raise
        view_names = {row[1] for row in views if not row[2]}
        return [(row[1], row[1] in view_names) for row in tables if not row[2]]

    def relation_kind(self, name: str, schema: str | None = None) -> str | None:
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            return None  # Spark names hold no other characters
        for found, is_view in self._tables(schema or self.schema, name):
            if found == name.lower():
                return "view" if is_view else "table"
        return None

    def relation_names(self, schema: str | None = None) -> list[str]:
        return [name for name, _ in self._tables(schema or self.schema) if VERSION not in name]

    def relation_schema(self, name: str, schema: str | None = None) -> pa.Schema:
        """From the catalog's schema: no Spark job, unlike fetching an empty result."""
        with self._metastore_errors():
            fields = self.session.table(self._rel(name, schema)).schema
        return _arrow_schema(fields)

    def model_schema(self, name: str) -> pa.Schema | None:
        files = self._current_files(name)
        if files is None:
            return super().model_schema(name)
        return _arrow_schema(self.session.read.parquet(files).schema)

    def model_reader(self, name: str) -> str:
        """A temporary view over the current version's files (no catalog) where recorded."""
        files = self._current_files(name)
        if files is None:
            return super().model_reader(name)
        view = f"__fk_read_{name}"
        self.session.read.parquet(files).createOrReplaceTempView(view)
        return self.quote(view)

    def columns(self, name: str, schema: str | None = None) -> list[tuple[str, str]]:
        if self.relation_kind(name, schema) is None:
            return []
        fields = self.session.table(self._rel(name, schema)).schema.fields
        return [(f.name, f.dataType.simpleString()) for f in fields]

    def drop(self, name: str, schema: str | None = None) -> None:
        kind = self.relation_kind(name, schema)
        if kind is not None:
            self.execute(f"DROP {kind.upper()} {self._rel(name, schema)}")
        self._drop_versions(name, schema)

    def count_rows(self, relation: str) -> int:
        return int(self._sql(f"SELECT count(*) FROM {relation}").first()[0])

    def clone(self) -> Engine:
        return self  # one session per process; refresh runs one model at a time

    # -- bulk data ----------------------------------------------------------------------
    def _frame(self, data: pa.Table, column_types: Mapping[str, str] | None = None) -> Any:
        frame = self.session.createDataFrame(_storable(data))
        for column, sql_type in (column_types or {}).items():
            frame = frame.withColumn(column, frame[column].cast(sql_type))
        return frame

    def load_arrow(self, data: pa.Table, name: str, schema: str | None = None,
                   mode: str = "replace", temporary: bool = False,
                   column_types: Mapping[str, str] | None = None) -> int:
        frame = self._frame(data, column_types)
        with self._metastore_errors():
            if temporary:  # a plain table, what temporary_relation names (drop_temporary drops)
                frame.write.mode("overwrite").saveAsTable(self._rel(name, schema))
            elif mode == "append":
                order = [column for column, _ in self.columns(name, schema)]
                frame.select(*order).write.insertInto(self._rel(name, schema))
            elif mode == "create":
                frame.write.saveAsTable(self._rel(name, schema))
            else:
                version = self._new_version(name)
                frame.write.saveAsTable(self._rel(version, schema))
                self._swap(name, version, schema)
        return data.num_rows

    @contextlib.contextmanager
    def temporary_table(self, data: pa.Table) -> Iterator[str]:
        """``data`` as a temporary view over the Arrow rows (labels of a training set)."""
        name = f"__fk_tmp_{uuid.uuid4().hex[:12]}"
        self._frame(data).createOrReplaceTempView(name)
        try:
            yield self.quote(name)
        finally:
            self.session.catalog.dropTempView(name)

    def create_temporary(self, name: str, select_sql: str) -> tuple[str, int]:
        # A plain table (Spark has no temporary ones), counted once written.
        relation = self.temporary_relation(name)
        self.execute(f"CREATE TABLE {relation} AS {select_sql}")
        return relation, self.count_rows(relation)

    # -- materializations ---------------------------------------------------------------
    @staticmethod
    def _new_version(name: str) -> str:
        return f"{name}{VERSION}{datetime.now(UTC):%Y%m%d%H%M%S%f}"

    def _swap(self, name: str, version: str, schema: str | None = None) -> None:
        """Make ``name`` a view over table ``version`` (one catalog operation), then drop
        the versions no longer in use."""
        if self.relation_kind(name, schema) == "table":  # a plain table of that name
            self.execute(f"DROP TABLE {self._rel(name, schema)}")
        self.execute(f"CREATE OR REPLACE VIEW {self._rel(name, schema)} AS "
                     f"SELECT * FROM {self._rel(version, schema)}")
        self._record_current(name, version, schema)
        self._drop_versions(name, schema, keep=version)

    def _current_file(self, name: str, schema: str | None = None) -> Path | None:
        if self.current_versions is None:
            return None
        return self.current_versions / (schema or self.schema).lower() / name.lower()

    def _record_current(self, name: str, version: str, schema: str | None = None) -> None:
        """Write where version ``version`` of ``name`` keeps its Parquet files, replacing the
        file in one rename: after the view swap, so it never names unpublished rows (a kill
        between the two leaves it naming the previous version, kept until the next swap)."""
        current = self._current_file(name, schema)
        if current is None:
            return
        found = {row[0]: row[1] for row in self._sql(
            f"DESCRIBE TABLE EXTENDED {self._rel(version, schema)}").collect()}
        if found.get("Provider") != "parquet" or not found.get("Location"):
            current.unlink(missing_ok=True)  # read through the catalog
            return
        current.parent.mkdir(parents=True, exist_ok=True)
        written = current.with_name(f"{current.name}.{uuid.uuid4().hex[:8]}")
        written.write_text(found["Location"])
        os.replace(written, current)

    def _current_files(self, name: str) -> str | None:
        """The location of model ``name``'s current Parquet files, read without the catalog;
        None when no swap recorded one or its files are gone."""
        from urllib.parse import urlsplit

        current = self._current_file(name)
        try:
            location = current.read_text() if current else None
        except FileNotFoundError:
            return None
        if not location or not Path(urlsplit(location).path).is_dir():
            return None
        return location

    def _drop_versions(self, name: str, schema: str | None = None,
                       keep: str | None = None) -> None:
        current = self._current_file(name, schema)
        if keep is None and current is not None:  # no version is current any more
            current.unlink(missing_ok=True)
        prefix = (name + VERSION).lower()
        for found, is_view in self._tables(schema or self.schema, f"{prefix}*"):
            if found.startswith(prefix) and found != (keep or "").lower() and not is_view:
                self.execute(f"DROP TABLE IF EXISTS {self._rel(found, schema)}")

    def _build_version(self, name: str, select_sql: str, unique_key: Sequence[str],
                       time_column: str | None) -> tuple[str, Any]:
        """Write ``select_sql`` into a new version of ``name`` and check its keys and time
        column; the version (dropped again if a check fails) and max(time_column)."""
        version = self._new_version(name)
        relation = self._rel(version)
        self.execute(f"CREATE TABLE {relation} USING parquet AS {select_sql}")
        try:
            if time_column:
                newest = self.check_output(name, relation, unique_key, time_column)
            else:
                self.check_unique(name, relation, unique_key)
                newest = None
        except BaseException:
            self.execute(f"DROP TABLE IF EXISTS {relation}")
            raise
        return version, newest

    def create_view(self, name: str, select_sql: str) -> None:
        if self.relation_kind(name) == "table":
            self.execute(f"DROP TABLE {self._rel(name)}")
        self.execute(f"CREATE OR REPLACE VIEW {self._rel(name)} AS {select_sql}")
        self._drop_versions(name)

    def replace_table(self, name: str, select_sql: str, unique_key: Sequence[str],
                      time_column: str | None = None) -> int:
        version, _ = self._build_version(name, select_sql, unique_key, time_column)
        self._swap(name, version)
        return self.count_rows(self._rel(version))

    def replace_rows_since(self, name: str, stage_sql: str, time_column: str, start: Any,
                           unique_key: Sequence[str]) -> tuple[int, Any]:
        """Copy-on-write: a new version holds the current rows before ``start`` and the
        stage's rows, and is swapped in like a rebuild; a failed check or a kill leaves the
        current version as it was."""
        ts = _native_quote(time_column)
        columns = ", ".join(_native_quote(c) for c, _ in self.columns(name))
        start_value = datetime.fromisoformat(str(start)).isoformat(sep=" ")
        select_sql = (
            f"SELECT {columns} FROM {self._rel(name)} WHERE {ts} < TIMESTAMP '{start_value}' "
            f"UNION ALL SELECT {columns} FROM ({stage_sql}) AS s"
        )
        version, newest = self._build_version(name, select_sql, unique_key, time_column)
        rows = self.count_rows(
            f"{self._rel(version)} WHERE {ts} >= TIMESTAMP '{start_value}'")
        self._swap(name, version)
        return rows, newest

    # -- retrieval and logs (python layer) ----------------------------------------------
    def point_in_time_sql(self, labels: str, views: list[PitView], n_labels: int) -> str:
        """Labels and feature rows in one sort per entity, the latest feature row carried
        forward as a struct (``pit.carried_row_sql``)."""
        from featurekit.engines import pit

        return pit.carried_row_sql(_native_quote, labels, views)

    def sql_type(self, arrow_type: pa.DataType) -> str:
        import pyarrow as pa

        if pa.types.is_integer(arrow_type):
            return "BIGINT"
        empty = pa.table({"x": pa.array([], type=arrow_type)})
        return self._frame(empty).schema.fields[0].dataType.simpleString().upper()

    # -- monitoring ---------------------------------------------------------------------
    def describe_query(self, sql: str) -> list[tuple[str, str]]:
        return [(f.name, f.dataType.simpleString()) for f in self._sql(sql).schema.fields]


def _verb(sql: str) -> str:
    """The statement's first keyword, upper case."""
    words = sql.split(None, 1)
    return words[0].upper() if words else ""


@functools.lru_cache(maxsize=1)
def _session_dialect() -> Any:
    """sqlglot's Spark dialect as featurekit's sessions read SQL: "double quotes" are names
    (``spark.sql.ansi.doubleQuotedIdentifiers``), only 'single quotes' strings. For reading
    back SQL that holds names quoted by ``Engine.quote``; it is written as Spark's."""
    from sqlglot.dialects.spark import Spark

    class SparkSession(Spark):
        class Tokenizer(Spark.Tokenizer):
            QUOTES = ["'"]
            IDENTIFIERS = ["`", '"']

    return SparkSession


@functools.lru_cache(maxsize=256)
def _insert_source(sql: str) -> str:
    """The query an ``INSERT ... SELECT`` or ``INSERT ... VALUES`` in Spark SQL reads."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read=_session_dialect())
    source = tree.expression
    if isinstance(source, exp.Values):
        return exp.select("*").from_(source.copy()).sql(dialect=_session_dialect())
    return source.sql(dialect=_session_dialect())
