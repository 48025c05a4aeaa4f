"""Running monitors on real engines: windows, no_data, stored references, results, due-ness,
backfill, performance checks, freshness and the errors only the database can reveal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.spatial.distance
import scipy.stats

from featurekit.errors import MonitorError
from tests.conftest import spark_too

START = datetime(2024, 1, 1)


def events(days: int = 20, per_day: int = 240, shift_day: int = 14, seed: int = 1) -> pd.DataFrame:
    """Hourly-ish rows; from ``shift_day`` on, x moves by +1 and category "d" appears."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(days):
        shifted = day >= shift_day
        for i in range(per_day):
            rows.append({
                "id": day * per_day + i,
                "ts": START + timedelta(days=day, minutes=i * 1440 // per_day),
                "x": round(float(rng.normal(1.0 if shifted else 0.0)), 2),
                "c": str(rng.choice(["a", "b", "c", "d"] if shifted else ["a", "b", "c"])),
                "k": None if rng.random() < 0.1 else int(rng.integers(0, 5)),
            })
    return pd.DataFrame(rows)


def setup(make_project, monitors: dict[str, str], frame: pd.DataFrame | None = None):
    factory = make_project()
    for name, text in monitors.items():
        factory.write(f"monitors/{name}.yml", text)
    project = factory.open()
    data = events() if frame is None else frame
    load_events(project, data)
    return factory, project, data


def load_events(project, frame: pd.DataFrame) -> None:
    """Make the source ``events`` hold exactly ``frame``'s rows."""
    project.engine.load_arrow(pa.Table.from_pandas(frame, preserve_index=False), "events")


def by_key(run) -> dict:
    return {(r.check, r.column): r for r in run.results}


DRIFT = """
source: events
timestamp: ts
reference: {start: 2024-01-01, end: 2024-01-08}
current: {last: 3d}
checks:
  - {column: x, test: psi}
  - {column: x, test: ks}
  - {column: x, test: wasserstein}
  - {column: c, test: chi2}
  - {column: c, test: jensen_shannon}
  - {column: c, test: l_infinity}
  - {column: k, test: null_rate, warn: 0.2, error: 0.3}
  - {test: row_count, min: 100}
"""


@spark_too
def test_drift_checks_end_to_end_match_scipy_and_catch_the_shift(make_project):
    _, project, data = setup(make_project, {"drift": DRIFT})
    run = project.monitor(as_of="2024-01-20")
    found = by_key(run)
    ref = data[(data.ts >= "2024-01-01") & (data.ts < "2024-01-08")]
    cur = data[(data.ts >= "2024-01-17") & (data.ts < "2024-01-20")]
    ks = scipy.stats.ks_2samp(ref.x, cur.x, method="auto")
    assert (found[("ks", "x")].statistic, found[("ks", "x")].p_value) == (ks.statistic, ks.pvalue)
    assert found[("wasserstein", "x")].statistic == pytest.approx(
        scipy.stats.wasserstein_distance(ref.x, cur.x) / np.std(ref.x), rel=1e-9)
    categories = sorted(set(ref.c) | set(cur.c))
    table = [[int((ref.c == k).sum()) for k in categories],
             [int((cur.c == k).sum()) for k in categories]]
    chi2 = scipy.stats.chi2_contingency(table)
    assert found[("chi2", "c")].p_value == chi2.pvalue
    assert found[("null_rate", "k")].statistic == pytest.approx(cur.k.isna().mean(), abs=1e-15)
    assert found[("row_count", None)].statistic == len(cur)
    assert (found[("psi", "x")].n_ref, found[("psi", "x")].n_cur) == (len(ref), len(cur))
    for check in ("psi", "ks", "wasserstein", "chi2", "jensen_shannon", "l_infinity"):
        column = "c" if check in ("chi2", "jensen_shannon", "l_infinity") else "x"
        assert found[(check, column)].status == "error", check
    before = by_key(project.monitor(as_of="2024-01-12"))
    assert before[("psi", "x")].status != "error" and before[("chi2", "c")].status == "ok"
    assert before[("psi", "x")].statistic < found[("psi", "x")].statistic / 5


WINDOWS = """
source: events
timestamp: ts
reference: {reference}
current: {current}
checks:
  - {{column: x, test: psi}}
"""


@pytest.mark.parametrize("reference, current, expected_ref, expected_cur", [
    ("{start: 2024-01-02, end: 2024-01-04}", "{last: 1d}",
     lambda d: (d.ts >= "2024-01-02") & (d.ts < "2024-01-04"),
     lambda d: (d.ts >= "2024-01-09") & (d.ts < "2024-01-10")),
    ("{last: 2d, offset: 3d}", "{last: 12h, offset: 1d}",
     lambda d: (d.ts >= "2024-01-05") & (d.ts < "2024-01-07"),
     lambda d: (d.ts >= "2024-01-08 12:00") & (d.ts < "2024-01-09")),
    ("{start: 2024-01-01, end: 2024-01-02}", "{rows: 25}",
     lambda d: d.ts < "2024-01-02",
     lambda d: d.ts.isin(d[d.ts < "2024-01-10"].nlargest(25, "ts").ts)),
])
@spark_too
def test_windows_hold_the_right_rows(make_project, reference, current, expected_ref,
                                     expected_cur):
    text = WINDOWS.format(reference=reference, current=current)
    _, project, data = setup(make_project, {"w": text})
    result = project.monitor(as_of="2024-01-10").results[0]
    assert result.n_ref == int(expected_ref(data).sum())
    assert result.n_cur == int(expected_cur(data).sum())


@spark_too
def test_table_reference_and_all_rows_current(make_project):
    text = """
    source: events
    timestamp: ts
    reference: {table: training_rows}
    checks:
      - {column: x, test: psi}
    """
    _, project, data = setup(make_project, {"t": text})
    project.engine.load_arrow(pa.table({"x": [0.0, 1.0, 2.0]}), "training_rows")
    result = project.monitor(as_of="2024-01-05").results[0]
    assert (result.n_ref, result.n_cur) == (3, int((data.ts < "2024-01-05").sum()))


@spark_too
def test_empty_windows_give_no_data_with_the_reason(make_project):
    text = """
    source: events
    timestamp: ts
    reference: {start: 2023-01-01, end: 2023-02-01}
    current: {last: 1d}
    checks:
      - {column: x, test: psi}
      - {column: k, test: null_rate, warn: 0.5, error: 0.9}
      - {test: drift, columns: [x, c]}
    """
    _, project, _ = setup(make_project, {"e": text})
    found = by_key(project.monitor(as_of="2024-01-05"))
    assert found[("psi", "x")].status == "no_data"
    assert "reference window (2023-01-01 00:00 .. 2023-02-01 00:00) has no values of x" in (
        found[("psi", "x")].message)
    assert found[("null_rate", "k")].status == "ok"  # the current window has rows
    assert found[("drift", None)].status == "no_data"
    later = by_key(project.monitor(as_of="2025-01-01"))
    assert later[("null_rate", "k")].status == "no_data"
    assert later[("null_rate", "k")].message == "the current window has no rows"


def test_missing_prediction_log_is_no_data_not_a_crash(make_project):
    text = """
    prediction_log: churn
    timestamp: predicted_at
    reference: {start: 2024-01-01, end: 2024-02-01}
    checks:
      - {column: score, test: psi}
      - {test: roc_auc, label: y, score: score}
    """
    _, project, _ = setup(make_project, {"p": text})
    results = project.monitor(as_of="2024-03-01").results
    assert [r.status for r in results] == ["no_data", "no_data"]
    assert "predictions_churn does not exist yet" in results[0].message


def references_table(project):
    """The engine holding the project's stored reference statistics (the target, or the
    state store where the target keeps no state), and their table."""
    store = project.state_store
    return store.engine, store.engine.relation("monitor_references", store.schema)


@spark_too
def test_fixed_reference_statistics_are_stored_and_reused(make_project):
    _, project, data = setup(make_project, {"drift": DRIFT})
    first = by_key(project.monitor(as_of="2024-01-20"))
    store, table = references_table(project)
    stored = store.fetchall(f"SELECT column_name FROM {table}")
    assert sorted(r[0] for r in stored) == ["c", "x"]  # null_rate needs no reference
    # the reference rows change, but the stored statistics define the reference
    load_events(project, data[data["ts"] >= datetime(2024, 1, 4)])
    second = project.monitor(as_of="2024-01-20")
    assert second.references_reused == 2
    again = by_key(second)
    assert again[("psi", "x")].statistic == first[("psi", "x")].statistic
    assert again[("psi", "x")].n_ref == first[("psi", "x")].n_ref
    assert again[("chi2", "c")].p_value == first[("chi2", "c")].p_value


@spark_too
def test_results_table_and_latest_status_view(make_project):
    _, project, _ = setup(make_project, {"drift": DRIFT})
    project.monitor(as_of="2024-01-12")
    project.monitor(as_of="2024-01-20")
    engine = project.engine
    results = engine.relation("monitor_results", engine.metadata_schema)
    latest = engine.relation("monitor_latest", engine.metadata_schema)
    assert engine.fetchall(f"SELECT count(*) FROM {results}")[0][0] == 16
    rows = engine.fetchall(f"SELECT check_name, column_name, status, as_of, n_ref, n_cur, "
                           f"window_start, window_end FROM {latest} ORDER BY check_name")
    assert len(rows) == 8
    psi = next(r for r in rows if r[0] == "psi")
    assert psi[2:] == ("error", datetime(2024, 1, 20), 1680, 720, datetime(2024, 1, 17),
                       datetime(2024, 1, 20))


@spark_too
def test_only_due_monitors_run_unless_all(make_project):
    text = "source: events\nschedule: 1h\nchecks:\n  - {test: row_count, min: 1}\n"
    _, project, _ = setup(make_project, {"hourly": text, "always": text.replace(
        "schedule: 1h\n", "")})
    # manual evaluations and backfills do not count as scheduled runs
    project.monitor(as_of="2024-01-05")
    project.monitor(["hourly"], backfill=("2024-01-02", "2024-01-03", "1d"))
    first = project.monitor()
    assert sorted(first.monitors) == ["always", "hourly"]
    second = project.monitor()
    assert second.monitors == ["always"] and second.not_due == ["hourly"]
    assert sorted(project.monitor(run_all=True).monitors) == ["always", "hourly"]
    with pytest.raises(MonitorError, match='no monitor named "hourli" \\(did you mean "hourly"'):
        project.monitor(["hourli"])


@spark_too
def test_backfill_fills_the_history_of_sliding_windows(make_project):
    _, project, data = setup(make_project, {"drift": DRIFT})
    run = project.monitor(["drift"], backfill=("2024-01-10", "2024-01-20", "2d"))
    psi = [r for r in run.results if r.check == "psi"]
    assert [r.as_of for r in psi] == [datetime(2024, 1, d) for d in (10, 12, 14, 16, 18, 20)]
    assert "error" not in [r.status for r in psi][:2] and psi[-1].status == "error"
    assert all(r.run_id.startswith("backfill-") for r in run.results)


def test_a_rerun_backfill_replaces_its_rows_instead_of_duplicating_them(make_project):
    _, project, _ = setup(make_project, {"drift": DRIFT})
    project.monitor(["drift"], backfill=("2024-01-10", "2024-01-12", "1d"))  # killed, rerun:
    project.monitor(["drift"], backfill=("2024-01-11", "2024-01-14", "1d"))
    project.monitor(as_of="2024-01-14")
    engine = project.engine
    keys = engine.fetchall(
        f"SELECT monitor, check_name, column_name, as_of, count(*) FROM "
        f"{engine.relation('monitor_results', engine.metadata_schema)} "
        f"GROUP BY monitor, check_name, column_name, as_of")
    assert len(keys) == 8 * 5  # 8 checks at 2024-01-10 .. 2024-01-14
    assert {row[-1] for row in keys} == {1}


@spark_too
def test_performance_checks_on_a_labeled_view_match_sklearn(make_project):
    from sklearn import metrics

    factory = make_project()
    factory.write("monitors/perf.yml", """
    source: predictions_m_labeled
    timestamp: predicted_at
    current: {last: 7d}
    checks:
      - {test: roc_auc, label: y, score: score, warn: 0.99, error: 0.5}
      - {test: f1, label: y, score: score, threshold: 0.4}
      - {test: log_loss, label: y, score: score}
      - {test: mae, label: y, score: score, warn: 0.1}
    """)
    project = factory.open()
    engine = project.engine
    rng = np.random.default_rng(5)
    n = 400
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + rng.random(n) * 0.65, 0.001, 0.999).round(3)
    predicted_at = [START + timedelta(hours=i) for i in range(n)]
    engine.load_arrow(pa.table({"prediction_id": np.arange(n), "predicted_at": predicted_at,
                                "score": score}), "predictions_m")
    labeled = np.arange(0, n, 2)  # half the outcomes are known
    engine.load_arrow(pa.table({"prediction_id": labeled, "y": y[labeled]}), "outcomes_m")
    engine.execute(
        f"CREATE VIEW {engine.relation('predictions_m_labeled')} AS SELECT p.*, o.y "
        f"FROM {engine.relation('predictions_m')} p LEFT JOIN {engine.relation('outcomes_m')} o "
        f"ON o.prediction_id = p.prediction_id")
    as_of = START + timedelta(hours=n)
    found = {r.check: r for r in project.monitor(as_of=as_of).results}
    window = [i for i in labeled if predicted_at[i] >= as_of - timedelta(days=7)]
    yw, sw = y[window], score[window]
    assert found["roc_auc"].n_cur == len(window)
    assert found["roc_auc"].statistic == pytest.approx(metrics.roc_auc_score(yw, sw), rel=1e-12)
    assert found["roc_auc"].status == "warn"
    assert found["f1"].statistic == pytest.approx(metrics.f1_score(yw, sw >= 0.4), rel=1e-12)
    assert found["log_loss"].statistic == pytest.approx(metrics.log_loss(yw, sw), rel=1e-12)
    assert found["mae"].statistic == pytest.approx(metrics.mean_absolute_error(yw, sw),
                                                   rel=1e-12)
    assert found["mae"].status == "warn"


