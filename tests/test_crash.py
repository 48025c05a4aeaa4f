"""kill -9 in the middle of a refresh: data stays readable and intact, the run is redone.

Also: ``refresh --watch`` exits cleanly on SIGTERM after the running model finishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import rows

EVENTS = "user_id,ts,amount\n1,2024-01-01 10:00:00,5.0\n2,2024-01-02 09:00:00,1.0\n"
# A query slow enough to be killed in the middle of (several seconds), per engine.
SLOW = {
    "duckdb": "(SELECT sum(hash(i) % 7) AS h FROM range(600000000) t(i))",
    "postgres": "(SELECT 0 AS h FROM pg_sleep(6))",
}
HEADERS = {
    "table": "entity: user_id\ntimestamp: feature_ts\nmaterialized: table",
    "materialized_view": "entity: user_id\ntimestamp: feature_ts\nmaterialized: materialized_view",
    "incremental": "entity: user_id\ntimestamp: feature_ts\nmaterialized: incremental\n"
                   "lookback: 1d",
}
FAST = ("SELECT user_id, CAST(date_trunc('day', ts) AS TIMESTAMP) AS feature_ts, "
        "sum(amount) AS spend FROM events GROUP BY user_id, date_trunc('day', ts)")


def refresh_process(p, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "featurekit", "refresh", "--project-dir", str(p.root), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 60) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never saw {text!r}; output: {''.join(seen)}")


@pytest.mark.parametrize("kind", ["table", "materialized_view", "incremental"])
def test_kill_9_mid_materialization_keeps_previous_rows(make_project, engine_name, kind):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("spend", FAST, HEADERS[kind])
    project = p.open()
    project.refresh()
    before = rows(project, "SELECT * FROM {schema}.spend ORDER BY 1, 2")
    project.close()

    slow_sql = FAST.replace("FROM events", f"FROM events CROSS JOIN {SLOW[engine_name]} s")
    slow_sql = slow_sql.replace("sum(amount)", "sum(amount + 0 * s.h)")
    p.model("spend", slow_sql, HEADERS[kind])
    process = refresh_process(p, "--all")
    try:
        wait_for_line(process, "start spend")
        time.sleep(1.5)
        assert process.poll() is None, "the slow refresh ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()

    project = p.open()
    assert rows(project, "SELECT * FROM {schema}.spend ORDER BY 1, 2") == before
    assert project.ls()[0].status == "running"  # as the killed process left it
    # PostgreSQL notices the dead client (and frees its lock) once the orphaned query ends.
    deadline = time.monotonic() + 30
    while True:
        plan = {r.model: r for r in project.refresh(dry_run=True)}
        if plan["spend"].reason != "another process is running it":
            break
        assert time.monotonic() < deadline, "the killed run never released its lock"
        time.sleep(0.5)
    assert plan["spend"].status == "due" and plan["spend"].reason == "last run interrupted"
    project.close()

    p.model("spend", FAST.replace("sum(amount)", "sum(amount) * 10"), HEADERS[kind])
    project = p.open()
    assert {r.model: r.status for r in project.refresh()}["spend"] == "success"
    assert rows(project, "SELECT sum(spend) FROM {schema}.spend") == [(60.0,)]
    statuses = rows(project, f"SELECT status FROM {p.metadata}.runs ORDER BY started_at")
    assert [s for (s,) in statuses] == ["success", "interrupted", "success"]


def test_watch_stops_cleanly_on_sigterm(make_project):
    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("spend", FAST, "materialized: table\nrefresh: 1h")
    process = refresh_process(p, "--watch")
    try:
        wait_for_line(process, "cycle done")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "stopped after 1 cycles" in output and "Traceback" not in output
    project = p.open()
    assert rows(project, "SELECT count(*) FROM {schema}.spend") == [(2,)]


def test_watch_reports_a_failing_cycle_and_keeps_going(make_project):
    import threading

    from featurekit.watch import watch

    p = make_project()
    p.seed("events", EVENTS, timestamp="ts")
    p.model("spend", "SELECT FROM WHERE", "materialized: table")  # a typo mid-edit
    stop, errors, cycles = threading.Event(), [], []

    def on_error(error) -> None:
        errors.append(str(error))
        p.model("spend", FAST, "materialized: table")  # the user fixes the file

    def on_cycle(results, wake) -> None:
        cycles.append({r.model: r.status for r in results})
        stop.set()

    ran = watch(p.open, stop, on_cycle=on_cycle, on_error=on_error, max_sleep=1.0)
    assert ran == 2
    assert len(errors) == 1 and "spend.sql" in errors[0] and "syntax error" in errors[0]
    assert cycles == [{"spend": "success"}]
