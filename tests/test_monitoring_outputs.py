"""What monitors tell people: webhook alerts, Prometheus metrics, the CLI and the HTML report."""

from __future__ import annotations

import json
import math
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_monitoring_run import DRIFT, events, setup

from featurekit.cli import main
from tests.conftest import spark_too


class Hook:
    """A real HTTP server on 127.0.0.1 that records JSON posts (or answers with ``code``)."""

    def __init__(self, code: int = 200):
        self.posts: list[dict] = []
        self.authorizations: list[str | None] = []
        self.code = code  # may be changed while the server runs
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                hook.authorizations.append(self.headers.get("Authorization"))
                self.send_response(hook.code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def with_webhook(text: str, url: str) -> str:
    return text + f"alerts: {{webhook: '{url}', timeout: 1, retries: 1}}\n"


def test_webhook_posts_on_status_changes_only(make_project, hook):
    _, project, _ = setup(make_project, {"drift": with_webhook(DRIFT, hook.url)})
    project.monitor(as_of="2024-01-12")  # the first run: changes from "ok"
    first = list(hook.posts)
    project.monitor(as_of="2024-01-12")  # nothing changed: no post
    assert len(hook.posts) == len(first)
    project.monitor(as_of="2024-01-20")  # the shift: ok -> error
    drift = hook.posts[-1]
    assert drift["monitor"] == "drift" and drift["as_of"].startswith("2024-01-20")
    changed = {(c["check"], c["column"]): c for c in drift["changes"]}
    assert changed[("psi", "x")]["new_status"] == "error"
    assert changed[("chi2", "c")]["old_status"] == "ok"
    assert "drift" in drift["text"]
    project.monitor(as_of="2024-01-12")  # back to ok
    back = {(c["check"], c["column"]): c for c in hook.posts[-1]["changes"]}
    assert back[("psi", "x")]["old_status"] == "error" and back[("psi", "x")]["new_status"] == "ok"
    engine = project.engine
    alerts = engine.fetchall(
        f"SELECT count(*), min(CAST(delivered AS INTEGER)) FROM "
        f"{engine.relation('monitor_alerts', engine.metadata_schema)}")[0]
    assert alerts[0] >= len(changed) and alerts[1] == 1


def test_unreachable_webhook_is_recorded_and_never_stops_other_checks(make_project, hook):
    monitors = {
        "a_broken": with_webhook(DRIFT, closed_port_url()),
        "b_fine": with_webhook(DRIFT, hook.url),
    }
    _, project, _ = setup(make_project, monitors)
    run = project.monitor(as_of="2024-01-20")
    assert {r.monitor for r in run.results} == {"a_broken", "b_fine"}
    assert len(run.results) == 16
    broken = next(d for d in run.deliveries if d.monitor == "a_broken")
    assert not broken.delivered and broken.attempts == 2 and "Connection" in broken.error
    assert next(d for d in run.deliveries if d.monitor == "b_fine").delivered
    engine = project.engine
    rows = engine.fetchall(
        f"SELECT DISTINCT monitor, CAST(delivered AS INTEGER), attempts, error FROM "
        f"{engine.relation('monitor_alerts', engine.metadata_schema)} ORDER BY monitor")
    assert rows[0][:3] == ("a_broken", 0, 2) and "Connection" in rows[0][3]
    assert rows[1][:3] == ("b_fine", 1, 1)


def test_webhook_retries_on_server_errors(duck_project):
    from featurekit.monitoring.alerts import post_json

    server = Hook(code=500)
    try:
        delivered, attempts, error = post_json(server.url, {"a": 1}, timeout=1, retries=2)
    finally:
        server.close()
    assert (delivered, attempts, error) == (False, 3, "HTTP 500")
    assert len(server.posts) == 3


def alert_rows(project) -> list[tuple]:
    engine = project.engine
    return engine.fetchall(
        f"SELECT check_name, column_name, old_status, new_status, CAST(delivered AS INTEGER), "
        f"attempts, error FROM {engine.relation('monitor_alerts', engine.metadata_schema)} "
        f"WHERE check_name = 'psi' ORDER BY sent_at")


def test_an_undelivered_alert_is_retried_on_later_runs_until_delivered(make_project):
    server = Hook(code=500)
    try:
        _, project, _ = setup(make_project, {"drift": with_webhook(DRIFT, server.url)})
        project.monitor(as_of="2024-01-20")  # ok -> error, the webhook answers 500 twice
        assert len(server.posts) == 2
        assert alert_rows(project) == [("psi", "x", None, "error", 0, 2, "HTTP 500")]
        project.monitor(as_of="2024-01-20")  # still error: the alert is posted again
        assert len(server.posts) == 4
        retried = {(c["check"], c["column"]): c for c in server.posts[-1]["changes"]}
        assert (retried[("psi", "x")]["old_status"], retried[("psi", "x")]["new_status"]) == (
            None, "error")
        server.code = 200
        run = project.monitor(as_of="2024-01-20")
        assert len(server.posts) == 5 and run.deliveries[0].delivered
        assert [row[4:6] for row in alert_rows(project)] == [(0, 2), (0, 4), (1, 5)]
        project.monitor(as_of="2024-01-20")  # delivered: nothing more to send
        assert len(server.posts) == 5
    finally:
        server.close()


def test_alert_retries_stop_after_max_attempts(make_project):
    server = Hook(code=500)
    try:
        text = DRIFT + f"alerts: {{webhook: '{server.url}', retries: 0, max_attempts: 3}}\n"
        _, project, _ = setup(make_project, {"drift": text})
        for _ in range(5):
            project.monitor(as_of="2024-01-20")
        assert len(server.posts) == 3  # one post per run, three in all
        assert [row[4:6] for row in alert_rows(project)] == [(0, 1), (0, 2), (0, 3)]
    finally:
        server.close()


def test_a_superseded_undelivered_alert_is_not_retried(make_project):
    server = Hook(code=500)
    try:
        shifted = events()  # x shifts on 2024-01-15, and from 2024-01-21 is back to normal
        calm = events(days=26, shift_day=99, seed=2)
        frame = pd.concat([shifted, calm[calm.ts >= "2024-01-21"]], ignore_index=True)
        _, project, _ = setup(make_project, {"drift": with_webhook(DRIFT, server.url)}, frame)
        project.monitor(as_of="2024-01-20")  # ok -> error, undelivered
        server.code = 200
        project.monitor(as_of="2024-01-26")  # back to ok: only that change is sent
        changed = {(c["check"], c["column"]): c for c in server.posts[-1]["changes"]}
        assert (changed[("psi", "x")]["old_status"], changed[("psi", "x")]["new_status"]) == (
            "error", "ok")
        posts = len(server.posts)
        project.monitor(as_of="2024-01-26")
        assert len(server.posts) == posts
    finally:
        server.close()


def test_webhook_credentials_in_the_url_become_basic_auth(make_project, hook):
    import base64

    secret_url = hook.url.replace("http://", "http://alerts:s3cr%40t@")
    _, project, _ = setup(make_project, {"drift": with_webhook(DRIFT, secret_url)})
    run = project.monitor(as_of="2024-01-20")
    delivery = run.deliveries[0]
    assert delivery.delivered and "s3cr" not in delivery.url and "alerts" not in delivery.url
    assert hook.authorizations == ["Basic " + base64.b64encode(b"alerts:s3cr@t").decode()]


def test_webhook_password_never_shows_when_delivery_fails(make_project):
    server = Hook(code=401)
    try:
        url = server.url.replace("http://", "http://alerts:s3cr3t@")
        factory, project, _ = setup(make_project, {"drift": with_webhook(DRIFT, url)})
        project.close()
        result = cli(factory.root, "--as-of", "2024-01-20")
        assert "not delivered" in result.output and "s3cr3t" not in result.output
        assert len(server.posts) == 2 and server.authorizations[0].startswith("Basic ")
        reopened = factory.open()
        assert all("s3cr3t" not in str(row) for row in alert_rows(reopened))
        assert "s3cr3t" not in repr(reopened.monitors["drift"])
    finally:
        server.close()


def test_prometheus_textfile_parses_back(make_project, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from featurekit.monitoring.prometheus import write_textfile

    _, project, _ = setup(make_project, {"drift": DRIFT})
    run = project.monitor(as_of="2024-01-20")
    path = write_textfile(tmp_path / "metrics" / "featurekit.prom", run.results)
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    values = {(s.labels["check"], s.labels["column"]): s.value
              for s in families["featurekit_check_value"].samples}
    found = {(r.check, r.column or ""): r for r in run.results}
    assert values[("psi", "x")] == found[("psi", "x")].statistic
    status = {(s.labels["check"], s.labels["column"]): s.value
              for s in families["featurekit_check_status"].samples}
    assert status[("psi", "x")] == 2 and status[("row_count", "")] == 0
    p_values = {s.labels["check"]: s.value for s in families["featurekit_check_p_value"].samples}
    assert p_values["ks"] == found[("ks", "x")].p_value
    last = families["featurekit_monitor_last_run_timestamp_seconds"].samples[0]
    assert last.labels == {"monitor": "drift"} and last.value == 1705708800.0  # 2024-01-20
    assert not list(path.parent.glob("*.tmp*"))  # written to a temp name, then renamed


def cli(project_dir, *args):
    return CliRunner().invoke(main, ["monitor", "--project-dir", str(project_dir), *args])


@spark_too
def test_cli_exit_codes(make_project):
    factory, project, _ = setup(make_project, {"drift": DRIFT})
    project.close()
    ok = cli(factory.root, "--as-of", "2024-01-12", "-s", "drift")
    assert ok.exit_code == 0, ok.output
    assert "monitor results" in ok.output and "row_count" in ok.output
    failing = cli(factory.root, "--as-of", "2024-01-20")
    assert failing.exit_code == 1 and "error" in failing.output
    factory.write("monitors/quiet.yml", """
    source: events
    timestamp: ts
    checks:
      - {column: k, test: null_rate, warn: 0.01, error: 0.5}
    """)
    warned = cli(factory.root, "--as-of", "2024-01-12", "-s", "quiet")
    assert warned.exit_code == 0
    strict = cli(factory.root, "--as-of", "2024-01-12", "-s", "quiet", "--fail-on", "warn")
    assert strict.exit_code == 1
    factory.write("monitors/broken.yml", "source: events\nchecks:\n  - {column: k, test: nul_rate}\n")
    broken = cli(factory.root)
    assert broken.exit_code == 2
    assert 'monitors/broken.yml:3: unknown test "nul_rate" (did you mean "null_rate"?)' in (
        broken.output)
    assert "Traceback" not in broken.output
    (factory.root / "monitors" / "broken.yml").unlink()
    assert cli(factory.root, "-s", "nope").exit_code == 2
    assert cli(factory.root, "--backfill", "--start", "2024-01-10").exit_code == 2
    backfill = cli(factory.root, "-s", "drift", "--backfill", "--start", "2024-01-10",
                   "--end", "2024-01-12", "--every", "1d")
    assert backfill.exit_code == 0 and "backfilled 24 results" in backfill.output


def test_html_report_is_self_contained_with_plots(make_project, tmp_path):
    factory, project, _ = setup(make_project, {"drift": DRIFT})
    project.monitor(["drift"], backfill=("2024-01-10", "2024-01-19", "1d"))
    project.close()
    report = tmp_path / "report.html"
    result = cli(factory.root, "--as-of", "2024-01-20", "--report", str(report))
    assert result.exit_code == 1 and "report written" in result.output
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script" not in page and "@import" not in page
    section = page[page.index("<section class='monitor' id='monitor-drift'>"):]
    summary = section[section.index("<table class='checks'>"):section.index("</table>")]
    assert summary.count("<tr>") == 1 + 8  # header + one row per check
    assert "Reference vs current distributions" in section
    assert section.count("<div class='card'>") >= 3 + 8  # distributions + over time
    assert "Over time" in section and "<path d='M" in section


def test_report_size_does_not_grow_with_the_window(duck_project, tmp_path):
    """No raw rows are embedded: a 300,000-row window gives a report as small as a tiny one."""
    import numpy as np

    from featurekit.monitoring.report import render_report, report_content

    duck_project.write("monitors/big.yml", """
    source: big
    timestamp: ts
    reference: {start: 2024-01-01, end: 2024-01-02}
    checks:
      - {column: x, test: psi}
      - {column: x, test: ks}
      - {column: c, test: chi2}
    """)
    project = duck_project.open()
    sizes = []
    for n in (300, 300_000):
        rng = np.random.default_rng(0)
        ts = np.datetime64("2024-01-01") + (np.arange(n) * (2 * 86_400_000 // n)).astype(
            "timedelta64[ms]")
        project.engine.load_arrow(pa.table({
            "ts": ts, "x": rng.normal(size=n), "c": rng.choice(list("abcdefgh"), n)}), "big")
        run = project.monitor(as_of="2024-01-03")
        sizes.append(len(render_report(report_content(run.results, [], "big"))))
    assert sizes[1] < 40_000 and sizes[1] < sizes[0] * 1.5


@spark_too
def test_prometheus_marks_no_data_and_failed_checks_without_a_value(make_project, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from featurekit.monitoring.prometheus import write_textfile

    waiting = "prediction_log: churn\nchecks:\n  - {test: row_count, min: 1}\n"
    failing = ("sql: SELECT ts, CAST(c AS INTEGER) AS bad FROM events\ntimestamp: ts\n"
               "checks:\n  - {column: bad, test: null_rate}\n")
    _, project, _ = setup(make_project, {"waiting": waiting, "failing": failing})
    run = project.monitor(as_of="2024-01-20")
    path = write_textfile(tmp_path / "featurekit.prom", run.results)
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    status = {s.labels["monitor"]: s.value for s in families["featurekit_check_status"].samples}
    assert status == {"waiting": -1, "failing": 2}
    assert "featurekit_check_value" not in families or not families[
        "featurekit_check_value"].samples


@spark_too
def test_roc_points_and_confusion_matrix_from_engine_counts_match_sklearn(make_project):
    """The engine counts rows per score group; the curve's points are sklearn's thresholds."""
    import numpy as np
    from sklearn import metrics

    from featurekit.monitoring.evaluate import performance_plot
    from featurekit.monitoring.query import Sql
    from featurekit.monitoring.stats import ROC_POINTS, score_counts

    project = make_project().open()
    rng = np.random.default_rng(11)
    for n in (150, 3000):  # fewer rows than groups (one point per row), and many more
        y = rng.integers(0, 2, n)
        score = rng.permutation(n) / n * 0.7 + 0.3 * y  # distinct scores
        project.engine.load_arrow(pa.table({"y": y, "s": score}), "scored")
        window = Sql(f"SELECT * FROM {project.engine.relation('scored')}")
        plot = performance_plot(score_counts(project.engine, window, "y", "s", 0.45), 0.45)
        fpr, tpr, _ = metrics.roc_curve(y, score, drop_intermediate=False)
        sklearn_points = {(round(f, 12), round(t, 12)) for f, t in zip(fpr, tpr)}
        ours = [(round(f, 12), round(t, 12)) for f, t in plot["roc"]]
        assert set(ours) <= sklearn_points
        assert len(ours) == min(n, ROC_POINTS) + 1 and ours[0] == (0, 0) and ours[-1] == (1, 1)
        assert plot["confusion"] == metrics.confusion_matrix(y, score >= 0.45).tolist()


PERFORMANCE = """
description: Scores against outcomes.
source: scored
timestamp: ts
current: {last: 10d}
checks:
  - {test: roc_auc, label: y, score: s}
"""


def test_report_groups_checks_by_monitor_with_contents_windows_and_charts(make_project,
                                                                          tmp_path):
    import numpy as np

    factory, project, _ = setup(make_project, {"drift": "description: Drift of x and c.\n"
                                               + DRIFT, "perf": PERFORMANCE})
    n = 500
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, n)
    project.engine.load_arrow(pa.table({
        "ts": pd.date_range("2024-01-10", periods=n, freq="25min"), "y": y,
        "s": rng.random(n) * 0.6 + 0.4 * y}), "scored")
    project.monitor(["drift"], backfill=("2024-01-10", "2024-01-19", "1d"))
    project.close()
    report, exported = tmp_path / "report.html", tmp_path / "report.json"
    result = cli(factory.root, "--as-of", "2024-01-20", "--report", str(report),
                 "--report-json", str(exported))
    assert result.exit_code == 1, result.output
    page = report.read_text()
    toc = page[page.index("<nav id='toc'>"):page.index("</nav>")]
    assert re.findall(r"href='#([^']+)'", toc) == ["monitor-drift", "monitor-perf"]  # errors 1st
    drift = page[page.index("id='monitor-drift'"):page.index("id='monitor-perf'")]
    assert "Drift of x and c." in drift
    assert "reference window</b><span>2024-01-01 → 01-08" in drift
    assert "current window</b><span>2024-01-17 → 01-20 (the last 3d)" in drift
    # chi2 is judged on its p-value: charted on a log p-value axis with the 0.05/0.01 lines
    chi2 = drift[drift.index("<h4>chi2 · c</h4>"):]
    chi2 = chi2[:chi2.index("</svg>")]
    assert "p-value (log scale" in chi2 and "warn 0.05" in chi2 and "error 0.01" in chi2
    ticks = re.findall(r"text-anchor='end'>([^<]+)</text>", chi2)
    assert float(ticks[0]) <= 1e-16 and ticks[-1] == "1"  # p-values under 1e-16 at the bottom
    assert all(float(t) == 10 ** round(math.log10(float(t))) for t in ticks)
    perf = page[page.index("id='monitor-perf'"):]
    assert "class='roc-curve'" in perf and "<table class='confusion'>" in perf
    content = json.loads(exported.read_text())
    assert [m["monitor"] for m in content["monitors"]] == ["drift", "perf"]
    drift_json, perf_json = content["monitors"]
    assert drift_json["description"] == "Drift of x and c."
    assert drift_json["reference"]["start"] == "2024-01-01T00:00:00Z"
    assert {(c["check"], c["status"]) for c in drift_json["checks"]} == {
        (r["check"], r["status"]) for r in json.loads(cli(
            factory.root, "--as-of", "2024-01-20", "-o", "json").output)["results"]
        if r["monitor"] == "drift"}
    chi2_series = next(s for s in drift_json["series"] if s["check"] == "chi2")
    assert len(chi2_series["points"]) == 11 and chi2_series["points"][0]["p_value"] is not None
    (roc,) = perf_json["checks"]
    assert roc["plot"]["roc"][0] == [0.0, 0.0] and roc["plot"]["roc"][-1] == [1.0, 1.0]
    assert sum(map(sum, roc["plot"]["confusion"])) == roc["n_cur"]


@spark_too
def test_results_of_a_run_are_stored_whole_across_insert_batches(make_project, monkeypatch):
    from datetime import datetime

    from featurekit.monitoring import results as stored

    monkeypatch.setattr(stored, "INSERT_BATCH", 3)  # 7 results: INSERTs of 3, 3 and 1 rows
    project = make_project().open()
    table = stored.Results(project.engine)
    table.ensure()
    as_of = datetime(2024, 3, 1)
    expected = [(f"c{i}", None if i == 4 else i * 0.25, "ok" if i % 2 else "warn")
                for i in range(7)]
    table.append([stored.CheckResult("m", "drift", column, "psi", status, statistic=value,
                                     as_of=as_of, evaluated_at=as_of, run_id="r1")
                  for column, value, status in expected])
    rows = project.engine.rows(
        f"SELECT column_name, statistic, status FROM {table.table('monitor_results')} "
        "WHERE monitor = :monitor ORDER BY column_name", {"monitor": "m"})
    assert [tuple(row) for row in rows] == expected


@pytest.mark.parametrize("engine_name", ["duckdb", "postgres"], indirect=True)
def test_history_reads_the_newest_points_of_each_check_oldest_first(make_project):
    """However long the history, the charts get each series' newest points, in time order;
    a rerun at an as_of already evaluated replaces its row, so a point is never doubled."""
    from datetime import datetime, timedelta

    from featurekit.monitoring import results as stored

    project = make_project().open()
    table = stored.Results(project.engine)
    table.ensure()
    start, written = datetime(2024, 1, 1), []
    for day in (*range(9), 4):  # day 4 evaluated twice: the rerun replaces it
        as_of = start + timedelta(days=day)
        found = [stored.CheckResult(monitor, "drift", column, "psi", "ok",
                                    statistic=day + len(written) / 100, as_of=as_of,
                                    evaluated_at=as_of + timedelta(minutes=len(written)),
                                    run_id=f"r{len(written)}")
                 for monitor in ("m", "other") for column in ("a", "b")]
        table.append(found)
        written = [w for w in written if (w.monitor, w.as_of) not in
                   {(f.monitor, f.as_of) for f in found}] + found
    got = table.history(["m"], points=3)
    mine = [r for r in written if r.monitor == "m"]

    def rank(r) -> int:  # 0 for its series' newest point
        return sorted((o.as_of for o in mine if o.column == r.column), reverse=True).index(r.as_of)

    expected = sorted((r for r in mine if rank(r) < 3),
                      key=lambda r: (r.as_of, r.evaluated_at, r.column))
    assert [(g["column"], g["as_of"], g["statistic"]) for g in got] == [
        (r.column, r.as_of, r.statistic) for r in expected]
    assert {g["as_of"] for g in got} == {start + timedelta(days=d) for d in (6, 7, 8)}


@pytest.mark.parametrize("engine_name", ["spark"], indirect=True)
def test_spark_rewrites_monitor_results_into_one_file_as_runs_add_files(make_project,
                                                                       monkeypatch):
    """Each append writes a file; past the limit the table is rewritten whole, rows intact."""
    from datetime import datetime, timedelta

    from featurekit.monitoring import results as stored

    project = make_project().open()
    engine = project.engine
    monkeypatch.setattr(engine, "compact_after_files", 3)
    table = stored.Results(engine)
    table.ensure()

    def files() -> int:
        return len(engine.session.table(engine._rel("monitor_results", table.schema))
                   .inputFiles())

    counts = []
    for day in range(7):
        as_of = datetime(2024, 1, 1) + timedelta(days=day)
        table.append([stored.CheckResult("m", "drift", "c", "psi", "ok", statistic=day,
                                         as_of=as_of, evaluated_at=as_of, run_id=f"r{day}")])
        counts.append(files())
    assert max(counts) <= 3 and counts[:3] == [1, 2, 3] and 1 in counts[3:]
    stored_rows = engine.rows(f"SELECT statistic FROM {table.table('monitor_results')} "
                              "ORDER BY as_of")
    assert [value for (value,) in stored_rows] == list(range(7))
    assert table.latest_status(["m"]) == {("m", "drift", "c"): "ok"}


EVALUATIONS = st.lists(st.tuples(
    st.sampled_from(("m", "n")), st.integers(0, 4),
    st.sets(st.sampled_from((("drift", "a"), ("drift", "b"), ("rows", None))), min_size=1),
    st.sampled_from(("ok", "warn", "error"))), min_size=1, max_size=10)


@pytest.mark.parametrize("engine_name", ["duckdb", "postgres"], indirect=True)
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evaluations=EVALUATIONS)
def test_monitor_latest_holds_the_newest_row_of_each_check(make_project, evaluations):
    """Runs, backfills (an older as_of) and reruns at an as_of already evaluated, with more or
    fewer checks: monitor_latest always holds each key's newest row of monitor_results, and so
    does the table an older featurekit's view is turned into."""
    from datetime import datetime, timedelta

    from featurekit.monitoring import results as stored

    engine = make_project().open().engine
    table = stored.Results(engine)
    table.ensure()
    for name in ("monitor_results", "monitor_latest"):
        engine.execute(f"DELETE FROM {table.table(name)}")
    start = datetime(2024, 1, 1)
    for number, (monitor, day, keys, status) in enumerate(evaluations):
        evaluated = start + timedelta(days=10, minutes=number)
        table.append([stored.CheckResult(monitor, check, column, "psi", status,
                                         statistic=float(number), as_of=start + timedelta(day),
                                         evaluated_at=evaluated, run_id=f"r{number}")
                      for check, column in sorted(keys, key=str)])
    columns = "monitor, check_name, column_name, status, as_of, evaluated_at"
    written = engine.rows(f"SELECT {columns} FROM {table.table('monitor_results')}")
    newest = {}
    for row in sorted(written, key=lambda r: (r[4], r[5])):
        newest[row[:3]] = row

    def latest() -> list[tuple]:
        return sorted(engine.rows(f"SELECT {columns} FROM {table.table('monitor_latest')}"),
                      key=str)

    assert latest() == sorted(newest.values(), key=str)
    # An older featurekit kept a view over the history; the next run turns it into the table.
    engine.execute(f"DROP TABLE {table.table('monitor_latest')}")
    engine.run(f"CREATE VIEW {table.table('monitor_latest')} AS SELECT * FROM "
               f"{table.table('monitor_results')}")
    stored.Results(engine).ensure()
    assert engine.relation_kind("monitor_latest", table.schema) == "table"
    assert latest() == sorted(newest.values(), key=str)