@spark_too
def test_quality_checks(make_project):
    text = """
    source: events
    timestamp: ts
    checks:
      - {column: c, test: accepted_values, values: [a, b, c]}
      - {column: id, test: unique}
      - {columns: [k, c], test: unique, name: k_c_unique, severity: warn}
      - {column: x, test: range, min: -1, max: 1, warn: 0.2, error: 0.5}
      - {test: row_count, min: 10, max: 100, severity: warn}
      - {test: freshness, warn: 1h, error: 1d}
    """
    _, project, data = setup(make_project, {"q": text})
    found = by_key(project.monitor(as_of="2024-01-20 12:00"))
    upto = data[data.ts < "2024-01-20 12:00"]
    assert found[("accepted_values", "c")].statistic == pytest.approx(
        (upto.c == "d").mean(), abs=1e-15)
    assert found[("accepted_values", "c")].status == "error"
    assert found[("unique", "id")].statistic == 0 and found[("unique", "id")].status == "ok"
    key = upto.dropna(subset=["k"])
    assert found[("k_c_unique", "k,c")].statistic == len(key) - len(key.drop_duplicates(["k", "c"]))
    outside = ((upto.x < -1) | (upto.x > 1)).mean()
    assert found[("range", "x")].statistic == pytest.approx(outside, abs=1e-15)
    assert found[("row_count", None)].status == "warn"
    # newest row before as-of: 2024-01-20 11:54 -> 6 minutes old
    assert found[("freshness", None)].statistic == 6 * 60
    assert found[("freshness", None)].status == "ok"
    stale = by_key(project.monitor(as_of="2024-01-23"))
    assert stale[("freshness", None)].status == "error"


