"""Monitor files: the pinned format loads, and every mistake names file:line and a fix."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

import pytest

from featurekit.errors import MonitorError
from featurekit.monitoring.config import parse_monitor


def parse(text: str):
    return parse_monitor("monitors/m.yml", textwrap.dedent(text).lstrip("\n"))


def error_of(text: str) -> str:
    with pytest.raises(MonitorError) as info:
        parse(text)
    return str(info.value)


def test_the_design_example_loads_with_defaults():
    monitor = parse("""
        source: predictions_fraud
        timestamp: predicted_at
        reference: {start: 2024-01-01, end: 2024-02-01}
        current: {last: 1d}
        schedule: 1h
        checks:
          - {column: score,   test: psi}
          - {column: amount,  test: ks}
          - {column: country, test: chi2}
          - {column: amount,  test: null_rate, warn: 0.01, error: 0.05}
          - {test: freshness, warn: 2h, error: 1d}
          - {test: row_count, min: 1000}
          - {test: roc_auc, label: is_fraud, score: score, warn: 0.75, error: 0.7}
        alerts: {webhook: "{{ env_var('FK_TEST_UNSET_URL', '') }}"}
    """)
    assert monitor.name == "m" and monitor.source == "predictions_fraud"
    assert monitor.reference.kind == "fixed"
    assert monitor.reference.start == datetime(2024, 1, 1)
    assert monitor.current.kind == "relative" and monitor.current.last == timedelta(days=1)
    by_test = {c.test: c for c in monitor.checks}
    assert (by_test["psi"].warn, by_test["psi"].error) == (0.1, 0.25)
    assert (by_test["ks"].warn, by_test["ks"].error) == (0.05, 0.01)
    assert by_test["freshness"].warn == timedelta(hours=2)
    assert by_test["roc_auc"].options == {"label": "is_fraud", "score": "score"}
    assert monitor.webhook is None  # empty env var: no alerts


@pytest.mark.parametrize("window, kind", [
    ("{last: 30d, offset: 7d}", "relative"), ("{rows: 500}", "rows"),
    ("{table: training_set}", "table"), ("{start: '2024-01-01T06:00', end: 2024-01-02}", "fixed"),
])
def test_window_kinds(window, kind):
    monitor = parse(f"""
        source: t
        timestamp: ts
        reference: {window}
        checks: [{{column: x, test: psi}}]
    """)
    assert monitor.reference.kind == kind
    assert monitor.current.kind == "all"


def test_columns_all_and_lists():
    monitor = parse("""
        source: t
        timestamp: ts
        reference: {last: 7d, offset: 7d}
        checks:
          - {test: drift, columns: all, exclude: [id]}
          - {test: null_rate, columns: [a, b]}
    """)
    assert monitor.checks[0].columns == ["*"]
    assert monitor.checks[1].columns == ["a", "b"]


@pytest.mark.parametrize("text, expected", [
    ("source: t\nchecks:\n  - {column: x, test: pis}\n",
     'monitors/m.yml:3: unknown test "pis" (did you mean "psi"?)'),
    ("source: t\nchecks:\n  - {column: x, tset: psi}\n", "monitors/m.yml:3: check without"),
    ("source: t\nschedul: 1h\nchecks:\n  - {column: x, test: null_rate}\n",
     'monitors/m.yml:2: unknown monitor key "schedul" (did you mean "schedule"?)'),
    ("source: t\nchecks:\n  - {column: x, test: null_rate, wran: 0.1}\n",
     'monitors/m.yml:3: unknown null_rate check key "wran" (did you mean "warn"?)'),
    ("source: t\nchecks:\n  - test: null_rate\n    column: x\n    warn: 0.5\n    error: 0.1\n",
     "monitors/m.yml:5: thresholds in the wrong order for null_rate: warn (0.5) must be at most "
     "error (0.1)"),
    ("source: t\nreference: {last: 7d}\ntimestamp: ts\nchecks:\n"
     "  - {column: x, test: ks, warn: 0.01, error: 0.05}\n",
     "monitors/m.yml:5: thresholds in the wrong order for ks: warn (0.01) must be at least"),
    ("source: t\ntimestamp: ts\ncurrent: {last: 7days}\nchecks:\n  - {test: row_count, min: 1}\n",
     'monitors/m.yml:3: "7days" is not a duration'),
    ("source: t\ntimestamp: ts\nchecks:\n  - {test: freshness, warn: soon}\n",
     'monitors/m.yml:4: "soon" is not a duration'),
    ("source: t\nschedule: often\nchecks:\n  - {test: row_count, min: 1}\n",
     'monitors/m.yml:2: schedule "often" is neither a duration'),
    ("source: t\ntimestamp: ts\nreference: {start: 2024-02-01, end: 2024-01-01}\nchecks:\n"
     "  - {column: x, test: psi}\n", "monitors/m.yml:3: reference window ends"),
    ("source: t\ntimestamp: ts\nreference: {lats: 7d}\nchecks:\n  - {column: x, test: psi}\n",
     'monitors/m.yml:3: unknown reference window key "lats" (did you mean "last"?)'),
    ("source: t\nchecks:\n  - {column: x, test: psi}\n",
     "monitors/m.yml:3: test psi compares with a reference window"),
    ("source: t\ncurrent: {last: 1d}\nchecks:\n  - {test: row_count, min: 1}\n",
     "monitors/m.yml:2: a relative window needs `timestamp:`"),
    ("checks:\n  - {test: row_count, min: 1}\n", "monitors/m.yml:1: give exactly one of"),
    ("source: t\nchecks:\n  - {test: row_count, column: x, min: 1}\n",
     "monitors/m.yml:3: test row_count applies to the whole window"),
    ("source: t\nchecks:\n  - {test: roc_auc, label: y}\n", "monitors/m.yml:3: roc_auc needs"),
    ("source: t\nchecks:\n  - {test: accepted_values, column: c}\n",
     "monitors/m.yml:3: accepted_values needs `values:"),
    ("source: t\ntimestamp: ts\nreference: {last: 7d}\nchecks:\n"
     "  - {test: drift, columns: all, numeric_test: chi2}\n",
     'monitors/m.yml:5: numeric_test "chi2" is not a drift test'),
    ("source: t\ntimestamp: ts\nreference: {last: 7d}\nchecks:\n"
     "  - {test: drift, columns: all, categorical_max_distinct: -1}\n",
     "monitors/m.yml:5: categorical_max_distinct is a whole number >= 0"),
    ("source: t\ntimestamp: ts\nreference: {last: 7d}\nchecks:\n"
     "  - {test: drift, columns: all, categorical_max_distinct: true}\n",
     "monitors/m.yml:5: categorical_max_distinct is a whole number >= 0"),
    ("source: t\nchecks:\n  - {column: x, test: null_rate}\n  - {column: x, test: null_rate}\n",
     "monitors/m.yml:4: a second null_rate check on x (first at line 3); give it `name:`"),
    ("source: t\nchecks: [\n", "monitors/m.yml:3: invalid YAML"),
    ("source: t\nalerts: {webhook: ftp://x}\nchecks:\n  - {test: row_count, min: 1}\n",
     "monitors/m.yml:2: webhook must be an http(s) URL"),
    ("source: t\nalerts: {webhook: 'http://x', max_attempts: 0}\nchecks:\n"
     "  - {test: row_count, min: 1}\n", "monitors/m.yml:2: max_attempts must be at least 1"),
    ("source: predictions_cancle\nprediction_log: cancel\nchecks:\n"
     "  - {test: row_count, min: 1}\n",
     'monitors/m.yml:1: source "predictions_cancle" is not the prediction log of model '
     '"cancel": use predictions_cancel or predictions_cancel_labeled'),
    ("sql: SELECT 1 AS x\nprediction_log: cancel\nchecks:\n  - {test: row_count, min: 1}\n",
     "monitors/m.yml:2: prediction_log names the model whose log is the source"),
    ("prediction_log: 'a b'\nchecks:\n  - {test: row_count, min: 1}\n",
     "monitors/m.yml:1: prediction_log is a model name"),
])
def test_mistakes_name_file_line_and_a_fix(text, expected):
    assert expected in error_of(text)


@pytest.mark.parametrize("text, source", [
    ("prediction_log: fraud\n", "predictions_fraud"),
    ("source: predictions_fraud_labeled\nprediction_log: fraud\n", "predictions_fraud_labeled"),
    ("source: predictions_fraud\n", "predictions_fraud"),
])
def test_prediction_log_names_the_model_whose_log_is_the_source(text, source):
    monitor = parse(text + "checks:\n  - {test: row_count, min: 1}\n")
    assert monitor.source == source
    assert monitor.prediction_log == ("fraud" if "prediction_log" in text else None)


def test_load_monitors_reads_a_folder(tmp_path):
    from featurekit.monitoring.config import load_monitors

    (tmp_path / "monitors").mkdir()
    (tmp_path / "monitors" / "a.yml").write_text("source: t\nchecks:\n  - {test: row_count, min: 1}\n")
    (tmp_path / "monitors" / "b.yml").write_text("source: t\nchecks:\n  - {test: nope}\n")
    with pytest.raises(MonitorError, match=r"^monitors/b.yml:3: unknown test"):
        load_monitors(tmp_path / "monitors", tmp_path)
    assert load_monitors(tmp_path / "missing", tmp_path) == {}
