"""Compiling models: safe quoting, column checks at compile time, errors told against the file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from featurekit.cli import main
from featurekit.errors import CompileError, ModelError
from tests.conftest import quoted, rows, spark_too

TRIPS = ("rider_id,ts,fare_amount\n1,2024-01-01 10:00:00,5.0\n1,2024-01-02 11:00:00,7.5\n"
         "2,2024-01-01 09:00:00,1.0\n")
PROFILE_HEADER = "entity: rider_id\ntimestamp: feature_ts\nmaterialized: table"
PROFILE = """
SELECT rider_id,
       max(ts) AS feature_ts,
       sum({column}) AS fare
FROM trips
GROUP BY rider_id
"""


def cli(p, *args: str):
    return CliRunner().invoke(main, [*args, "--project-dir", str(p.root)])


def trips_project(make_project, column: str = "fare_amount"):
    p = make_project()
    p.seed("trips", TRIPS, timestamp="ts")
    p.model("rider_profile", PROFILE.format(column=column), PROFILE_HEADER)
    return p


@spark_too
def test_a_model_named_like_a_keyword_is_read_by_another(make_project):
    p = make_project()
    p.seed("trips", TRIPS, timestamp="ts")
    p.model("group", "SELECT rider_id, count(*) AS n FROM trips GROUP BY rider_id",
            "materialized: table")
    p.model("reader", 'SELECT rider_id, n FROM "group" WHERE "group".n > 1',
            "materialized: view")
    project = p.open()
    assert f"AS {quoted(project, 'group')}" in project.compile(["reader"])["reader"]
    assert {r.model: r.status for r in project.refresh()} == {"group": "success",
                                                             "reader": "success"}
    assert rows(project, "SELECT rider_id, n FROM {schema}.reader") == [(1, 2)]
    result = cli(p, "compile")
    assert result.exit_code == 0, result.output


@spark_too
def test_compile_fails_when_the_target_cannot_parse_the_compiled_sql(make_project):
    p = make_project()
    # DuckDB's MAP literal: sqlglot renders it for PostgreSQL as SQL PostgreSQL rejects.
    p.model("lookup", "SELECT MAP {'a': 1} AS m", "materialized: view")
    project = p.open()
    result = cli(p, "compile")
    if project.target.type == "duckdb":
        assert result.exit_code == 0, result.output
        assert project.refresh()[0].status == "success"
        return
    assert result.exit_code == 2, result.output
    assert (f"models_sql/lookup.sql: model lookup: {project.target.type} cannot parse"
            in result.output)
    with pytest.raises(CompileError):
        project.refresh()


@spark_too
def test_unknown_column_is_an_error_at_compile_naming_file_line_and_closest_name(make_project):
    p = trips_project(make_project, column="fare_amt")
    project = p.open()
    expected = (r'models_sql/rider_profile.sql:8:12: column "fare_amt" does not exist in '
                r'the model\'s inputs \(did you mean "fare_amount"\?\)')
    with pytest.raises(ModelError, match=expected):
        project.compile()
    result = cli(p, "compile")
    assert result.exit_code == 2
    assert 'rider_profile.sql:8:12: column "fare_amt"' in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ModelError, match=expected):  # refresh stops before writing anything
        project.refresh()
    assert project.engine.relation_kind("rider_profile") is None


@spark_too
def test_unknown_column_of_an_upstream_model_and_of_a_table_source(make_project):
    p = trips_project(make_project)
    p.model("fares", "SELECT rider_id, feature_ts, fares FROM rider_profile",
            "materialized: view")
    project = p.open()
    with pytest.raises(ModelError, match=r'models_sql/fares.sql:4:30: column "fares" does not '
                                         r'exist in the model\'s inputs \(did you mean "fare"\?\)'):
        project.compile(["fares"])
    engine = project.engine
    engine.ensure_schema("raw_src")
    engine.execute(f"CREATE TABLE {engine.relation('riders', 'raw_src')} "
                   "(rider_id INTEGER, city VARCHAR(20))")
    p.write("models_sql/sources.yml", "sources:\n  trips: {seed: seeds/trips.csv, timestamp: ts}\n"
            "  riders: {table: raw_src.riders}\n")
    p.model("fares", "SELECT rider_id, feature_ts, fare FROM rider_profile", "materialized: view")
    p.model("cities", "SELECT rider_id, cty FROM riders", "materialized: view")
    project = p.open()
    with pytest.raises(ModelError, match=r'cities.sql:4:18: column "cty" does not exist in the '
                                         r'model\'s inputs \(did you mean "city"\?\)'):
        project.compile()
    if p.own_schema:  # a database the tests share, not a file of this test's own
        engine.execute("DROP SCHEMA raw_src CASCADE")


def test_entity_missing_from_the_output_is_an_error_at_compile(make_project):
    p = make_project()
    p.seed("trips", TRIPS, timestamp="ts")
    p.model("rider_profile", "SELECT rider_id AS rider, max(ts) AS feature_ts FROM trips "
            "GROUP BY rider_id", PROFILE_HEADER)
    with pytest.raises(ModelError, match=r'models_sql/rider_profile.sql: entity column "rider_id" '
                                         r"is not among the columns the model outputs "
                                         r"\(rider, feature_ts\)"):
        p.open().compile()


@spark_too
def test_runtime_errors_name_the_model_file_and_line_not_compiled_sql(make_project):
    p = trips_project(make_project,
                      column="fare_amount + CAST(CAST(rider_id AS VARCHAR) || 'x' AS INTEGER)")
    result = p.open().refresh()[0]
    assert result.status == "failed"
    assert result.message.startswith("models_sql/rider_profile.sql:")
    assert "LINE 1" not in result.message and "__fk_" not in result.message
    assert "SUM(" not in result.message  # no excerpt of the compiled SQL