@spark_too
def test_freshness_of_a_feature_view_includes_the_refresh_lag(make_project):
    factory = make_project()
    factory.seed("raw", "id,ts,v\n1,2024-01-01 10:00:00,1.5\n2,2024-01-02 10:00:00,2.5\n",
                 timestamp="ts")
    factory.model("daily", "SELECT CAST(id AS BIGINT) AS id, CAST(ts AS TIMESTAMP) AS ts, "
                  "CAST(v AS DOUBLE) AS v FROM raw",
                  header="entity: id\ntimestamp: ts\nmaterialized: table")
    factory.write("monitors/f.yml", """
    source: daily
    timestamp: ts
    checks:
      - {test: freshness, warn: 1d, error: 3d}
    """)
    project = factory.open()
    project.refresh()
    result = project.monitor(as_of="2024-01-03").results[0]
    assert result.statistic == 14 * 3600 and result.status == "ok"
    assert "last successful refresh" in result.message
    # evaluated now: the last refresh was moments ago, the newest row is old
    assert project.monitor(run_all=True).results[0].status == "error"


@pytest.mark.parametrize("check, message", [
    ("{column: amount, test: psi}", 'monitors/bad.yml:5: unknown column "amount" in events'),
    ("{column: xx, test: psi}", '(did you mean "x"?)'),
    ("{column: c, test: ks}", 'monitors/bad.yml:5: test ks needs a numeric column, but "c" is '
                              "categorical"),
    ("{column: x, test: chi2}", 'test chi2 needs a categorical (text or boolean) column, but "x"'),
    ("{test: roc_auc, label: yy, score: x}", 'unknown column "yy"'),
])
def test_mistakes_only_the_database_reveals(make_project, check, message):
    text = ("source: events\ntimestamp: ts\nreference: {start: 2024-01-01, end: 2024-01-05}\n"
            f"checks:\n  - {check}\n")
    _, project, _ = setup(make_project, {"bad": text})
    with pytest.raises(MonitorError) as info:
        project.monitor(as_of="2024-01-10")
    assert message in str(info.value)


