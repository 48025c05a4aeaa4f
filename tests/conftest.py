"""Fixtures: real DuckDB files in temp dirs, real PostgreSQL schemas and real Spark
databases, one per test.

PostgreSQL comes from FEATUREKIT_PG_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
Without a reachable server its cases skip, unless FEATUREKIT_REQUIRE_PG=1, where they fail.
Spark runs in-process (one local session for the whole test run, its metastore and tables in
one temp warehouse); without pyspark or Java 17 its cases skip, unless
FEATUREKIT_REQUIRE_SPARK=1, where they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest

PG_DSN = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
ENGINES = ["duckdb", "postgres"]
_pg_status: dict[str, str | None] = {}
_spark_status: dict[str, str | None] = {}
#: The one warehouse (metastore + tables) of the test run's Spark session.
SPARK_WAREHOUSE = Path(tempfile.gettempdir()) / f"featurekit-spark-{os.getpid()}"


def pg_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason (checked once per session)."""
    if "reason" not in _pg_status:
        try:
            import psycopg

            psycopg.connect(PG_DSN, connect_timeout=5).close()
            _pg_status["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "no server"
            _pg_status["reason"] = f"PostgreSQL at {PG_DSN} unreachable: {exc}"
    return _pg_status["reason"]


def spark_unavailable() -> str | None:
    """None when in-process Spark can start (pyspark and Java 17+), else the reason."""
    if "reason" not in _spark_status:
        from featurekit.engines.spark import java_problem

        try:
            import pyspark  # noqa: F401
        except ImportError:
            _spark_status["reason"] = "pyspark is not installed (pip install 'featurekit[spark]')"
        else:
            _spark_status["reason"] = java_problem()
    return _spark_status["reason"]


def require_engine(engine: str) -> None:
    if engine == "postgres" and (reason := pg_unavailable()):
        if os.environ.get("FEATUREKIT_REQUIRE_PG") == "1":
            pytest.fail(f"FEATUREKIT_REQUIRE_PG=1 but {reason}")
        pytest.skip(reason)
    if engine == "spark" and (reason := spark_unavailable()):
        if os.environ.get("FEATUREKIT_REQUIRE_SPARK") == "1":
            pytest.fail(f"FEATUREKIT_REQUIRE_SPARK=1 but {reason}")
        pytest.skip(reason)


def spark_profile(schema: str, warehouse: Path = SPARK_WAREHOUSE) -> str:
    """The body of a local spark output: two threads, two shuffle partitions, small data."""
    return (
        f'type: spark\n      master: "local[2]"\n      warehouse: {warehouse}\n'
        f"      schema: {schema}\n      conf: {{spark.sql.shuffle.partitions: 2}}"
    )


def drop_spark_databases(*names: str) -> None:
    """Drop the test's Spark databases (in the session the test run shares)."""
    from featurekit.engines.spark import spark_session

    session = spark_session({"warehouse": str(SPARK_WAREHOUSE)})
    for name in names:
        session.sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE")


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


def profiles_yaml(engine: str, tmp_path: Path, schema: str, metadata: str) -> str:
    if engine == "duckdb":
        output = f"type: duckdb\n      path: {tmp_path / 'test.duckdb'}\n      schema: main"
    elif engine == "spark":
        output = spark_profile(schema)
    else:
        p = pg_params()
        output = (
            f"type: postgres\n      host: '{p['host']}'\n      port: {p['port']}\n"
            f"      user: '{p['user']}'\n      password: '{p['password']}'\n"
            f"      dbname: '{p['dbname']}'\n      schema: {schema}\n      threads: 2"
        )
    return (
        "featurekit:\n  target: test\n  outputs:\n    test:\n"
        f"      {output}\n      metadata_schema: {metadata}\n"
    )


class ProjectFactory:
    """Writes a project into a temp dir for one engine and opens it."""

    def __init__(self, engine: str, root: Path):
        self.engine = engine
        self.root = root
        suffix = uuid.uuid4().hex[:10]
        self.schema = "main" if engine == "duckdb" else f"fk_t_{suffix}"
        self.metadata = f"fk_m_{suffix}"
        self.projects: list = []
        root.mkdir(parents=True, exist_ok=True)
        (root / "models_sql").mkdir(exist_ok=True)
        (root / "profiles.yml").write_text(profiles_yaml(engine, root, self.schema, self.metadata))

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
        connected = any(project.is_connected for project in self.projects)
        for project in self.projects:
            project.close()
        if self.engine == "postgres":
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.metadata}" CASCADE')
        if self.engine == "spark" and connected:  # else no session was started for it
            drop_spark_databases(self.schema, self.metadata)


@pytest.fixture(scope="session", autouse=True)
def _spark_warehouse():
    """Remove the Spark warehouse of the test run at its end."""
    yield
    shutil.rmtree(SPARK_WAREHOUSE, ignore_errors=True)


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    require_engine(request.param)
    return request.param


@pytest.fixture
def make_project(engine_name, tmp_path):
    """``make_project()`` -> a ProjectFactory for this test's engine."""
    factories = []

    def make(subdir: str = "proj") -> ProjectFactory:
        factory = ProjectFactory(engine_name, tmp_path / subdir)
        factory._sources = {}
        factories.append(factory)
        return factory

    yield make
    for factory in factories:
        factory.cleanup()


def rows(project, sql: str) -> list[tuple]:
    """Run a query against the project's engine, with {schema} filled in."""
    engine = project.engine
    return engine.fetchall(sql.format(schema=engine.quote(project.target.schema)))


@pytest.fixture
def duck_project(tmp_path) -> ProjectFactory:
    """A DuckDB project factory for tests that do not depend on the engine."""
    factory = ProjectFactory("duckdb", tmp_path / "proj")
    factory._sources = {}
    yield factory
    factory.cleanup()
