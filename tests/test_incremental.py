"""Incremental models: windows, one-transaction replacement, and equality with a full rebuild."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import (
    ENGINES,
    FEW_EXAMPLES,
    SPARK_ENGINES,
    ProjectFactory,
    examples,
    quoted,
    require_engine,
    rows,
    run_state,
    spark_too,
)

BASE = datetime(2024, 1, 1)
DAILY = """
SELECT user_id,
       CAST(date_trunc('day', ts) AS TIMESTAMP) + INTERVAL 1 DAY AS feature_ts,
       sum(amount) AS spend,
       count(*) AS n
FROM events
GROUP BY user_id, date_trunc('day', ts)
"""
DAILY_HEADER = """
entity: user_id
timestamp: feature_ts
materialized: incremental
lookback: 1d
restate: 2d
"""
ROLLING = """
SELECT user_id, feature_ts,
       sum(spend) OVER (PARTITION BY user_id ORDER BY feature_ts
                        RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW) AS spend_7d
FROM daily
"""
ROLLING_HEADER = """
entity: user_id
timestamp: feature_ts
materialized: incremental
lookback: 7d
restate: 2d
"""


def csv(events: list[tuple[int, datetime, float]]) -> str:
    lines = [f"{u},{t:%Y-%m-%d %H:%M:%S},{a}" for u, t, a in events]
    return "user_id,ts,amount\n" + "\n".join(lines) + "\n"


def setup(p: ProjectFactory, events) -> None:
    p.seed("events", csv(events), timestamp="ts")
    p.model("daily", DAILY, DAILY_HEADER)
    p.model("rolling", ROLLING, ROLLING_HEADER)


def table(project, name: str) -> list[tuple]:
    return sorted(
        (r[0], r[1], round(float(r[2]), 6)) for r in
        rows(project, f"SELECT user_id, feature_ts, spend{'_7d' if name == 'rolling' else ''} "
                      f"FROM {{schema}}.{name}")
    )


def full_rebuild(project, name: str) -> list[tuple]:
    """What a full build of the model would hold now (its SQL over the current inputs)."""
    sql = project.compile_model(name)
    column = "spend_7d" if name == "rolling" else "spend"
    return sorted(
        (r[0], r[1], round(float(r[2]), 6))
        for r in project.engine.fetchall(f"SELECT user_id, feature_ts, {column} FROM ({sql}) q")
    )


# Engines without temporary tables stage a window in a plain table (dropped afterwards);
# Spark, without transactions, writes the window into a new version of the table instead.
@pytest.mark.parametrize(("engine_name", "temporary_tables"), [
    *(pytest.param(engine, temporary, id=f"{engine}-{'temp' if temporary else 'plain'}-stage")
      for engine in ENGINES for temporary in (True, False)),
    pytest.param("spark", False, id="spark"),
], indirect=["engine_name"])
def test_second_refresh_processes_only_the_window(make_project, temporary_tables):
    p = make_project()
    events = [(1, BASE + timedelta(days=d, hours=3), 1.0) for d in range(20)]
    setup(p, events)
    project = p.open()
    first = {r.model: r for r in project.refresh()}
    assert first["daily"].action == "built" and first["daily"].rows == 20
    events.append((1, BASE + timedelta(days=20, hours=1), 5.0))
    p.seed("events", csv(events), timestamp="ts")
    again = p.open()
    again.engine.temporary_tables = temporary_tables
    second = {r.model: r for r in again.refresh()}
    assert again.engine.relation_kind("daily__fk_stage") is None
    # Rows end on Jan 2 .. Jan 21: high-water mark Jan 21, restate 2d -> window from Jan 19;
    # it holds the rows ending Jan 19, 20, 21 and the new one ending Jan 22.
    assert second["daily"].action == "incremental from 2024-01-19 00:00:00"
    assert second["daily"].rows == 4
    assert table(project, "daily") == full_rebuild(project, "daily")
    assert table(project, "rolling") == full_rebuild(project, "rolling")
    runs = run_state(project, "SELECT window_start, window_end FROM {state}.runs "
                              "WHERE model = 'daily' AND window_start IS NOT NULL")
    assert runs == [(datetime(2024, 1, 19), datetime(2024, 1, 22))]


@spark_too
def test_input_filter_is_rewritten_into_the_sql(make_project):
    p = make_project()
    setup(p, [(1, BASE, 1.0)])
    project = p.open()
    sql = project.compile_model("daily", inputs_since=datetime(2024, 1, 5))
    assert "WHERE" in sql and "2024-01-05 00:00:00" in sql
    assert f"{quoted(project, 'ts')} >=" in sql


@spark_too
def test_failed_incremental_refresh_leaves_table_as_before(make_project):
    p = make_project()
    events = [(u, BASE + timedelta(days=d), 1.0) for u in (1, 2) for d in range(5)]
    setup(p, events)
    project = p.open()
    project.refresh()
    before = table(project, "daily")
    # A duplicate key in the new window: the stage is rejected before anything is deleted.
    events += [(1, BASE + timedelta(days=4, hours=5), 2.0)]
    p.seed("events", csv(events), timestamp="ts")
    p.model("daily", DAILY + "UNION ALL SELECT 1, TIMESTAMP '2024-01-05', 9.0, 1",
            DAILY_HEADER)
    result = {r.model: r for r in p.open().refresh()}["daily"]
    assert result.status == "failed" and "repeat" in result.message
    assert table(project, "daily") == before


@spark_too
def test_null_timestamps_are_refused(make_project):
    p = make_project()
    setup(p, [(1, BASE, 1.0)])
    p.model("daily", DAILY.replace("+ INTERVAL 1 DAY", "+ NULL"), DAILY_HEADER)
    result = {r.model: r for r in p.open().refresh()}["daily"]
    assert result.status == "failed"
    assert "NULL feature_ts" in result.message


def test_full_refresh_rebuilds_incremental_models(make_project):
    p = make_project()
    setup(p, [(1, BASE + timedelta(days=d), 1.0) for d in range(3)])
    project = p.open()
    project.refresh()
    results = {r.model: r for r in project.refresh(full_refresh=True)}
    assert results["daily"].action == "rebuilt" and results["daily"].rows == 3


# -- the invariant: any appends and refreshes give what a full rebuild gives ---------------

step = st.one_of(
    # Append rows: each at most one day older than the newest row so far (late, but inside
    # the 2-day restate allowance) and up to three days newer.
    st.tuples(st.just("append"), st.lists(
        st.tuples(st.integers(1, 3), st.integers(-24 * 60, 3 * 24 * 60),
                  st.sampled_from([0.5, 1.0, 2.25, 10.0])), min_size=1, max_size=6)),
    st.tuples(st.just("refresh"), st.sampled_from([None, ["daily"], ["rolling"]])),
)


@pytest.mark.parametrize("engine", SPARK_ENGINES)
def test_incremental_equals_full_rebuild(engine, tmp_path_factory):
    require_engine(engine)
    # Each step may refresh both models: where statements are slow, fewer and shorter runs.
    max_steps = 3 if engine in FEW_EXAMPLES else 6

    @settings(max_examples=examples(engine, 12, few=3), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(initial=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 10 * 24 * 60),
                                      st.sampled_from([1.0, 3.5])), min_size=1, max_size=8),
           steps=st.lists(step, min_size=1, max_size=max_steps))
    def check(initial, steps):
        appends_and_refreshes_equal_a_rebuild(
            ProjectFactory(engine, tmp_path_factory.mktemp("inc")), initial, steps)

    check()


def appends_and_refreshes_equal_a_rebuild(p: ProjectFactory, initial, steps) -> None:
    p._sources = {}
    try:
        events = [(u, BASE + timedelta(minutes=m), a) for u, m, a in initial]
        setup(p, events)
        p.open().refresh()
        for kind, arg in steps:
            if kind == "append":
                newest = max(t for _, t, _ in events)
                events += [(u, newest + timedelta(minutes=m), a) for u, m, a in arg]
                p.seed("events", csv(events), timestamp="ts")
            else:
                p.open().refresh(arg)
        project = p.open()
        project.refresh()
        assert table(project, "daily") == full_rebuild(project, "daily")
        assert table(project, "rolling") == full_rebuild(project, "rolling")
    finally:
        p.cleanup()


@spark_too
def test_changed_upstream_sql_rebuilds_incremental_readers(make_project):
    p = make_project()
    events = [(1, BASE + timedelta(days=d, hours=2), 1.0) for d in range(12)]
    p.seed("events", csv(events), timestamp="ts")
    p.model("clean", "SELECT user_id, ts, amount FROM events", "materialized: table\ntimestamp: ts")
    p.model("daily", DAILY.replace("FROM events", "FROM clean"), DAILY_HEADER)
    p.open().refresh()
    # Every old row of clean changes: daily must not keep its old days.
    p.model("clean", "SELECT user_id, ts, amount * 10 AS amount FROM events",
            "materialized: table\ntimestamp: ts")
    project = p.open()
    results = {r.model: r for r in project.refresh()}
    assert results["daily"].action == "rebuilt"
    assert table(project, "daily") == full_rebuild(project, "daily")
    assert {r[2] for r in table(project, "daily")} == {10.0}
    # Once rebuilt, later refreshes are incremental again.
    p.seed("events", csv(events + [(1, BASE + timedelta(days=12), 1.0)]), timestamp="ts")
    assert {r.model: r for r in p.open().refresh()}["daily"].action.startswith("incremental")


@spark_too
def test_upstream_sql_changed_back_in_another_refresh_rebuilds_readers(make_project):
    """An upstream model redefined and then changed back, each in a refresh of its own:
    its rows changed twice, so a reader refreshed later is rebuilt both times."""
    p = make_project()
    events = [(1, BASE + timedelta(days=d, hours=2), 1.0) for d in range(12)]
    p.seed("events", csv(events), timestamp="ts")
    original = "SELECT user_id, ts, amount FROM events"
    p.model("clean", original, "materialized: table\ntimestamp: ts")
    p.model("daily", DAILY.replace("FROM events", "FROM clean"), DAILY_HEADER)
    p.open().refresh()
    for sql, spend in (("SELECT user_id, ts, amount * 10 AS amount FROM events", 10.0),
                       (original, 1.0)):
        p.model("clean", sql, "materialized: table\ntimestamp: ts")
        assert {r.model for r in p.open().refresh(select=["clean"])} == {"clean"}
        project = p.open()
        assert project.refresh(select=["daily"])[0].action == "rebuilt"
        assert {r[2] for r in table(project, "daily")} == {spend}