@pytest.mark.parametrize("marker", ["?", "$1", ":x"])
def test_a_parameter_marker_in_a_sql_source_is_refused_at_its_line(make_project, marker):
    text = (f"timestamp: ts\nsql: SELECT * FROM events WHERE x > {marker}\n"
            "checks:\n  - {test: row_count, min: 1}\n")
    _, project, _ = setup(make_project, {"marked": text})
    with pytest.raises(MonitorError, match="monitors/marked.yml:2: the query has a parameter "
                                           "marker .* write the value into the query"):
        project.monitor(as_of="2024-01-10")


def test_unknown_source_suggests_the_closest(make_project):
    factory = make_project()
    factory.model("orders_daily", "SELECT 1 AS id")
    factory.write("monitors/s.yml", "source: order_daily\nchecks:\n  - {test: row_count, min: 1}\n")
    project = factory.open()
    with pytest.raises(MonitorError, match='monitors/s.yml:1: unknown source "order_daily" '
                                           '\\(did you mean "orders_daily"\\?\\)'):
        project.monitor()


def test_a_check_the_database_fails_on_is_recorded_as_error(make_project):
    """Casting the text column c to a number fails in the database, at run time only."""
    failing = """
    sql: SELECT ts, x, CAST(c AS INTEGER) AS bad FROM events
    timestamp: ts
    reference: {start: 2024-01-01, end: 2024-01-08}
    current: {last: 3d}
    checks:
      - {column: bad, test: ks}
      - {column: x, test: psi}
      - {test: drift, columns: [x, bad]}
      - {test: row_count, min: 1}
    """
    later = "source: events\ntimestamp: ts\nchecks:\n  - {test: row_count, min: 1}\n"
    _, project, data = setup(make_project, {"a_failing": failing, "b_later": later})
    run = project.monitor(as_of="2024-01-20")
    found = {(r.monitor, r.check, r.column): r for r in run.results}
    for key in (("a_failing", "ks", "bad"), ("a_failing", "drift", "bad")):
        assert found[key].status == "error"
        assert found[key].message.startswith("check failed: ")
        assert "int" in found[key].message.lower()  # the database's own words
    assert found[("a_failing", "psi", "x")].status == "error"  # x moved by +1: real drift
    assert found[("a_failing", "drift", "x")].test == "psi"
    share = found[("a_failing", "drift", None)]  # the failed column is not counted as drifted
    assert share.statistic == 1.0 and share.message == "1 of 1 columns drifted: x; failed: bad"
    assert found[("a_failing", "row_count", None)].statistic == 3 * 240
    assert found[("b_later", "row_count", None)].statistic == int((data.ts < "2024-01-20").sum())
    engine = project.engine
    saved = engine.fetchall(
        f"SELECT monitor, check_name, column_name, status FROM "
        f"{engine.relation('monitor_results', engine.metadata_schema)}")
    assert sorted(saved, key=str) == sorted(
        [(r.monitor, r.check, r.column, r.status) for r in run.results], key=str)
    assert len(saved) == 7


