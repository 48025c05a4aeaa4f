"""Fixtures: a real database per engine of ENGINES, a schema (or DuckDB file) per test.

The engine-facing tests (``engine_name`` / ``make_project``) run on every engine of ENGINES:
they are the conformance suite a new engine passes. A test reaches engine X with
``type: X`` plus the profiles.yml keys in FEATUREKIT_TEST_X (X in capitals; a YAML mapping
such as ``{url: ...}``) over the engine's defaults, in a schema of its own. Without the
database its cases skip, unless FEATUREKIT_REQUIRE_X=1, where they fail.

PostgreSQL comes from FEATUREKIT_PG_DSN (default postgresql://postgres@127.0.0.1:5432/postgres)
and FEATUREKIT_REQUIRE_PG=1 requires it, as before those variables existed for every engine.
Spark runs in this process: one local session for the whole run, its metastore and tables in
one temporary warehouse (it needs pyspark and Java 17). It is not in ENGINES: each statement
costs Spark 0.1-1 s, so the whole engine-facing suite on it would add most of an hour to CI.
The tests marked ``@spark_too`` run on it as well, chosen where Spark behaves least like the
other engines (it swaps versioned tables behind views instead of transactions, keeps state
apart, hands out naive UTC timestamps, binds only ``:name``, quotes its own way): refresh,
due-ness and run state (test_refresh, test_scheduling), incremental windows, NULL times and
rebuilds after upstream changes (test_incremental), data tests, freshness, saved training
sets, seeds, prediction logs, bound values and quoting (test_parameters), compiling (names
that are keywords, table sources' columns, errors told against the model's file:
test_compile), the CLI's refresh, ls, compile and exit codes (test_cli), point-in-time
retrieval (label order, several views, composite keys, time zones, SQL and empty labels,
internal column names, train-set) and online retrieval, skew against served values
(test_skew), monitor runs end to end, statistics and results. A test left off Spark is one
whose behaviour Spark shares with the others (checks in Python before any query) or that is
slow there; one that cannot run there as written says why in a comment above it.
tests/test_spark.py holds Spark's own tests (kill -9 mid-refresh, Spark Connect, Java and
pyspark errors).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest

PG_DSN = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
#: profiles.yml types the engine-facing tests run on (featurekit.engines.ENGINES' keys).
ENGINES = ["duckdb", "postgres"]
#: Also Spark, for the engine-facing tests that opt in with ``@spark_too`` (see the module
#: docstring for which, and why not all: about 0.1-1 s a statement).
SPARK_ENGINES = [*ENGINES, "spark"]
#: Hypothesis examples a property test runs on an engine whose statements are slow.
FEW_EXAMPLES = {"spark": 5}
# The test keys of the first two engines when FEATUREKIT_TEST_X does not say: each DuckDB test
# has a file of its own (in its default schema); PostgreSQL's server is FEATUREKIT_PG_DSN.
#: The one warehouse (metastore and tables) of the test run's in-process Spark session.
SPARK_WAREHOUSE = Path(tempfile.gettempdir()) / f"featurekit-spark-{os.getpid()}"
_DEFAULT_KEYS = {
    "duckdb": lambda: {"path": "test.duckdb"},
    "postgres": lambda: pg_params(),
    # Two cores, small data: two shuffle partitions instead of Spark's 200.
    "spark": lambda: {"master": "local[2]", "warehouse": str(SPARK_WAREHOUSE),
                      "conf": {"spark.sql.shuffle.partitions": 2}},
}
_OWN_FILE = {"duckdb"}
_unavailable: dict[str, str | None] = {}


def engine_test_keys(engine: str) -> dict:
    """The profiles.yml keys (besides type and schema) of a test target of ``engine``."""
    import yaml

    text = os.environ.get(f"FEATUREKIT_TEST_{engine.upper()}")
    if text:
        return yaml.safe_load(text)
    return _DEFAULT_KEYS[engine]() if engine in _DEFAULT_KEYS else {}


def profiles_yaml(engine: str, schema: str, metadata: str) -> str:
    """profiles.yml of a test project: one target ``test`` on ``engine``."""
    import yaml

    output = {"type": engine, **engine_test_keys(engine), "schema": schema, "threads": 2,
              "metadata_schema": metadata}
    return yaml.safe_dump({"featurekit": {"target": "test", "outputs": {"test": output}}},
                          sort_keys=False)


def _connect(engine: str, read_only: bool = False):
    """A connection to ``engine``'s test database, in its default schema."""
    from featurekit.engines import connect
    from featurekit.profiles import load_target

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "profiles.yml"
        path.write_text(profiles_yaml(engine, default_schema(engine), "featurekit"))
        return connect(load_target(path), read_only=read_only)


def default_schema(engine: str) -> str:
    from featurekit.engines import engine_class

    return engine_class(engine).config_class.default_schema


def engine_unavailable(engine: str) -> str | None:
    """None when the engine's test database answers, else the reason (checked once)."""
    if engine not in _unavailable:
        from featurekit.errors import FeaturekitError

        try:
            _connect(engine, read_only=True).close()
            _unavailable[engine] = None
        except FeaturekitError as exc:
            _unavailable[engine] = f"{engine} test database unreachable: {exc}"
    return _unavailable[engine]


