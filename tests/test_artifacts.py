"""target/manifest.json, target/run_results.json, --log-format json and --quiet."""

from __future__ import annotations

import json

from click.testing import CliRunner

from featurekit.cli import main
from featurekit.manifest import build_manifest

MONITOR = "source: events_daily\ntimestamp: day\nchecks:\n  - {test: row_count, min: 1}\n"


def events_project(make_project):
    factory = make_project()
    factory.seed("events", "user_id,ts,value\n1,2024-01-01 10:00:00,2.5\n"
                           "2,2024-01-02 11:00:00,1.0\n", timestamp="ts")
    factory.model("events_daily", """
        SELECT user_id, CAST(date_trunc('day', ts) AS TIMESTAMP) AS day, sum(value) AS total
        FROM events GROUP BY 1, 2
    """, "entity: user_id\ntimestamp: day\nmaterialized: table\ntags: [daily]\n"
         "columns:\n  total: Sum of the day's values.\n"
         "tests:\n  - not_null: [user_id]\n  - expression: {expression: \"total > 100\", "
         "severity: warn}")
    factory.model("users", "SELECT DISTINCT user_id FROM events_daily")
    factory.write("monitors/daily.yml", MONITOR)
    return factory


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def read(factory, name: str) -> dict:
    return json.loads((factory.root / "target" / name).read_text())


def test_build_writes_manifest_and_run_results(make_project):
    factory = events_project(make_project)
    result = invoke("build", "--project-dir", str(factory.root))
    assert result.exit_code == 0, result.output
    manifest = read(factory, "manifest.json")
    model = manifest["models"]["events_daily"]
    assert model["depends_on"] == {"models": [], "sources": ["events"]}
    assert model["tags"] == ["daily"] and model["entity"] == ["user_id"]
    assert list(model["columns"]) == ["user_id", "day", "total"]
    assert model["columns"]["total"]["description"] == "Sum of the day's values."
    types = {name: column["type"].lower() for name, column in model["columns"].items()}
    assert types["day"].startswith("timestamp") and types["user_id"] == "bigint"
    assert model["tests"] == ["not_null_events_daily_user_id", "expression_events_daily_2"]
    project = factory.open()
    assert model["fingerprint"] == project.fingerprint("events_daily")
    assert manifest["parent_map"] == {"events_daily": [], "users": ["events_daily"]}
    assert manifest["child_map"] == {"events_daily": ["users"], "users": []}
    assert manifest["sources"]["events"]["timestamp"] == "ts"
    assert manifest["tests"]["expression_events_daily_2"]["severity"] == "warn"
    assert manifest["tests"]["expression_events_daily_2"]["line"] == 10
    assert manifest["monitors"]["daily"]["depends_on"]["models"] == ["events_daily"]
    assert manifest["metadata"]["target"] == "test"
    runs = read(factory, "run_results.json")
    assert runs["metadata"]["command"] == "build" and runs["exit_code"] == 0
    assert runs["metadata"]["invocation_id"] == manifest["metadata"]["invocation_id"]
    status = {r["unique_id"]: r["status"] for r in runs["results"]}
    assert status == {"model.events_daily": "success", "model.users": "success",
                      "test.not_null_events_daily_user_id": "pass",
                      "test.expression_events_daily_2": "warn"}