def test_a_window_the_database_cannot_select_fails_its_checks_not_the_run(make_project):
    """A text timestamp column (an empty seed CSV loads as text) cannot be compared with the
    evaluation time: every check of that monitor is an error, later monitors still run."""
    text = pd.DataFrame({"ts": ["2024-01-01 10:00:00", "soon"], "x": [1.0, 2.0]})
    broken = """
    source: texts
    timestamp: ts
    checks:
      - {column: x, test: null_rate}
      - {test: freshness}
      - {columns: [x, ts], test: unique}
    """
    unreadable = "sql: SELECT * FROM no_such_table\nchecks:\n  - {test: row_count, min: 1}\n"
    later = "source: events\ntimestamp: ts\nchecks:\n  - {test: row_count, min: 1}\n"
    _, project, _ = setup(make_project, {"a_broken": broken, "b_unreadable": unreadable,
                                         "c_later": later})
    project.engine.load_arrow(pa.Table.from_pandas(text, preserve_index=False), "texts")
    run = project.monitor(as_of="2024-01-20")
    found = {(r.monitor, r.check, r.column): r for r in run.results}
    assert sorted(found, key=str) == sorted([
        ("a_broken", "null_rate", "x"), ("a_broken", "freshness", None),
        ("a_broken", "unique", "x,ts"), ("b_unreadable", "row_count", None),
        ("c_later", "row_count", None)], key=str)
    for key, result in found.items():
        if key[0] == "a_broken":
            assert result.status == "error" and "check failed: " in result.message, key
    unreadable_result = found[("b_unreadable", "row_count", None)]
    assert unreadable_result.status == "error"
    assert unreadable_result.message.startswith("monitor failed: ")
    assert "no_such_table" in unreadable_result.message
    assert found[("c_later", "row_count", None)].status == "ok"
    engine = project.engine
    saved = engine.fetchall(f"SELECT count(*) FROM "
                            f"{engine.relation('monitor_results', engine.metadata_schema)}")
    assert saved[0][0] == 5


def test_a_labeled_prediction_log_not_written_yet_is_no_data(make_project):
    text = """
    source: predictions_churn_labeled
    prediction_log: churn
    timestamp: predicted_at
    checks:
      - {test: roc_auc, label: y, score: score}
    """
    _, project, _ = setup(make_project, {"p": text})
    result = project.monitor(as_of="2024-03-01").results[0]
    assert result.status == "no_data"
    assert "predictions_churn_labeled does not exist yet" in result.message


def test_a_misspelt_prediction_log_is_an_error_naming_the_closest_table(make_project):
    factory = make_project()
    factory.write("monitors/cancel.yml", """
    # the cancel model's predictions
    source: predictions_cancle
    timestamp: predicted_at
    checks:
      - {test: row_count, min: 1}
    """)
    project = factory.open()
    project.engine.load_arrow(pa.table({"predicted_at": [START], "score": [0.5]}),
                              "predictions_cancel")
    with pytest.raises(MonitorError) as info:
        project.monitor()
    message = str(info.value)
    assert message.startswith('monitors/cancel.yml:2: unknown source "predictions_cancle" '
                              '(did you mean "predictions_cancel"?)')
    assert "prediction_log:" in message  # how to say it is a log that does not exist yet
    assert project.engine.fetchall(
        f"SELECT count(*) FROM {project.engine.relation('monitor_results', project.engine.metadata_schema)}"
    )[0][0] == 0


