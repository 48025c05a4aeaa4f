"""`--output json`: one JSON document on stdout per command, in the documented shape."""

from __future__ import annotations

import json
import textwrap

from click.testing import CliRunner

from featurekit.cli import main

MONITOR = textwrap.dedent("""
    source: events
    timestamp: event_time
    checks:
      - {test: row_count, min: 100000}
      - {column: value, test: null_rate}
""")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def scaffolded(tmp_path):
    root = tmp_path / "p"
    assert run("init", str(root)).exit_code == 0
    (root / "monitors" / "volume.yml").write_text(MONITOR)
    return str(root)


def test_refresh_json_is_one_document_with_every_model(tmp_path):
    root = scaffolded(tmp_path)
    result = run("refresh", "--project-dir", root, "--output", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["command"], document["target"], document["exit_code"]) == ("refresh", "dev", 0)
    assert document["dry_run"] is False
    [model] = document["models"]
    assert model["model"] == "user_events_daily" and model["status"] == "success"
    assert model["rows"] == 35 and isinstance(model["seconds"], float)
    plan = json.loads(run("refresh", "--project-dir", root, "-o", "json", "--dry-run").stdout)
    assert plan["dry_run"] is True and plan["models"][0]["status"] == "up_to_date"


def test_refresh_json_of_a_failed_model_exits_1(tmp_path):
    root = scaffolded(tmp_path)
    (tmp_path / "p/models_sql/broken.sql").write_text("SELECT CAST('x' AS INTEGER) AS v")
    result = run("refresh", "--project-dir", root, "-o", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["exit_code"] == 1
    broken = next(m for m in document["models"] if m["model"] == "broken")
    assert broken["status"] == "failed" and "x" in broken["message"]


def test_ls_json_lists_models_and_sources(tmp_path):
    root = scaffolded(tmp_path)
    run("refresh", "--project-dir", root)
    document = json.loads(run("ls", "--project-dir", root, "-o", "json").stdout)
    assert document["command"] == "ls"
    [model] = document["models"]
    assert model["model"] == "user_events_daily" and model["entity"] == ["user_id"]
    assert model["high_water_mark"] == "2024-01-08T00:00:00Z"
    assert isinstance(document["sources"], list)


def test_monitor_json_has_every_check_result(tmp_path):
    root = scaffolded(tmp_path)
    run("refresh", "--project-dir", root)
    result = run("monitor", "--project-dir", root, "-s", "volume", "--as-of", "2024-01-08",
                 "-o", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["command"] == "monitor" and document["exit_code"] == 1
    by_check = {r["check"]: r for r in document["results"]}
    assert by_check["row_count"]["status"] == "error"
    assert by_check["row_count"]["statistic"] == 70 and by_check["row_count"]["error"] == 100000
    assert by_check["null_rate"]["status"] == "ok" and by_check["null_rate"]["column"] == "value"
    assert by_check["null_rate"]["as_of"] == "2024-01-08T00:00:00Z"
    assert document["alerts"] == [] and document["not_due"] == []
    assert "plot" not in by_check["null_rate"]


def test_watch_with_json_is_a_usage_error(tmp_path):
    root = scaffolded(tmp_path)
    result = run("refresh", "--project-dir", root, "--watch", "-o", "json")
    assert result.exit_code == 2 and "--watch" in result.output
