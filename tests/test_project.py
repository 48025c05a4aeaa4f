"""Loading a project: dependency inference, reference errors, cycles, selection."""

from __future__ import annotations

import pytest

from featurekit.errors import ConfigError, ModelError


def chain(p) -> None:
    p.seed("events", "id,ts,v\n1,2024-01-01 00:00:00,1\n", timestamp="ts")
    p.model("a", "SELECT id, ts, v FROM events", "materialized: view")
    p.model("b", "WITH x AS (SELECT * FROM a) SELECT * FROM x", "materialized: table")
    p.model("c", "SELECT b.id FROM b JOIN a ON a.id = b.id", "materialized: table")
    p.model("d", "SELECT * FROM events", "materialized: view")


def test_dependencies_are_inferred_from_sql(duck_project):
    chain(duck_project)
    project = duck_project.open()
    assert project.models["a"].depends_on == [] and project.models["a"].sources == ["events"]
    assert project.models["b"].depends_on == ["a"]  # the CTE x is not a dependency
    assert project.models["c"].depends_on == ["a", "b"]
    assert project.graph.order.index("a") < project.graph.order.index("b")
    assert project.graph.order.index("b") < project.graph.order.index("c")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (["b"], ["b"]),
        (["+b"], ["a", "b"]),
        (["b+"], ["b", "c"]),
        (["+c"], ["a", "b", "c"]),
        (["a+"], ["a", "b", "c"]),
        (["d", "b"], ["b", "d"]),
        (["b d"], ["b", "d"]),
        ([], ["a", "b", "c", "d"]),
        (["[bc]"], ["b", "c"]),
    ],
)
def test_selection_like_dbt(duck_project, selector, expected):
    chain(duck_project)
    assert sorted(duck_project.open().select(selector)) == expected


def test_selection_of_unknown_model_suggests(duck_project):
    chain(duck_project)
    with pytest.raises(ConfigError, match=r'no model named "bb" \(did you mean "b"\?\)'):
        duck_project.open().select(["bb"])


def test_unknown_table_names_file_line_and_suggests(duck_project):
    duck_project.seed("events", "id\n1\n")
    duck_project.model("a", "SELECT id\nFROM\n   evnts", "materialized: view")
    with pytest.raises(ModelError) as info:
        duck_project.open()
    message = str(info.value)
    assert "models_sql/a.sql:6:4" in message  # header is 3 lines, then SELECT/FROM/evnts
    assert 'unknown table "evnts"' in message and 'did you mean "events"' in message


def test_cycle_prints_the_cycle(duck_project):
    duck_project.model("a", "SELECT * FROM c")
    duck_project.model("b", "SELECT * FROM a")
    duck_project.model("c", "SELECT * FROM b")
    with pytest.raises(ModelError, match=r"dependency cycle: a -> c -> b -> a"):
        duck_project.open()


def test_model_reading_itself(duck_project):
    duck_project.model("a", "SELECT * FROM a")
    with pytest.raises(ModelError, match=r"a.sql:1:15: model reads itself"):
        duck_project.open()


def test_duplicate_model_names(duck_project):
    duck_project.model("a", "SELECT 1 AS x")
    duck_project.write("models_sql/sub/a.sql", "SELECT 2 AS x")
    with pytest.raises(ModelError, match=r'duplicate model name "a"'):
        duck_project.open()


def test_syntax_error_reports_file_line_col_past_the_header(duck_project):
    duck_project.model("a", "SELECT id,\n  FROM WHERE", "materialized: view\ndescription: x")
    with pytest.raises(ModelError, match=r"models_sql/a.sql:6:\d+: SQL syntax error"):
        duck_project.open()


def test_two_statements_are_rejected(duck_project):
    duck_project.model("a", "SELECT 1; SELECT 2")
    with pytest.raises(ModelError, match="exactly one SELECT"):
        duck_project.open()


def test_table_sources_are_referenced_by_name_or_relation(duck_project):
    duck_project.write("models_sql/sources.yml", """
        sources:
          events:
            table: raw.events
            timestamp: ts
    """)
    duck_project.model("a", "SELECT * FROM events")
    duck_project.model("b", "SELECT * FROM raw.events")
    project = duck_project.open()
    assert project.models["a"].sources == ["events"] == project.models["b"].sources
    assert '"raw"."events"' in project.compile_model("a")


def test_missing_project_is_a_clear_error(tmp_path):
    from featurekit.project import Project

    with pytest.raises(ConfigError, match="no featurekit project"):
        Project(tmp_path)


def test_unknown_pyproject_key(duck_project):
    duck_project.write("pyproject.toml", "[tool.featurekit]\nmodel = 'x'\n")
    with pytest.raises(ConfigError, match=r'unknown \[tool.featurekit\] key "model" \(did you mean "models"\?\)'):
        duck_project.open()


def test_bad_sources_yml(duck_project):
    duck_project.write("models_sql/sources.yml", "sources:\n  e:\n    seed: nope.csv\n")
    with pytest.raises(ConfigError, match=r'source "e": seed file nope.csv does not exist'):
        duck_project.open()