def test_drift_over_all_columns_picks_a_test_per_type_and_reports_the_share(make_project):
    text = """
    source: events
    timestamp: ts
    reference: {start: 2024-01-01, end: 2024-01-08}
    current: {last: 3d}
    checks:
      - {test: drift, columns: all, exclude: [id], share_warn: 0.3, share_error: 0.9}
    """
    _, project, data = setup(make_project, {"d": text})
    found = by_key(project.monitor(as_of="2024-01-20"))
    assert found[("drift", "x")].test == "psi"
    assert found[("drift", "c")].test == "jensen_shannon"
    # k takes 5 values (0..4): compared as categories
    assert found[("drift", "k")].test == "jensen_shannon"
    assert found[("drift", "k")].message.startswith("5 distinct values in the reference")
    assert ("drift", "id") not in found and ("drift", "ts") not in found
    # each column's statistic from the raw rows; drifted = at warn (0.1) or above
    ref = data[(data.ts >= "2024-01-01") & (data.ts < "2024-01-08")]
    cur = data[(data.ts >= "2024-01-17") & (data.ts < "2024-01-20")]

    def js(column: str) -> float:
        r, c = ref[column].dropna(), cur[column].dropna()
        keys = sorted(set(r) | set(c))
        return float(scipy.spatial.distance.jensenshannon(
            [(r == k).mean() for k in keys], [(c == k).mean() for k in keys], base=2))

    expected = {"x": np_psi(ref.x.to_numpy(), cur.x.to_numpy()), "c": js("c"), "k": js("k")}
    for column, value in expected.items():
        assert found[("drift", column)].statistic == pytest.approx(value, rel=1e-9)
    drifted = [column for column, value in expected.items() if value > 0.1]
    assert drifted == ["x", "c"]  # x and c shift on day 14, k never does
    share = found[("drift", None)]
    assert share.statistic == 2 / 3
    assert share.status == "warn"  # 0.3 < 2/3 <= 0.9
    assert share.message == "2 of 3 columns drifted: x, c"


def test_sql_source(make_project):
    text = """
    sql: SELECT * FROM events WHERE c <> 'c'
    timestamp: ts
    checks:
      - {column: c, test: accepted_values, values: [a, b]}
    """
    _, project, data = setup(make_project, {"s": text})
    result = project.monitor(as_of="2024-01-10").results[0]
    assert result.status == "ok"
    assert result.n_cur == int(((data.c != "c") & (data.ts < "2024-01-10")).sum())


# -- what a drift group picks for numeric columns --------------------------------------------
def flags(seed: int = 3) -> pd.DataFrame:
    """x continuous (shifted from day 14), flag 0/1 with ~5% ones, then ~20% from day 14."""
    rng = np.random.default_rng(seed)
    days, per_day = 20, 500
    day = np.repeat(np.arange(days), per_day)
    shifted = day >= 14
    return pd.DataFrame({
        "id": np.arange(days * per_day),
        "ts": [START + timedelta(days=int(d), minutes=int(i) * 1440 // per_day)
               for d, i in zip(day, np.tile(np.arange(per_day), days))],
        "x": rng.normal(0.0, 1.0, days * per_day) + np.where(shifted, 0.5, 0.0),
        "flag": (rng.random(days * per_day) < np.where(shifted, 0.20, 0.05)).astype("int64"),
    })


FLAGS = """
source: events
timestamp: ts
reference: {start: 2024-01-01, end: 2024-01-08}
current: {last: 3d}
checks:
  - {test: drift, columns: [x, flag]}
  - {test: drift, columns: [x, flag], name: wide, numeric_test: wasserstein,
     categorical_max_distinct: 0}
  - {column: flag, test: psi}
"""


def np_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """PSI: reference deciles, bin = edges <= value, a proportion of exactly 0 becomes 1e-4."""
    edges = np.quantile(ref, [i / bins for i in range(1, bins)], method="linear")
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=bins) / len(cur)
    r, c = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


def test_drift_uses_psi_for_numbers_and_categories_for_few_distinct_values(make_project):
    _, project, data = setup(make_project, {"f": FLAGS}, flags())
    ref = data[(data.ts >= "2024-01-01") & (data.ts < "2024-01-08")]
    cur = data[(data.ts >= "2024-01-17") & (data.ts < "2024-01-20")]
    assert 0.03 < ref.flag.mean() < 0.07 and 0.15 < cur.flag.mean() < 0.25
    for _ in range(2):  # the reference's statistics computed, then read back from storage
        found = by_key(project.monitor(as_of="2024-01-20"))
        # (1) a continuous column: PSI by default, numpy's value on the raw data
        x = found[("drift", "x")]
        assert x.test == "psi" and x.status in ("warn", "error")
        assert x.statistic == pytest.approx(np_psi(ref.x.to_numpy(), cur.x.to_numpy()),
                                            rel=1e-12)
        assert (x.n_ref, x.n_cur) == (len(ref), len(cur))
        # (2) a 0/1 flag: every decile of the reference is 0, so PSI over bins is blind...
        assert np_psi(ref.flag.to_numpy(), cur.flag.to_numpy()) == pytest.approx(0.0, abs=1e-12)
        assert found[("psi", "flag")].statistic == pytest.approx(0.0, abs=1e-12)
        assert found[("psi", "flag")].status == "ok"
        # ... while the drift group compares its values as categories
        flag = found[("drift", "flag")]
        assert flag.test == "jensen_shannon" and flag.status in ("warn", "error")
        p = np.array([(ref.flag == 0).mean(), (ref.flag == 1).mean()])
        q = np.array([(cur.flag == 0).mean(), (cur.flag == 1).mean()])
        assert flag.statistic == pytest.approx(scipy.spatial.distance.jensenshannon(p, q, base=2),
                                               rel=1e-9)
        assert flag.message == "2 distinct values in the reference: compared as categories"
        assert sorted(flag.plot["labels"]) == ["0", "1"]
        assert found[("drift", None)].statistic == 1.0
        # (3) numeric_test: wasserstein still picks Wasserstein; 0 turns the rule off
        assert found[("wide", "x")].test == "wasserstein"
        assert found[("wide", "x")].statistic == pytest.approx(
            scipy.stats.wasserstein_distance(ref.x, cur.x) / np.std(ref.x), rel=1e-9)
        assert found[("wide", "flag")].test == "wasserstein"


