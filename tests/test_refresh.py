"""Materializations on real engines: views, tables, materialized views, atomicity, keys, seeds."""

from __future__ import annotations

import pytest

from featurekit.errors import CompileError, ConfigError, ModelError
from tests.conftest import rows, spark_too

EVENTS = "user_id,ts,amount\n1,2024-01-01 10:00:00,5.0\n1,2024-01-02 11:00:00,7.5\n2,2024-01-01 09:00:00,1.0\n"
DAILY_HEADER = "entity: user_id\ntimestamp: feature_ts\nmaterialized: {kind}"
DAILY_SQL = """
SELECT user_id, CAST(date_trunc('day', ts) AS TIMESTAMP) + INTERVAL 1 DAY AS feature_ts,
       sum(amount) AS spend
FROM events
GROUP BY user_id, date_trunc('day', ts)
"""


def daily_project(make_project, kind: str):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("daily", DAILY_SQL, DAILY_HEADER.format(kind=kind))
    return p


def by_status(results) -> dict[str, str]:
    return {r.model: r.status for r in results}


@pytest.mark.parametrize("kind", ["view", "table", "materialized_view"])
@spark_too
def test_each_materialization_builds_queryable_rows(make_project, kind):
    p = daily_project(make_project, kind)
    project = p.open()
    assert by_status(project.refresh()) == {"daily": "success"}
    got = rows(project, "SELECT user_id, spend FROM {schema}.daily ORDER BY user_id, feature_ts")
    assert got == [(1, 5.0), (1, 7.5), (2, 1.0)]
    engine = project.engine
    expected_kind = kind
    if kind == "materialized_view" and not engine.native_materialized_views:
        expected_kind = "table"
    if expected_kind == "table" and not engine.transactions:
        expected_kind = "view"  # over the table's current version, swapped in one step
    assert engine.relation_kind("daily") == expected_kind


@pytest.mark.parametrize("kind", ["table", "materialized_view"])
@spark_too
def test_refresh_picks_up_new_source_rows(make_project, kind):
    p = daily_project(make_project, kind)
    project = p.open()
    project.refresh()
    p.seed("events", EVENTS + "3,2024-01-03 08:00:00,2.0\n", timestamp="ts")
    results = project.refresh()
    assert by_status(results) == {"daily": "success"}
    assert rows(project, "SELECT count(*) FROM {schema}.daily") == [(4,)]


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_postgres_materialized_view_refreshes_concurrently_then_rebuilds_on_change(make_project):
    p = daily_project(make_project, "materialized_view")
    project = p.open()
    assert project.refresh()[0].action == "built"
    assert project.refresh(all_models=True)[0].action == "refreshed"
    unique = rows(project, (
        "SELECT count(*) FROM pg_indexes WHERE schemaname = '" + p.schema
        + "' AND tablename = 'daily' AND indexdef LIKE 'CREATE UNIQUE INDEX%'"
    ))
    assert unique == [(1,)]
    p.model("daily", DAILY_SQL.replace("sum(amount)", "max(amount)"),
            DAILY_HEADER.format(kind="materialized_view"))
    project = p.open()
    result = project.refresh()[0]
    assert result.action == "rebuilt"
    assert rows(project, "SELECT max(spend) FROM {schema}.daily") == [(7.5,)]


@pytest.mark.parametrize("kind", ["table", "materialized_view"])
@spark_too
def test_duplicate_keys_fail_and_keep_previous_rows(make_project, kind):
    p = daily_project(make_project, kind)
    project = p.open()
    project.refresh()
    before = rows(project, "SELECT * FROM {schema}.daily ORDER BY 1, 2")
    p.model("daily", DAILY_SQL + "UNION ALL SELECT 1, TIMESTAMP '2024-01-02', 9.0",
            DAILY_HEADER.format(kind=kind))
    project = p.open()
    result = project.refresh()[0]
    assert result.status == "failed"
    assert "user_id=1, feature_ts=2024-01-02 00:00:00 (2 rows)" in result.message
    assert "must be unique" in result.message
    assert rows(project, "SELECT * FROM {schema}.daily ORDER BY 1, 2") == before


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_duplicate_keys_in_a_concurrent_refresh_keep_the_view_and_name_the_keys(make_project):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    # feature_ts is the event's own time: two events of one user at one moment repeat a key.
    p.model("latest", "SELECT user_id, ts AS feature_ts, amount FROM events",
            "entity: user_id\ntimestamp: feature_ts\nmaterialized: materialized_view")
    project = p.open()
    assert project.refresh()[0].action == "built"
    before = rows(project, "SELECT * FROM {schema}.latest ORDER BY 1, 2")
    p.seed("events", EVENTS + "1,2024-01-02 11:00:00,8.0\n", timestamp="ts")
    project = p.open()
    result = project.refresh()[0]  # same SQL: REFRESH MATERIALIZED VIEW CONCURRENTLY
    assert result.status == "failed"
    assert "user_id=1, feature_ts=2024-01-02 11:00:00 (2 rows)" in result.message
    assert "must be unique" in result.message
    assert project.engine.relation_kind("latest") == "materialized_view"
    assert rows(project, "SELECT * FROM {schema}.latest ORDER BY 1, 2") == before


