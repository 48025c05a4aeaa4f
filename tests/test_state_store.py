"""The state store: run state, monitor references and model locks in the target (the
default) or in a separate DuckDB file or PostgreSQL schema named by ``state:``."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from featurekit.errors import ConfigError, ConnectionFailed
from featurekit.profiles import load_target
from tests.conftest import PG_DSN, require_engine, rows
from tests.test_monitoring_run import DRIFT, events
from tests.test_scheduling import leave_running_run, project_with_schedule, reasons


def with_state(factory, state: str) -> None:
    """Give the factory's target a ``state:`` mapping (YAML flow text)."""
    path = factory.root / "profiles.yml"
    path.write_text(path.read_text() + f"      state: {state}\n")


def duckdb_rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def duckdb_tables(path: Path) -> set[tuple[str, str]]:
    return set(duckdb_rows(path, "SELECT schema_name, table_name FROM duckdb_tables()"))


@pytest.fixture
def pg_state_schema():
    """A PostgreSQL schema for a state store, dropped after the test."""
    require_engine("postgres")
    import psycopg

    schema = f"fk_state_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_rows(sql: str) -> list[tuple]:
    """Run a statement on the PostgreSQL server outside featurekit; its rows, if any."""
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


# -- default: the target holds its own state ---------------------------------------------
def test_default_state_is_in_the_target_metadata_schema(make_project):
    p = project_with_schedule(make_project)
    project = p.open()
    assert project.state_store.separate is None
    assert {r.status for r in project.refresh()} == {"success"}
    recorded = rows(project, f"SELECT model, target_schema, status FROM {p.metadata}.runs")
    assert sorted(recorded) == [(m, p.schema, "success")
                                for m in ("clean", "daily", "static", "summary")]
    assert rows(project, f"SELECT name FROM {p.metadata}.seeds") == [("events",)]
    assert not (p.root / ".featurekit").exists()


# -- a DuckDB target with a PostgreSQL state store ---------------------------------------
@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_duckdb_target_with_postgres_state_store(make_project, pg_state_schema):
    p = project_with_schedule(make_project)
    with_state(p, f"{{type: postgres, url: '{PG_DSN}', schema: {pg_state_schema}}}")
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    project.close()
    recorded = pg_rows(f'SELECT model, target_schema, status FROM "{pg_state_schema}".runs')
    assert sorted(recorded) == [(m, "main", "success")
                                for m in ("clean", "daily", "static", "summary")]
    assert pg_rows(f'SELECT name FROM "{pg_state_schema}".seeds') == [("events",)]
    # the target keeps the models, not the bookkeeping
    tables = duckdb_tables(p.root / "test.duckdb")
    assert ("main", "daily") in tables
    assert not any(schema == p.metadata for schema, _ in tables)

    # another scheduler (a new Project) sees the same history: nothing is due
    again = p.open()
    plan = reasons(again.refresh(dry_run=True))
    assert plan["daily"][0] == "up_to_date" and plan["daily"][1].startswith("up to date; due in")
    assert plan["static"] == ("up_to_date", "up to date (no schedule, inputs unchanged)")
    statuses = {s.model: s for s in again.ls()}
    assert statuses["daily"].status == "success" and statuses["daily"].rows == 2
    # a schedule that elapsed in the shared history makes the model due for it
    pg_rows(f"UPDATE \"{pg_state_schema}\".runs SET finished_at = finished_at - interval '2 hours'")
    pg_rows(f"UPDATE \"{pg_state_schema}\".latest_runs SET finished_at = finished_at - "
            "interval '2 hours', last_success = last_success - interval '2 hours', "
            "redefined_at = redefined_at - interval '2 hours'")
    pg_rows(f"UPDATE \"{pg_state_schema}\".seeds SET loaded_at = loaded_at - interval '2 hours'")
    got = reasons(again.refresh())
    assert got["daily"][0] == "success" and got["daily"][1].startswith("schedule 1h: due since")


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_postgres_state_store_lock_makes_a_second_scheduler_skip_the_model(
        make_project, pg_state_schema):
    p = project_with_schedule(make_project)
    with_state(p, f"{{type: postgres, url: '{PG_DSN}', schema: {pg_state_schema}}}")
    project = p.open()
    project.refresh()
    first_scheduler = p.open()  # its own PostgreSQL session: its own advisory locks
    with first_scheduler.state_store.state.model_lock("static") as held:
        assert held
        got = reasons(project.refresh(all_models=True))
        assert got["static"][0] == "skipped"
        assert "another featurekit process is refreshing it" in got["static"][1]
        assert got["daily"][0] == "success"
        # a running row whose lock is held by a live process is left alone
        live = leave_running_run(first_scheduler, "static")
        project.refresh()
        assert pg_rows(f"SELECT status FROM \"{pg_state_schema}\".runs "
                       f"WHERE run_id = '{live}'") == [("running",)]
    # released: the next refresh marks the dead row interrupted
    events = []
    project.refresh(on_event=lambda kind, name, r: events.append((kind, name)))
    assert ("recovered", "static") in events
    assert pg_rows(f"SELECT status FROM \"{pg_state_schema}\".runs "
                   f"WHERE run_id = '{live}'") == [("interrupted",)]