def test_a_few_valued_column_keeps_the_explicit_numeric_test_above_the_limit(make_project):
    text = FLAGS.replace("categorical_max_distinct: 0", "categorical_max_distinct: 1")
    _, project, _ = setup(make_project, {"f": text}, flags())
    found = by_key(project.monitor(as_of="2024-01-20"))
    assert found[("wide", "flag")].test == "wasserstein"  # 2 distinct values > 1
    assert found[("wide", "x")].test == "wasserstein"
    text = FLAGS.replace("categorical_max_distinct: 0", "categorical_test: chi2")
    _, project, _ = setup(make_project, {"f": text}, flags())
    found = by_key(project.monitor(as_of="2024-01-20"))
    assert found[("wide", "flag")].test == "chi2"  # the numeric_test is for the others
    assert found[("wide", "flag")].status == "error"
    assert found[("wide", "x")].test == "wasserstein"


def test_numbers_as_categories_agree_across_column_types(make_project):
    """A reference table with integers and a current window with doubles: same categories."""
    frame = flags()
    text = """
    source: events
    timestamp: ts
    reference: {table: ref_flags}
    current: {last: 3d}
    checks:
      - {test: drift, columns: [flag]}
    """
    _, project, data = setup(make_project, {"t": text}, frame.assign(flag=frame.flag * 1.0))
    ref = frame[frame.ts < "2024-01-08"]
    project.engine.load_arrow(pa.Table.from_pandas(ref, preserve_index=False), "ref_flags")
    found = by_key(project.monitor(as_of="2024-01-20"))
    flag = found[("drift", "flag")]
    assert flag.test == "jensen_shannon" and sorted(flag.plot["labels"]) == ["0", "1"]
    assert flag.n_ref == len(ref) and flag.status in ("warn", "error")


@spark_too
def test_the_reference_distinct_count_is_stored_and_recomputed_when_missing(make_project):
    _, project, data = setup(make_project, {"f": FLAGS}, flags())
    first = by_key(project.monitor(as_of="2024-01-20"))
    store, table = references_table(project)
    rows = store.rows(f"SELECT * FROM {table} WHERE column_name = :c", {"c": "flag"})
    stored = json.loads(rows[-1][4])
    assert stored["distinct"] == 2 and sorted(stored["categories"]) == ["0", "1"]
    # the reference rows change, but the stored statistics (with the count) define it
    load_events(project, data[data["ts"] >= datetime(2024, 1, 4)])
    again = by_key(project.monitor(as_of="2024-01-20"))
    for key in (("drift", "flag"), ("drift", "x"), ("psi", "flag")):  # not wasserstein
        assert (again[key].test, again[key].statistic) == (first[key].test, first[key].statistic)
    # statistics stored before the count existed: it is computed and stored again
    legacy = {k: v for k, v in stored.items() if k != "distinct"}
    values = [*rows[-1][:4], json.dumps(legacy), rows[-1][5] + timedelta(microseconds=1)]
    store.run(f"INSERT INTO {table} VALUES (:v0, :v1, :v2, :v3, :v4, :v5)",
              {f"v{i}": v for i, v in enumerate(values)})
    later = by_key(project.monitor(as_of="2024-01-20"))
    assert later[("drift", "flag")].test == "jensen_shannon"
    newest = store.rows(f"SELECT stats FROM {table} WHERE column_name = :c "
                         f"ORDER BY computed_at DESC LIMIT 1", {"c": "flag"})
    assert json.loads(newest[0][0])["distinct"] == 2


def test_unique_on_a_column_whose_name_has_a_comma(make_project):
    frame = pd.DataFrame({"ts": [START + timedelta(hours=i) for i in range(6)],
                          "a,b": [1, 2, 2, 3, 3, 3], "a": [0] * 6, "b": [0] * 6})
    text = """
    source: events
    timestamp: ts
    checks:
      - {column: "a,b", test: unique}
      - {columns: ["a,b", a], test: unique, name: composite}
    """
    _, project, _ = setup(make_project, {"u": text}, frame)
    found = by_key(project.monitor(as_of="2024-01-02"))
    repeats = len(frame) - frame["a,b"].nunique()  # 3; the columns a and b alone give 5
    assert (found[("unique", "a,b")].statistic, found[("unique", "a,b")].n_cur) == (repeats, 6)
    composite = found[("composite", "a,b,a")]
    assert (composite.status, composite.statistic) == ("error", repeats)