def pg_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason (checked once per session)."""
    return engine_unavailable("postgres")


def require_engine(engine: str) -> None:
    if reason := engine_unavailable(engine):
        required = f"FEATUREKIT_REQUIRE_{engine.upper()}"
        if engine == "postgres" and os.environ.get("FEATUREKIT_REQUIRE_PG") == "1":
            required = "FEATUREKIT_REQUIRE_PG"
        if os.environ.get(required) == "1":
            pytest.fail(f"{required}=1 but {reason}")
        pytest.skip(reason)


def pg_params() -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(PG_DSN)
    return {
        "host": str(params.get("host", "127.0.0.1")),
        "port": str(params.get("port", 5432)),
        "user": str(params.get("user", "postgres")),
        "password": str(params.get("password", "")),
        "dbname": str(params.get("dbname", "postgres")),
    }


class ProjectFactory:
    """Writes a project into a temp dir for one engine and opens it."""

    def __init__(self, engine: str, root: Path):
        self.engine = engine
        self.root = root
        suffix = uuid.uuid4().hex[:10]
        self.own_schema = engine not in _OWN_FILE
        self.schema = f"fk_t_{suffix}" if self.own_schema else default_schema(engine)
        self.metadata = f"fk_m_{suffix}"
        self.projects: list = []
        root.mkdir(parents=True, exist_ok=True)
        (root / "models_sql").mkdir(exist_ok=True)
        (root / "profiles.yml").write_text(profiles_yaml(engine, self.schema, self.metadata))

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def model(self, name: str, sql: str, header: str | None = None) -> Path:
        text = textwrap.dedent(sql).strip() + "\n"
        if header is not None:
            text = "/* featurekit\n" + textwrap.dedent(header).strip() + "\n*/\n" + text
        return self.write(f"models_sql/{name}.sql", text)

    def seed(self, name: str, csv: str, timestamp: str | None = None) -> Path:
        path = self.write(f"seeds/{name}.csv", csv)
        self._sources[name] = {"seed": f"seeds/{name}.csv", "timestamp": timestamp}
        self._write_sources()
        return path

    _sources: dict

    def _write_sources(self) -> None:
        import yaml

        body = {
            name: {k: v for k, v in spec.items() if v is not None}
            for name, spec in self._sources.items()
        }
        self.write("models_sql/sources.yml", yaml.safe_dump({"sources": body}))

    def open(self, **kwargs):
        from featurekit.project import Project

        project = Project(self.root, **kwargs)
        self.projects.append(project)
        return project

    def cleanup(self) -> None:
        for project in self.projects:
            project.close()
        if self.own_schema:
            engine = _connect(self.engine)
            try:
                for schema in (self.schema, self.metadata):
                    engine.execute(f"DROP SCHEMA IF EXISTS {engine.quote(schema)} CASCADE")
            finally:
                engine.close()


@pytest.fixture(scope="session", autouse=True)
def _spark_warehouse():
    """Remove the Spark warehouse of the test run at its end."""
    yield
    shutil.rmtree(SPARK_WAREHOUSE, ignore_errors=True)


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    require_engine(request.param)
    return request.param


#: Runs an engine-facing test (one taking ``engine_name``, ``make_project`` or a fixture over
#: them) on Spark as well; Spark shares the run's one SparkSession.
spark_too = pytest.mark.parametrize("engine_name", SPARK_ENGINES, indirect=True)


def examples(engine: str, default: int, few: int | None = None) -> int:
    """How many examples a hypothesis test runs on ``engine``: ``default``, or where each
    statement is slow ``few`` (FEW_EXAMPLES when not given)."""
    if engine not in FEW_EXAMPLES:
        return default
    return min(default, few or FEW_EXAMPLES[engine])


@contextlib.contextmanager
def project_factories(engine: str, tmp_path: Path):
    """``make()`` -> a ProjectFactory for ``engine``; all of them cleaned up afterwards."""
    factories = []

    def make(subdir: str = "proj") -> ProjectFactory:
        factory = ProjectFactory(engine, tmp_path / subdir)
        factory._sources = {}
        factories.append(factory)
        return factory

    try:
        yield make
    finally:
        for factory in factories:
            factory.cleanup()


@pytest.fixture
def make_project(engine_name, tmp_path):
    """``make_project()`` -> a ProjectFactory for this test's engine."""
    with project_factories(engine_name, tmp_path) as make:
        yield make


def rows(project, sql: str) -> list[tuple]:
    """Run a query against the project's engine, with {schema} filled in."""
    engine = project.engine
    return engine.fetchall(sql.format(schema=engine.quote(project.target.schema)))


def run_state(project, sql: str, params: dict | None = None) -> list[tuple]:
    """Run ``sql`` where the project keeps its run state (the target, or a state store of
    its own), with {state} as that schema."""
    store = project.state_store
    engine = store.engine
    sql = sql.format(state=engine.quote(store.schema))
    if sql.lstrip().upper().startswith("SELECT"):
        return engine.rows(sql, params)
    engine.run(sql, params)
    return []


def quoted(project, *parts: str) -> str:
    """A (dotted) name as the SQL compiled for ``project``'s engine quotes it."""
    from sqlglot import exp

    dialect = project.engine.dialect
    return ".".join(exp.to_identifier(part, quoted=True).sql(dialect=dialect) for part in parts)


@pytest.fixture
def duck_project(tmp_path) -> ProjectFactory:
    """A DuckDB project factory for tests that do not depend on the engine."""
    factory = ProjectFactory("duckdb", tmp_path / "proj")
    factory._sources = {}
    yield factory
    factory.cleanup()
