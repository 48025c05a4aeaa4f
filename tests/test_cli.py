"""The CLI: exit codes, clear errors without tracebacks, init, compile, ls, locks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from featurekit.cli import main
from tests.conftest import quoted, rows, spark_too


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_init_scaffold_refreshes_out_of_the_box(tmp_path):
    target = tmp_path / "shop"
    assert run("init", str(target)).exit_code == 0
    result = run("refresh", "--project-dir", str(target))
    assert result.exit_code == 0, result.output
    assert "user_events_daily" in result.output and "success" in result.output
    listing = run("ls", "--project-dir", str(target))
    assert listing.exit_code == 0 and "user_events_daily" in listing.output
    again = run("init", str(target))
    assert again.exit_code == 2 and "already exist" in again.output


def test_compile_prints_final_sql(tmp_path):
    run("init", str(tmp_path / "p"))
    result = run("compile", "--project-dir", str(tmp_path / "p"))
    assert result.exit_code == 0
    assert 'FROM "main"."events"' in result.output


def test_config_error_exits_2_without_traceback(tmp_path):
    run("init", str(tmp_path / "p"))
    result = run("refresh", "--project-dir", str(tmp_path / "p"), "--target", "nope")
    assert result.exit_code == 2
    assert 'no target "nope"' in result.output
    assert "Traceback" not in result.output


def test_model_failure_exits_1(tmp_path):
    run("init", str(tmp_path / "p"))
    (tmp_path / "p/models_sql/broken.sql").write_text("SELECT CAST('x' AS INTEGER) AS v")
    result = run("refresh", "--project-dir", str(tmp_path / "p"))
    assert result.exit_code == 1
    assert "broken" in result.output and "failed" in result.output


def test_bad_selection_exits_2(tmp_path):
    run("init", str(tmp_path / "p"))
    result = run("refresh", "--project-dir", str(tmp_path / "p"), "--select", "user_events")
    assert result.exit_code == 2 and "did you mean" in result.output


def test_python_dash_m_and_help():
    out = subprocess.run([sys.executable, "-m", "featurekit", "--help"], capture_output=True,
                         text=True, check=True)
    assert "refresh" in out.stdout and "compile" in out.stdout


def test_import_is_light():
    code = "import sys, featurekit; print(any(m in sys.modules for m in ('duckdb','psycopg','pandas','sqlglot')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_second_duckdb_writer_gets_a_clear_message(tmp_path):
    run("init", str(tmp_path / "p"))
    db = tmp_path / "p" / "featurekit.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(db)!r})
            print("locked", flush=True)
            time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = {**os.environ, "COLUMNS": "200"}
        result = subprocess.run(
            [sys.executable, "-m", "featurekit", "refresh", "--project-dir", str(tmp_path / "p")],
            capture_output=True, text=True, env=env,
        )
    finally:
        holder.kill()
    assert result.returncode == 2
    assert "locked by another featurekit process" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_scaffold_monitors_out_of_the_box(tmp_path):
    target = tmp_path / "shop"
    assert run("init", str(target)).exit_code == 0
    assert run("refresh", "--project-dir", str(target)).exit_code == 0
    result = run("monitor", "--project-dir", str(target))
    assert result.exit_code == 0, result.output
    assert "user_events" in result.output and "4 ok" in result.output


def test_init_scaffold_reads_the_featurekit_pg_variables_like_the_example(tmp_path, monkeypatch):
    from featurekit.project import Project

    run("init", str(tmp_path / "p"))
    for key, value in {"HOST": "db.example", "PORT": "6543", "USER": "u", "DBNAME": "d"}.items():
        monkeypatch.setenv(f"FEATUREKIT_PG_{key}", value)
    monkeypatch.setenv("PGHOST", "not-this-one")
    for root in (tmp_path / "p", Path(__file__).parent.parent):
        options = Project(root, target="pg").target.options
        assert (options["host"], str(options["port"]), options["user"], options["dbname"]) == (
            "db.example", "6543", "u", "d"), root


def test_init_scaffold_refreshes_and_monitors_on_postgres(tmp_path, monkeypatch):
    import uuid

    import psycopg
    from conftest import PG_DSN, pg_params, require_engine

    require_engine("postgres")
    name = f"fk_init_{uuid.uuid4().hex[:8]}"
    run("init", str(tmp_path / name))
    for key, value in pg_params().items():
        monkeypatch.setenv(f"FEATUREKIT_PG_{key.upper()}", value)
    try:
        args = ["--project-dir", str(tmp_path / name), "--target", "pg"]
        assert run("refresh", *args).exit_code == 0
        result = run("monitor", *args)
        assert result.exit_code == 0, result.output
        assert "4 ok" in result.output
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            for table in ("runs", "latest_runs", "seeds", "monitor_results", "monitor_alerts",
                          "monitor_references"):
                conn.execute(f"DELETE FROM featurekit.{table} WHERE target_schema = %s", [name])


def test_monitor_before_the_first_refresh_says_to_refresh(tmp_path):
    run("init", str(tmp_path / "p"))
    result = run("monitor", "--project-dir", str(tmp_path / "p"))
    assert result.exit_code == 2
    assert "source events does not exist on target dev yet; run `featurekit refresh` first" in (
        result.output)


EVENTS = "user_id,ts,amount\n1,2024-01-01 10:00:00,5.0\n2,2024-01-02 09:00:00,1.0\n"


def cli_project(make_project):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("spend", "SELECT user_id, max(ts) AS feature_ts, sum(amount) AS total FROM events "
            "GROUP BY user_id", "entity: user_id\ntimestamp: feature_ts\nrefresh: 1h")
    return p


@spark_too
def test_refresh_ls_compile_and_dry_run_on_each_engine(make_project):
    p = cli_project(make_project)
    where = ["--project-dir", str(p.root)]
    plan = run("refresh", "--dry-run", *where)
    assert plan.exit_code == 0, plan.output
    assert "would run" in plan.output and "never built" in plan.output
    first = run("refresh", *where)
    assert first.exit_code == 0, first.output
    assert "spend" in first.output and "success" in first.output
    project = p.open()
    assert rows(project, "SELECT user_id, total FROM {schema}.spend ORDER BY 1") == [
        (1, 5.0), (2, 1.0)]
    again = run("refresh", *where)
    assert again.exit_code == 0 and "1 up_to_date" in again.output
    listing = run("ls", *where)
    assert listing.exit_code == 0
    assert "spend" in listing.output and "success" in listing.output and "1h" in listing.output
    compiled = run("compile", *where)
    assert compiled.exit_code == 0
    assert f"FROM {quoted(project, p.schema, 'events')}" in compiled.output


@spark_too
def test_failing_model_exits_1_and_bad_model_exits_2_on_each_engine(make_project):
    p = cli_project(make_project)
    where = ["--project-dir", str(p.root)]
    p.model("broken", "SELECT CAST('x' AS INTEGER) AS v FROM events", "materialized: table")
    result = run("refresh", *where)
    assert result.exit_code == 1
    assert "broken" in result.output and "failed" in result.output
    assert "models_sql/broken.sql" in result.output and "LINE 1" not in result.output
    p.model("broken", "SELECT amout FROM events", "materialized: table")
    result = run("refresh", *where)
    assert result.exit_code == 2
    assert 'broken.sql:4:8: column "amout" does not exist' in result.output
    assert "Traceback" not in result.output