# -- a DuckDB target with a separate DuckDB state file ------------------------------------
@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_duckdb_target_with_separate_duckdb_state_file(make_project):
    p = project_with_schedule(make_project)
    with_state(p, "{type: duckdb, path: state/runs.duckdb}")  # relative to the project
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    assert reasons(project.refresh(dry_run=True))["static"][0] == "up_to_date"
    project.close()
    state_file = p.root / "state" / "runs.duckdb"
    # the state tables go in the target's metadata schema, inside the state file
    assert {(p.metadata, "runs"), (p.metadata, "latest_runs"), (p.metadata, "seeds")} <= duckdb_tables(state_file)
    assert len(duckdb_rows(state_file, f"SELECT * FROM {p.metadata}.runs")) == 4
    assert not any(schema == p.metadata for schema, _ in duckdb_tables(p.root / "test.duckdb"))
    # ls of a fresh project reads the state file
    statuses = {s.model: s.status for s in p.open().ls()}
    assert statuses == dict.fromkeys(("clean", "daily", "static", "summary"), "success")


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_state_tables_go_in_the_named_schema(make_project):
    p = project_with_schedule(make_project)
    with_state(p, "{type: duckdb, path: .featurekit/state.duckdb, schema: ops}")
    project = p.open()
    project.refresh()
    project.close()
    state_file = p.root / ".featurekit" / "state.duckdb"
    assert duckdb_tables(state_file) == {("ops", "runs"), ("ops", "latest_runs"), ("ops", "seeds")}
    assert duckdb_rows(state_file, "SELECT DISTINCT target_schema FROM ops.runs") == [("main",)]


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_engine_that_cannot_hold_state_defaults_to_a_project_state_file(make_project,
                                                                        monkeypatch):
    from featurekit.engines.duckdb import DuckDBEngine

    monkeypatch.setattr(DuckDBEngine, "holds_state", False)  # as the Spark engine says
    p = project_with_schedule(make_project)
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    project.close()
    state_file = p.root / ".featurekit" / "state.duckdb"
    assert len(duckdb_rows(state_file, f"SELECT * FROM {p.metadata}.runs")) == 4
    assert not any(schema == p.metadata for schema, _ in duckdb_tables(p.root / "test.duckdb"))


# -- monitor references -------------------------------------------------------------------
@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_monitor_references_live_in_the_state_store_results_in_the_target(make_project):
    p = make_project()
    p.write("monitors/drift.yml", DRIFT)
    with_state(p, "{type: duckdb, path: .featurekit/state.duckdb, schema: bookkeeping}")
    project = p.open()
    project.engine.load_arrow(pa.Table.from_pandas(events(), preserve_index=False), "events")
    first = project.monitor(as_of="2024-01-20")
    second = project.monitor(as_of="2024-01-20")
    assert (first.references_reused, second.references_reused) == (0, 2)
    project.close()
    state_file = p.root / ".featurekit" / "state.duckdb"
    stored = duckdb_rows(state_file, "SELECT column_name, target_schema, monitor "
                                     "FROM bookkeeping.monitor_references ORDER BY 1")
    assert stored == [("c", "main", "drift"), ("x", "main", "drift")]
    target_tables = duckdb_tables(p.root / "test.duckdb")
    assert (p.metadata, "monitor_results") in target_tables
    assert (p.metadata, "monitor_references") not in target_tables


def test_monitor_references_default_to_the_target(make_project):
    p = make_project()
    p.write("monitors/drift.yml", DRIFT)
    project = p.open()
    project.engine.load_arrow(pa.Table.from_pandas(events(), preserve_index=False), "events")
    project.monitor(as_of="2024-01-20")
    stored = rows(project, f"SELECT column_name FROM {p.metadata}.monitor_references ORDER BY 1")
    assert stored == [("c",), ("x",)]


# -- profiles and errors ------------------------------------------------------------------
def write_profiles(tmp_path: Path, state: str) -> Path:
    path = tmp_path / "profiles.yml"
    path.write_text("featurekit:\n  outputs:\n    dev:\n      type: duckdb\n"
                    f"      path: dev.duckdb\n      state: {state}\n")
    return path


