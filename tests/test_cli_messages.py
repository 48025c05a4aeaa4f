"""What the CLI prints: user text verbatim, connection causes, train-set wording, table widths."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

from click.testing import CliRunner
from conftest import pg_params, require_engine

from featurekit.cli import main


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def cli_process(*args: str, columns: str | None = None) -> subprocess.CompletedProcess:
    """The real command with stdout a pipe (as under cron), COLUMNS as given."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-m", "featurekit", *args], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL)


# -- user and library text is printed as written ------------------------------------------
def test_square_brackets_in_errors_are_printed(tmp_path):
    result = run("ls", "--project-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "looked for pyproject.toml with [tool.featurekit], or a models_sql/ folder" in (
        result.output)


def test_square_brackets_in_a_failed_model_message_are_printed(tmp_path):
    run("init", str(tmp_path / "p"))
    (tmp_path / "p/models_sql/broken.sql").write_text("SELECT CAST('[abc]' AS INTEGER) AS v")
    result = run("refresh", "--project-dir", str(tmp_path / "p"))
    assert result.exit_code == 1
    assert "'[abc]'" in result.output


def test_square_brackets_in_model_names_and_reasons_survive_tables(tmp_path):
    run("init", str(tmp_path / "p"))
    (tmp_path / "p/models_sql/broken.sql").write_text("SELECT CAST('[bold]x' AS INTEGER) AS v")
    result = run("refresh", "--project-dir", str(tmp_path / "p"))
    summary = result.output[result.output.index("refresh summary"):]
    assert "[bold]x" in summary


# -- PostgreSQL unreachable -----------------------------------------------------------------
def pg_profile(tmp_path, **overrides: str) -> str:
    params = {**pg_params(), **overrides}
    project = tmp_path / "p"
    run("init", str(project))
    (project / "profiles.yml").write_text(textwrap.dedent(f"""
        featurekit:
          target: pg
          outputs:
            pg:
              type: postgres
              host: '{params["host"]}'
              port: {params["port"]}
              user: '{params["user"]}'
              password: '{params["password"]}'
              dbname: '{params["dbname"]}'
              schema: fk_unreachable
    """))
    return str(project)


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_closed_port_keeps_the_drivers_cause_on_one_line(tmp_path):
    project = pg_profile(tmp_path, host="127.0.0.1", port=closed_port())
    result = cli_process("ls", "--project-dir", project)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Connection refused" in lines[0]
    assert "Is the server running" in lines[0] and "Traceback" not in result.stderr


def test_wrong_database_name_says_so_and_not_is_the_server_running(tmp_path):
    require_engine("postgres")
    project = pg_profile(tmp_path, dbname="featurekit_no_such_db")
    result = cli_process("ls", "--project-dir", project)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert 'database "featurekit_no_such_db" does not exist' in lines[0]
    assert "Is the server running" not in lines[0]
    assert "dbname" in lines[0]


# -- train-set ------------------------------------------------------------------------------
def train_project(make_project):
    factory = make_project()
    factory.seed("events", "user_id,ts,v\n1,2024-01-01 10:00:00,1.5\n2,2024-01-02 10:00:00,2.5\n",
                 timestamp="ts")
    factory.model("user_v", "SELECT user_id, ts AS feature_ts, v FROM events",
                  header="entity: user_id\ntimestamp: feature_ts\nmaterialized: table")
    assert run("refresh", "--project-dir", str(factory.root)).exit_code == 0
    return factory


def test_train_set_bad_label_query_is_a_clear_error(make_project, tmp_path):
    factory = train_project(make_project)
    result = run("train-set", "--project-dir", str(factory.root), "--labels",
                 "SELECT user_id, ts AS event_timestamp FROM events WHERE nope > 1",
                 "--features", "user_v.v", "--out", str(tmp_path / "t.parquet"))
    assert result.exit_code == 2, result.output
    assert "labels query" in result.output and "nope" in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit


def test_train_set_messages_use_option_names_and_plurals(make_project, tmp_path):
    factory = train_project(make_project)
    labels = tmp_path / "labels.csv"
    labels.write_text("user_id,when\n1,2024-01-03 00:00:00\n")
    args = ["train-set", "--project-dir", str(factory.root), "--labels", str(labels),
            "--features", "user_v.v", "--out", str(tmp_path / "t.csv")]
    missing = run(*args)
    assert missing.exit_code == 2
    assert "--timestamp" in missing.output and "timestamp=" not in missing.output
    one = run(*args, "--timestamp", "when")
    assert one.exit_code == 0, one.output
    assert "wrote 1 row to" in one.output
    labels.write_text("buyer,when\n1,2024-01-03 00:00:00\n")
    entity = run(*args, "--timestamp", "when")
    assert entity.exit_code == 2
    assert "--entity user_id=" in entity.output and "entity_columns" not in entity.output


def test_debug_works_after_the_subcommand(tmp_path):
    result = run("ls", "--project-dir", str(tmp_path), "--debug")
    assert result.exit_code != 0
    assert result.exception is not None and "no featurekit project" in str(result.exception)
    assert result.exception.__class__.__name__ == "ConfigError"


# -- table widths ---------------------------------------------------------------------------
def test_tables_respect_columns_and_keep_their_right_border(tmp_path):
    run("init", str(tmp_path / "p"))
    for columns in ("100", None):
        result = cli_process("refresh", "--project-dir", str(tmp_path / "p"), columns=columns)
        assert result.returncode == 0, result.stderr
        table = [line for line in result.stdout.splitlines() if line.startswith(("│", "┃"))]
        assert table
        assert all(line.endswith(("│", "┃")) for line in table), result.stdout
        if columns:
            assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_monitor_table_wraps_at_120_columns_and_never_truncates_a_status(tmp_path):
    run("init", str(tmp_path / "p"))
    (tmp_path / "p/monitors/volume.yml").write_text(textwrap.dedent("""
        source: events
        timestamp: event_time
        checks:
          - {test: row_count, min: 100000}
          - {column: value, test: null_rate, name: value_nulls_in_the_whole_event_table}
          - {test: freshness, warn: 1h, error: 2h}
    """))
    assert run("refresh", "--project-dir", str(tmp_path / "p")).exit_code == 0
    result = cli_process("monitor", "--project-dir", str(tmp_path / "p"), "--all",
                         "--as-of", "2024-01-20", "-s", "volume", columns="120")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    table = [line for line in lines if line.startswith(("│", "┃"))]
    assert all(line.endswith(("│", "┃")) for line in table), result.stdout
    assert "…" not in result.stdout
    statuses = [cell.strip() for line in table for cell in line.split("│")[5:6]]
    assert "error" in statuses and "ok" in statuses


def test_backfill_that_fails_names_the_failing_checks(make_project):
    from test_monitoring_run import DRIFT, setup

    factory, project, _ = setup(make_project, {"drift": DRIFT})
    project.close()
    result = run("monitor", "--project-dir", str(factory.root), "--backfill",
                 "--start", "2024-01-10", "--end", "2024-01-20")
    assert result.exit_code == 1
    failing = result.output[result.output.index("backfilled"):]
    assert "drift" in failing and "ks" in failing and "x" in failing
    assert "2024-01-20" in failing  # when the check was at error
