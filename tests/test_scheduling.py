"""Due-ness, dry runs, --all, locks between schedulers, interrupted runs, parallel workers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from featurekit.state import utcnow
from tests.conftest import rows, run_state, spark_too

EVENTS = "user_id,ts,amount\n1,2024-01-01 10:00:00,5.0\n2,2024-01-02 09:00:00,1.0\n"


def project_with_schedule(make_project, schedule: str = "1h"):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("clean", "SELECT * FROM events WHERE amount > 0", "materialized: view")
    p.model("daily", "SELECT user_id, count(*) AS n FROM clean GROUP BY user_id",
            f"materialized: table\nrefresh: '{schedule}'")
    p.model("summary", "SELECT count(*) AS users FROM daily", "materialized: table")
    p.model("static", "SELECT 1 AS one", "materialized: table")
    return p


def leave_running_run(project, model: str, state=None) -> str:
    """A run of ``model`` started and never finished, as a killed process leaves it; its id."""
    state = state or project.state_store.state
    return state.start_run(model, "table", "fingerprint", "a killed process")


def reasons(results) -> dict[str, tuple[str, str]]:
    """model -> (status, why it was due or not; or what went wrong)."""
    return {r.model: (r.status, r.message or r.reason) for r in results}


def age_history(project, p, hours: float) -> None:
    """Pretend every run and seed load happened ``hours`` ago."""
    when = utcnow() - timedelta(hours=hours)
    run_state(project, "UPDATE {state}.runs SET finished_at = :ts", {"ts": when})
    run_state(project, "UPDATE {state}.latest_runs SET finished_at = :ts, "
              "last_success = CASE WHEN last_success IS NULL THEN NULL ELSE :ts END, "
              "redefined_at = CASE WHEN redefined_at IS NULL THEN NULL ELSE :ts END",
              {"ts": when})
    run_state(project, "UPDATE {state}.seeds SET loaded_at = :ts", {"ts": when})


@spark_too
def test_first_refresh_builds_everything_then_nothing_is_due(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    second = reasons(project.refresh())
    assert second["clean"] == ("up_to_date", "view is current")
    assert second["daily"][0] == "up_to_date" and second["daily"][1].startswith(
        "up to date; due in")
    assert second["static"] == ("up_to_date", "up to date (no schedule, inputs unchanged)")


@spark_too
def test_elapsed_schedule_makes_model_and_readers_due(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    age_history(project, p, 2)
    got = reasons(project.refresh())
    assert got["daily"][0] == "success"
    assert got["daily"][1].startswith("schedule 1h: due since")
    assert got["summary"] == ("success", "newer data in daily")
    assert got["static"][0] == "up_to_date"
    plan = reasons(project.refresh(dry_run=True))
    assert plan["summary"][0] == "up_to_date"


@spark_too
def test_cron_schedule(make_project):
    p = project_with_schedule(make_project, "0,30 * * * *")
    project = p.open()
    project.refresh()
    assert reasons(project.refresh(dry_run=True))["daily"][0] == "up_to_date"
    age_history(project, p, 1)
    plan = reasons(project.refresh(dry_run=True))
    assert plan["daily"][0] == "due" and "schedule 0,30 * * * *" in plan["daily"][1]


@spark_too
def test_changed_sql_and_changed_seed_are_due_with_reasons(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    p.model("static", "SELECT 2 AS one", "materialized: table")
    p.seed("events", EVENTS + "3,2024-01-03 00:00:00,2.0\n", timestamp="ts")
    plan = reasons(p.open().refresh(dry_run=True))
    assert plan["static"] == ("due", "SQL changed")
    assert plan["daily"] == ("due", "newer data in clean")
    assert plan["summary"] == ("due", "newer data in daily")
    assert plan["clean"] == ("up_to_date", "view is current")


def catalog(p) -> list[tuple]:
    """Every schema, relation and run row the test's database holds, read around featurekit.

    On Spark: every file of the target's databases, of its current-version records and of
    its state store (path, size, modification time).
    """
    if p.engine == "spark":
        from tests.conftest import SPARK_WAREHOUSE

        places = [SPARK_WAREHOUSE / f"{schema}.db" for schema in (p.schema, p.metadata)]
        places += [SPARK_WAREHOUSE / "featurekit_current" / p.schema, p.root / ".featurekit"]
        return sorted((str(f), f.stat().st_size, f.stat().st_mtime_ns)
                      for place in places for f in place.rglob("*") if f.is_file())
    if p.engine == "duckdb":
        import duckdb

        path = p.root / "test.duckdb"
        if not path.exists():
            return []
        with duckdb.connect(str(path), read_only=True) as conn:
            found = conn.execute(
                "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
                "UNION ALL SELECT schema_name, view_name, 0 FROM duckdb_views() WHERE NOT internal "
                "UNION ALL SELECT schema_name, '', 0 FROM duckdb_schemas() WHERE NOT internal "
                "ORDER BY ALL").fetchall()
            for table in ("runs", "latest_runs"):
                if any(t[1] == table for t in found):
                    found += conn.execute(
                        f"SELECT * FROM {p.metadata}.{table} ORDER BY run_id").fetchall()
            return found
    import psycopg

    from tests.conftest import PG_DSN

    with psycopg.connect(PG_DSN) as conn:
        found = conn.execute(
            "SELECT n.nspname, coalesce(c.relname, ''), coalesce(c.relkind, ' ') "
            "FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid "
            "WHERE n.nspname IN (%s, %s) ORDER BY 1, 2", [p.schema, p.metadata]).fetchall()
        for table in ("runs", "latest_runs"):
            if any(t[1] == table for t in found):
                found += conn.execute(
                    f"SELECT * FROM {p.metadata}.{table} ORDER BY run_id").fetchall()
        return found


def test_a_target_refreshed_before_latest_runs_is_read_from_its_history(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    run_state(project, "DROP TABLE {state}.latest_runs")  # as an older featurekit left it
    project.close()
    before = catalog(p)
    plan = reasons(p.open().refresh(dry_run=True))  # read from the history, without writing
    assert {status for status, _ in plan.values()} == {"up_to_date"}
    assert catalog(p) == before
    again = p.open()
    assert {status for status, _ in reasons(again.refresh()).values()} == {"up_to_date"}
    assert run_state(again, "SELECT count(*) FROM {state}.latest_runs") == [(4,)]
    assert reasons(again.refresh(all_models=True))["static"][0] == "success"


@spark_too
def test_dry_run_on_a_fresh_target_creates_nothing(make_project):
    p = project_with_schedule(make_project)
    plan = reasons(p.open().refresh(dry_run=True))
    assert plan == {name: ("due", "never built") for name in ("clean", "daily", "summary",
                                                               "static")}
    # No DuckDB file, no target or metadata schema, no table.
    assert catalog(p) == []


@spark_too
def test_dry_run_changes_nothing_in_a_built_target(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    leave_running_run(project, "static")  # not marked interrupted by a dry run
    p.seed("events", EVENTS + "3,2024-01-03 08:00:00,2.0\n", timestamp="ts")
    project.close()
    before = catalog(p)
    assert before  # what there is to change
    plan = reasons(p.open().refresh(dry_run=True))
    assert plan["daily"] == ("due", "newer data in clean")
    assert catalog(p) == before


@spark_too
def test_all_ignores_schedules(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    results = reasons(project.refresh(all_models=True))
    assert all(status == "success" for status, _ in results.values())


@spark_too
def test_failed_model_is_due_again(make_project):
    p = project_with_schedule(make_project)
    p.open().refresh()
    p.model("static", "SELECT CAST('x' AS INTEGER) AS one", "materialized: table")
    assert reasons(p.open().refresh())["static"][0] == "failed"
    assert reasons(p.open().refresh(dry_run=True))["static"] == ("due", "last run failed")


@spark_too
def test_dead_running_row_is_marked_interrupted_and_redone(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    dead = leave_running_run(project, "static")
    events = []
    got = reasons(project.refresh(on_event=lambda kind, name, r: events.append((kind, name))))
    assert ("recovered", "static") in events
    assert got["static"][0] == "success"
    status = run_state(project, "SELECT status, error FROM {state}.runs WHERE run_id = :id",
                       {"id": dead})
    assert status[0][0] == "interrupted" and "stopped" in status[0][1]


def test_a_running_row_is_dead_only_where_a_free_lock_proves_it(make_project):
    from featurekit.refresh import dead_runs
    from featurekit.state import State

    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    engine = project.engine
    state = State(engine)
    leave_running_run(project, "static", state)
    last_runs = state.last_runs()
    assert dead_runs(state, last_runs) == ["static"]
    # Without advisory locks, a free "lock" says nothing while other writers may run it.
    engine.advisory_locks = False
    assert dead_runs(state, last_runs) == ([] if engine.concurrent_writers else ["static"])


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_second_scheduler_skips_a_model_locked_by_the_first(make_project):
    from featurekit.engines.postgres import PostgresEngine
    from featurekit.state import State

    p = project_with_schedule(make_project)
    project = p.open()
    project.refresh()
    other = PostgresEngine(project.target)
    other.connect()
    try:
        with State(other).model_lock("static") as held:
            assert held
            got = reasons(project.refresh(all_models=True))
            assert got["static"][0] == "skipped"
            assert "another featurekit process is refreshing it" in got["static"][1]
            assert got["daily"][0] == "success"
            # A running row whose lock is held by a live process is left alone.
            live = leave_running_run(project, "static", State(other))
            project.refresh()
            assert rows(project, f"SELECT status FROM {p.metadata}.runs "
                                 f"WHERE run_id = '{live}'") == [("running",)]
    finally:
        other.close()


@pytest.mark.parametrize("engine_name", ["postgres"], indirect=True)
def test_independent_models_run_in_parallel_on_postgres(make_project):
    p = make_project()
    p.write("pyproject.toml", "[tool.featurekit]\ndialect = 'postgres'\n")
    for name in ("slow_a", "slow_b"):
        p.model(name, "SELECT 1 AS x FROM pg_sleep(0.8)", "materialized: table")
    p.model("after", "SELECT * FROM slow_a UNION ALL SELECT * FROM slow_b",
            "materialized: table")
    project = p.open()
    assert project.target.threads == 2
    results = reasons(project.refresh())
    assert {s for s, _ in results.values()} == {"success"}
    spans = dict((m, (s, f)) for m, s, f in rows(
        project, f"SELECT model, started_at, finished_at FROM {p.metadata}.runs"))
    (a_start, a_end), (b_start, b_end) = spans["slow_a"], spans["slow_b"]
    assert a_start < b_end and b_start < a_end  # the two slow models overlapped
    assert spans["after"][0] >= max(a_end, b_end)  # and their reader waited for both