INFINITE = """
source: events
timestamp: ts
reference: {start: 2024-01-01, end: 2024-01-02}
current: {start: 2024-01-02, end: 2024-01-03}
checks:
  - {column: x, test: psi, bins: 4}
  - {column: x, test: ks}
  - {column: x, test: wasserstein}
"""


def test_infinities_are_ordered_values_outer_bins_and_left_out_of_wasserstein(make_project):
    inf = float("inf")
    ref, cur = [-inf, -inf, 1.0, 1.5, 2.0, inf, inf], [0.5, 1.3, 1.6, 2.0, 4.0, -inf]
    frame = pd.DataFrame({
        "id": range(13), "x": ref + cur,
        "ts": [START + timedelta(hours=3 * i) for i in range(7)]
        + [START + timedelta(days=1, hours=3 * i) for i in range(6)],
    })
    _, project, _ = setup(make_project, {"inf": INFINITE}, frame)
    found = by_key(project.monitor(as_of="2024-01-05"))
    r, c = np.array(ref), np.array(cur)
    finite_r, finite_c = r[np.isfinite(r)], c[np.isfinite(c)]
    # PSI: edges are quantiles of the finite values; -inf and +inf fall in the outer bins
    edges = np.quantile(finite_r, [0.25, 0.5, 0.75])
    ref_counts = np.bincount(np.searchsorted(edges, r, side="right"), minlength=4)
    cur_counts = np.bincount(np.searchsorted(edges, c, side="right"), minlength=4)
    p = np.where(ref_counts == 0, 1e-4, ref_counts / 7)
    q = np.where(cur_counts == 0, 1e-4, cur_counts / 6)
    psi = found[("psi", "x")]
    assert (psi.n_ref, psi.n_cur) == (7, 6)
    assert psi.statistic == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)
    # KS: infinities are ordered values like any other
    ks = scipy.stats.ks_2samp(r, c, method="auto")
    assert (found[("ks", "x")].statistic, found[("ks", "x")].p_value) == (ks.statistic,
                                                                          ks.pvalue)
    # Wasserstein: over the finite values, in units of their standard deviation
    w = found[("wasserstein", "x")]
    assert w.status != "no_data"
    assert w.statistic == pytest.approx(
        scipy.stats.wasserstein_distance(finite_r, finite_c) / np.std(finite_r), rel=1e-12)
    assert "4 reference and 1 current values infinite" in w.message
    assert (w.n_ref, w.n_cur) == (7, 6)


def test_wasserstein_without_finite_reference_values_says_so(make_project):
    inf = float("inf")
    frame = pd.DataFrame({"id": range(4), "x": [inf, -inf, 1.0, 2.0],
                          "ts": [START + timedelta(hours=i * 12) for i in range(4)]})
    _, project, _ = setup(make_project, {"inf": INFINITE}, frame)
    found = by_key(project.monitor(as_of="2024-01-05"))
    w = found[("wasserstein", "x")]
    assert w.status == "no_data" and w.statistic is None
    assert "no finite values" in w.message
    assert found[("psi", "x")].n_ref == 2


BATCHED = """
source: events
timestamp: ts
reference: {start: 2024-01-01, end: 2024-01-02}
current: {start: 2024-01-02, end: 2024-01-03}
checks:
  - {test: drift, columns: all, exclude: [id], numeric_test: ks}
  - {column: b, test: wasserstein}
"""


def test_ecdf_columns_read_in_batches_match_scipy(make_project, monkeypatch):
    from featurekit.monitoring import stats

    monkeypatch.setattr(stats, "VALUES_PER_BATCH", 1000)  # 400 values a column: 2 a batch
    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame({
        "id": range(n), "ts": [START + timedelta(minutes=i * 2 * 1440 // n) for i in range(n)],
        **{name: rng.normal(shift, size=n).round(3) for name, shift in
           (("a", 0.0), ("b", 0.5), ("c", 1.0), ("d", 0.0), ("e", 2.0))},
    })
    frame.loc[frame.index % 9 == 0, "c"] = None
    _, project, _ = setup(make_project, {"batched": BATCHED}, frame)
    found = by_key(project.monitor(as_of="2024-01-05"))
    ref, cur = frame[frame.ts < "2024-01-02"], frame[frame.ts >= "2024-01-02"]
    for column in "abcde":
        expected = scipy.stats.ks_2samp(ref[column].dropna(), cur[column].dropna())
        result = found[("drift", column)]
        assert (result.statistic, result.p_value) == (expected.statistic, expected.pvalue)
    assert found[("wasserstein", "b")].statistic == pytest.approx(
        scipy.stats.wasserstein_distance(ref.b, cur.b) / np.std(ref.b), rel=1e-12)