def test_every_project_command_rewrites_run_results(make_project):
    factory = events_project(make_project)
    assert invoke("compile", "--project-dir", str(factory.root)).exit_code == 0
    runs = read(factory, "run_results.json")
    assert (runs["metadata"]["command"], runs["results"]) == ("compile", [])
    # compile opens no connection: the manifest has no column types then
    columns = read(factory, "manifest.json")["models"]["events_daily"]["columns"]
    assert {c["type"] for c in columns.values()} == {None}
    assert invoke("refresh", "--project-dir", str(factory.root)).exit_code == 0
    monitored = invoke("monitor", "--project-dir", str(factory.root), "--all",
                       "--log-format", "json")
    assert monitored.exit_code == 0 and monitored.stdout == ""
    [check] = [json.loads(line) for line in monitored.stderr.splitlines()
               if json.loads(line)["event"] == "check_finished"]
    assert (check["monitor"], check["check"], check["status"]) == ("daily", "row_count", "ok")
    runs = read(factory, "run_results.json")
    assert runs["metadata"]["command"] == "monitor"
    assert [r["unique_id"] for r in runs["results"]] == ["monitor_check.daily.row_count"]
    failed = invoke("refresh", "--project-dir", str(factory.root), "-s", "nope")
    assert failed.exit_code == 2
    assert read(factory, "run_results.json")["exit_code"] == 2


def test_build_manifest_from_files_alone(make_project):
    project = events_project(make_project).open()
    manifest = build_manifest(project, catalog=False)
    assert not project.is_connected
    assert set(manifest) == {"metadata", "models", "sources", "tests", "monitors",
                             "parent_map", "child_map"}
    assert list(manifest["models"]["events_daily"]["columns"]) == ["user_id", "day", "total"]


def test_log_format_json_writes_one_event_per_line_on_stderr(make_project):
    factory = events_project(make_project)
    result = invoke("build", "--project-dir", str(factory.root), "--log-format", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert all({"ts", "level", "event", "command", "invocation_id", "msg"} <= set(e)
               for e in events)
    assert events[0]["event"] == "command_started" and events[-1]["event"] == "command_finished"
    assert events[-1]["exit_code"] == 0
    finished = {e["model"]: e["status"] for e in events if e["event"] == "model_finished"}
    assert finished == {"events_daily": "success", "users": "success"}
    tests = {e["test"]: (e["status"], e["level"]) for e in events
             if e["event"] == "test_finished"}
    assert tests == {"not_null_events_daily_user_id": ("pass", "info"),
                     "expression_events_daily_2": ("warn", "warn")}
    assert len({e["invocation_id"] for e in events}) == 1


def test_log_format_json_reports_errors_as_events(tmp_path):
    assert invoke("init", str(tmp_path / "p")).exit_code == 0
    result = invoke("refresh", "--project-dir", str(tmp_path / "p"), "--target", "nope",
                    "--log-format=json")
    assert result.exit_code == 2
    events = [json.loads(line) for line in result.stderr.splitlines()]
    [error] = [e for e in events if e["event"] == "error"]
    assert error["level"] == "error" and 'no target "nope"' in error["msg"]
    [finished] = [e for e in events if e["event"] == "command_finished"]
    assert finished["exit_code"] == 2


def test_quiet_prints_only_errors(tmp_path):
    assert invoke("init", str(tmp_path / "p")).exit_code == 0
    ok = invoke("refresh", "--project-dir", str(tmp_path / "p"), "--quiet")
    assert ok.exit_code == 0 and ok.output == ""
    listing = invoke("-q", "ls", "--project-dir", str(tmp_path / "p"), "-o", "json")
    assert json.loads(listing.stdout)["command"] == "ls"
    (tmp_path / "p/models_sql/broken.sql").write_text("SELECT CAST('x' AS INTEGER) AS v")
    failed = invoke("refresh", "--project-dir", str(tmp_path / "p"), "-q")
    assert failed.exit_code == 1
    assert failed.stdout == "" and "broken failed" in failed.stderr


def test_a_project_that_cannot_be_described_keeps_the_commands_exit_code(make_project):
    factory = events_project(make_project)
    factory.write("monitors/broken.yml", "source: events_daily\nchecks: nope\n")
    result = invoke("refresh", "--project-dir", str(factory.root))
    assert result.exit_code == 0, result.output
    assert "warning: target/*.json not written: monitors/broken.yml:2" in result.stderr
    assert read(factory, "run_results.json")["exit_code"] == 0