@pytest.mark.parametrize("kind", ["view", "table", "materialized_view"])
@spark_too
def test_unknown_column_stops_the_refresh_before_anything_is_written(make_project, kind):
    p = daily_project(make_project, kind)
    project = p.open()
    project.refresh()
    before = rows(project, "SELECT * FROM {schema}.daily ORDER BY 1, 2")
    p.model("daily", DAILY_SQL.replace("sum(amount)", "sum(no_such_column)"),
            DAILY_HEADER.format(kind=kind))
    project = p.open()
    with pytest.raises(ModelError, match=r'models_sql/daily.sql:7:12: column "no_such_column"'):
        project.refresh()
    assert rows(project, "SELECT * FROM {schema}.daily ORDER BY 1, 2") == before
    assert project.ls()[0].status == "success"


@pytest.mark.parametrize(
    ("kind", "broken"),
    [
        # Valid SQL that fails only while rows are computed: a cast that cannot succeed.
        ("table", "sum(amount) + CAST('x' AS INTEGER)"),
        ("materialized_view", "sum(amount) + CAST('x' AS INTEGER)"),
    ],
)
@spark_too
def test_failing_refresh_leaves_old_rows_readable(make_project, kind, broken):
    p = daily_project(make_project, kind)
    project = p.open()
    project.refresh()
    before = rows(project, "SELECT * FROM {schema}.daily ORDER BY 1, 2")
    p.model("daily", DAILY_SQL.replace("sum(amount)", broken), DAILY_HEADER.format(kind=kind))
    project = p.open()
    result = project.refresh()[0]
    assert result.status == "failed"
    assert "daily" in result.message
    assert rows(project, "SELECT * FROM {schema}.daily ORDER BY 1, 2") == before
    last = project.ls()[0]
    assert last.status == "failed" and last.error


@spark_too
def test_failed_model_skips_descendants_but_others_run(make_project):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("bad", "SELECT CAST('x' AS INTEGER) AS v FROM events", "materialized: table")
    p.model("child", "SELECT * FROM bad", "materialized: table")
    p.model("grandchild", "SELECT * FROM child", "materialized: view")
    p.model("good", "SELECT count(*) AS n FROM events", "materialized: table")
    results = by_status(p.open().refresh())
    assert results == {"bad": "failed", "child": "skipped", "grandchild": "skipped",
                       "good": "success"}


@spark_too
def test_runs_are_recorded_in_the_state_table(make_project):
    p = daily_project(make_project, "table")
    project = p.open()
    project.refresh()
    project.refresh(all_models=True)
    store = project.state_store  # the target itself, or where an engine keeps state apart
    got = store.engine.fetchall(
        f"SELECT model, status, rows, fingerprint IS NOT NULL, high_water_mark "
        f"FROM {store.engine.relation('runs', store.schema)} ORDER BY started_at")
    assert [r[:4] for r in got] == [("daily", "success", 3, True)] * 2
    assert str(got[0][4]).startswith("2024-01-03")
    status = project.ls()[0]
    assert status.rows == 3 and status.status == "success" and status.last_success


@spark_too
def test_seed_reloads_only_when_the_file_changes(make_project):
    p = daily_project(make_project, "view")
    project = p.open()
    project.refresh()
    loads = []
    project.refresh(on_event=lambda kind, name, result: loads.append(name) if kind == "seed" else 0)
    assert loads == []
    p.seed("events", EVENTS + "9,2024-01-05 00:00:00,3.0\n", timestamp="ts")
    project.refresh(on_event=lambda kind, name, result: loads.append(name) if kind == "seed" else 0)
    assert loads == ["events"]
    assert rows(project, "SELECT count(*) FROM {schema}.events") == [(4,)]


@spark_too
def test_group_by_all_fails_at_compile_time_on_postgres(make_project):
    p = make_project()
    p.seed("events", EVENTS)
    p.model("agg", "SELECT user_id, sum(amount) AS s FROM events GROUP BY ALL", "materialized: view")
    project = p.open()
    if project.target.type != "postgres":
        assert "GROUP BY ALL" in project.compile_model("agg")
        return
    with pytest.raises(CompileError, match=r"models_sql/agg.sql: model agg: cannot run on postgres: GROUP BY ALL"):
        project.compile()
    with pytest.raises(CompileError):
        project.refresh()


@spark_too
def test_missing_table_source_is_a_clear_error(make_project):
    p = make_project()
    p.write("models_sql/sources.yml", "sources:\n  events:\n    table: nowhere.events\n")
    p.model("a", "SELECT * FROM events", "materialized: view")
    with pytest.raises(ConfigError, match=r'source "events": table nowhere.events does not exist'):
        p.open().refresh()


@spark_too
def test_rebuilding_an_upstream_materialized_view_keeps_dependent_views(make_project):
    p = daily_project(make_project, "materialized_view")
    p.model("top", "SELECT * FROM daily WHERE spend > 2", "materialized: view")
    project = p.open()
    project.refresh()
    p.model("daily", DAILY_SQL.replace("sum(amount)", "sum(amount) * 2"),
            DAILY_HEADER.format(kind="materialized_view"))
    project = p.open()
    results = by_status(project.refresh(["daily"]))
    assert results["daily"] == "success"
    assert rows(project, "SELECT count(*) FROM {schema}.top") == [(2,)]