def test_state_is_read_like_an_output(tmp_path, monkeypatch):
    monkeypatch.setenv("FK_STATE_URL", "postgresql://fk:secret@db.example:6543/meta")
    path = write_profiles(tmp_path, "{type: postgres, url: \"{{ env_var('FK_STATE_URL') }}\", "
                                    "schema: runs_here}")
    state = load_target(path).state
    assert state is not None and state.type == "postgres" and state.schema == "runs_here"
    assert (state.options["host"], state.options["port"], state.options["dbname"]) == (
        "db.example", 6543, "meta")
    assert "secret" not in repr(load_target(path))
    relative = load_target(write_profiles(tmp_path, "{type: duckdb, path: s/state.duckdb}"),
                           project_dir=tmp_path / "proj")
    assert relative.state.options["path"] == str(tmp_path / "proj" / "s" / "state.duckdb")
    assert relative.state.schema == "featurekit"  # the target's metadata schema
    assert load_target(write_profiles(tmp_path, "null")).state is None


def test_state_with_an_unknown_type(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_target(write_profiles(tmp_path, "{type: postgress, host: x}"))
    message = str(info.value)
    assert 'target "dev": state: unknown type "postgress"' in message
    assert 'did you mean "postgres"' in message


def test_state_that_is_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match=r'target "dev": state: expected a mapping'):
        load_target(write_profiles(tmp_path, "postgres"))


def test_state_keys_are_checked_like_an_outputs(tmp_path):
    with pytest.raises(ConfigError, match=r'target "dev": state: unknown key "hots" for a '
                                          r'postgres target \(did you mean "host"\?\)'):
        load_target(write_profiles(tmp_path, "{type: postgres, hots: db}"))
    with pytest.raises(ConfigError, match=r'target "dev": state: a state store keeps its own '
                                          r"state; remove its state: key"):
        load_target(write_profiles(tmp_path, "{type: duckdb, state: {type: duckdb}}"))


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_unreachable_state_store_names_the_state_store(make_project):
    p = project_with_schedule(make_project)
    with_state(p, "{type: postgres, host: 127.0.0.1, port: 1, password: hunter2, "
                  "schema: meta}")
    project = p.open()
    with pytest.raises(ConnectionFailed) as info:
        project.refresh()
    message = str(info.value)
    assert message.startswith('state store of target "test" (postgres postgres@127.0.0.1:1/')
    assert "fix state: of that target in profiles.yml" in message
    assert "hunter2" not in message
    with pytest.raises(ConnectionFailed, match="state store of target"):
        project.ls()


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_cli_refresh_and_ls_through_a_postgres_state_store(make_project, pg_state_schema):
    from click.testing import CliRunner

    from featurekit.cli import main

    p = project_with_schedule(make_project)
    with_state(p, f"{{type: postgres, url: '{PG_DSN}', schema: {pg_state_schema}}}")
    where = ["--project-dir", str(p.root)]
    refreshed = CliRunner().invoke(main, ["refresh", *where])
    assert refreshed.exit_code == 0, refreshed.output
    listing = CliRunner().invoke(main, ["ls", *where])
    assert listing.exit_code == 0, listing.output
    line = next(x for x in listing.output.splitlines() if "│ daily " in x)
    assert "success" in line and "1h" in line
    assert pg_rows(f'SELECT count(*) FROM "{pg_state_schema}".runs') == [(4,)]


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_cli_reports_an_unreachable_state_store_without_traceback(make_project):
    from click.testing import CliRunner

    from featurekit.cli import main

    p = project_with_schedule(make_project)
    with_state(p, "{type: postgres, host: 127.0.0.1, port: 1}")
    result = CliRunner().invoke(main, ["ls", "--project-dir", str(p.root)])
    assert result.exit_code == 2
    assert 'state store of target "test"' in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("engine_name", ["duckdb"], indirect=True)
def test_incremental_window_is_recorded_in_the_state_store(make_project, pg_state_schema):
    from tests.test_incremental import BASE, csv, setup

    p = make_project()
    with_state(p, f"{{type: postgres, url: '{PG_DSN}', schema: {pg_state_schema}}}")
    events = [(1, BASE + timedelta(days=d, hours=3), 1.0) for d in range(20)]
    setup(p, events)
    p.open().refresh()
    events.append((1, BASE + timedelta(days=20, hours=1), 5.0))
    p.seed("events", csv(events), timestamp="ts")
    second = {r.model: r for r in p.open().refresh()}
    # high-water mark Jan 21, restate 2d: the window starts Jan 19 and now ends Jan 22
    assert second["daily"].action == "incremental from 2024-01-19 00:00:00"
    assert pg_rows(f'SELECT window_start, window_end, rows FROM "{pg_state_schema}".runs '
                   "WHERE model = 'daily' AND window_start IS NOT NULL") == [
        (datetime(2024, 1, 19), datetime(2024, 1, 22), 4)]
