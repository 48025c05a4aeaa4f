"""The ``skew`` monitor test: served feature values against point-in-time recomputation.

The expected shares come from a brute-force reference in Python (for each logged prediction,
scan every feature row of the entity for the latest one at or before ``predicted_at`` within
the ttl, then compare with the served value), on generated data with injected serving bugs.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from featurekit.errors import MonitorError
from tests.conftest import ENGINES, spark_too

T0 = datetime(2024, 1, 1)
TTL = timedelta(days=2)
SEGMENTS = ["a", "b", "c"]


def feature_rows(rng: np.random.Generator) -> pd.DataFrame:
    """Per customer, rows at random hours over 10 days: spend (number) and segment (text)."""
    rows = []
    for customer in range(1, 31):
        hours = sorted(set(rng.integers(0, 240, 8).tolist()))
        for h in hours:
            rows.append((customer, T0 + timedelta(hours=h), round(float(rng.uniform(0, 100)), 2),
                         SEGMENTS[int(rng.integers(0, 3))]))
    return pd.DataFrame(rows, columns=["customer_id", "feature_ts", "spend", "segment"])


def reference_value(features: pd.DataFrame, customer: int, at: datetime, column: str):
    """Brute force: the latest row at or before ``at`` and within the ttl, else None."""
    best = None
    for row in features.itertuples():
        if row.customer_id == customer and at - TTL <= row.feature_ts <= at:
            if best is None or row.feature_ts > best.feature_ts:
                best = row
    return None if best is None else getattr(best, column)


def served_log(features: pd.DataFrame, rng: np.random.Generator, n: int = 200):
    """Predictions with the correct values, then bugs: stale spend (an older row's value),
    tiny float noise (within tolerance), a wrong segment, spend served where none existed."""
    customers = rng.integers(1, 33, n)  # 31, 32: unknown customers (no feature rows)
    times = [T0 + timedelta(minutes=int(m)) for m in rng.integers(0, 12 * 24 * 60, n)]
    spend = [reference_value(features, int(c), t, "spend") for c, t in zip(customers, times)]
    segment = [reference_value(features, int(c), t, "segment") for c, t in zip(customers, times)]
    for i in range(n):
        bug = i % 10
        if bug == 1 and spend[i] is not None:
            spend[i] = spend[i] + 1.5  # a stale cache
        elif bug == 2 and spend[i] is not None:
            spend[i] = spend[i] + 1e-9  # float noise, within the tolerance
        elif bug == 3:
            segment[i] = "z" if segment[i] is not None else None
        elif bug == 4 and spend[i] is None:
            spend[i] = 0.0  # a default served instead of "no value"
    return pd.DataFrame({
        "prediction_id": [f"p{i}" for i in range(n)],
        "predicted_at": times,
        "customer_id": customers.astype("int64"),
        "spend": pd.array(spend, dtype="Float64"),
        "segment": pd.array(segment, dtype="string"),
        "score": rng.uniform(0, 1, n),
    })


def expected_share(features: pd.DataFrame, log: pd.DataFrame, column: str, start: datetime,
                   end: datetime, tolerance: float) -> tuple[float, int]:
    window = log[(log["predicted_at"] >= start) & (log["predicted_at"] < end)]
    differ = 0
    for row in window.itertuples():
        served = getattr(row, column)
        served = None if pd.isna(served) else served
        truth = reference_value(features, row.customer_id, row.predicted_at, column)
        if served is None or truth is None:
            differ += (served is None) != (truth is None)
        elif column == "spend":
            differ += abs(served - truth) > tolerance
        else:
            differ += served != truth
    return differ / len(window), len(window)


MONITOR = """\
prediction_log: m
timestamp: predicted_at
current: {{start: 2024-01-02, end: 2024-01-11}}
checks:
  - {{test: skew, service: m_v1, warn: 0.01, error: 0.08{extra}}}
"""


@pytest.fixture
def setup(make_project):
    rng = np.random.default_rng(7)
    features = feature_rows(rng)
    p = make_project()
    p.seed("feature_src", features.to_csv(index=False))
    p.model("customer_spend",
            "SELECT CAST(customer_id AS BIGINT) AS customer_id, "
            "CAST(feature_ts AS TIMESTAMP) AS feature_ts, CAST(spend AS DOUBLE) AS spend "
            "FROM feature_src", "entity: customer_id\ntimestamp: feature_ts\nttl: 2d")
    p.model("customer_segment",
            "SELECT CAST(customer_id AS BIGINT) AS customer_id, "
            "CAST(feature_ts AS TIMESTAMP) AS feature_ts, CAST(segment AS VARCHAR) AS segment "
            "FROM feature_src",
            "entity: customer_id\ntimestamp: feature_ts\nttl: 2d\nmaterialized: table")
    p.write("models_sql/feature_services.yml",
            "feature_services:\n  m_v1:\n    features: [customer_spend.spend, "
            "customer_segment.segment]\n")
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    log = served_log(features, rng)
    project.log_predictions("m", log, version="v1")
    return p, project, features, log


def run_skew(factory, project, extra: str = ""):
    factory.write("monitors/skew.yml", MONITOR.format(extra=extra))
    fresh = factory.open()
    return {r.column: r for r in fresh.monitor(run_all=True, as_of="2024-01-11").results}


# Spark with one tolerance: the tolerances differ in the comparison, not in the engine.
@pytest.mark.parametrize(("engine_name", "tolerance"), [
    *((engine, tolerance) for engine in ENGINES for tolerance in (1e-6, 0.0, 2.0)),
    ("spark", 1e-6),
], indirect=["engine_name"])
def test_skew_share_matches_a_brute_force_reference(setup, tolerance):
    factory, project, features, log = setup
    results = run_skew(factory, project, f", tolerance: {tolerance}")
    start, end = datetime(2024, 1, 2), datetime(2024, 1, 11)
    for column in ("spend", "segment"):
        share, n = expected_share(features, log, column, start, end, tolerance)
        result = results[column]
        assert result.n_cur == n
        assert math.isclose(result.statistic, share, abs_tol=1e-12), (column, tolerance)
        assert result.test == "skew"
    # the injected bugs are really there (so the comparison above is not vacuous)
    assert results["segment"].statistic > 0.05 and results["segment"].status == "warn"
    if tolerance < 1:
        assert results["spend"].statistic > results["segment"].statistic


# On Spark the patch changes nothing: this is the path it always takes.
@spark_too
def test_skew_without_temporary_tables_uses_a_table_it_drops(setup, monkeypatch):
    """Engines without session-private tables (Spark) number the rows in a table of the
    target schema; the shares are the same and the table is gone afterwards."""
    factory, project, features, log = setup
    monkeypatch.setattr(type(project.engine), "temporary_tables", False)
    results = run_skew(factory, project, ", tolerance: 1e-6")
    share, n = expected_share(features, log, "spend", datetime(2024, 1, 2),
                              datetime(2024, 1, 11), 1e-6)
    assert results["spend"].n_cur == n
    assert math.isclose(results["spend"].statistic, share, abs_tol=1e-12)
    assert not [t for t in project.engine.relation_names() if t.startswith("__fk_skew_")]


@spark_too
def test_correctly_served_features_show_no_skew(make_project):
    rng = np.random.default_rng(3)
    features = feature_rows(rng)
    p = make_project()
    p.seed("feature_src", features.to_csv(index=False))
    p.model("customer_spend",
            "SELECT CAST(customer_id AS BIGINT) AS customer_id, "
            "CAST(feature_ts AS TIMESTAMP) AS feature_ts, CAST(spend AS DOUBLE) AS spend "
            "FROM feature_src", "entity: customer_id\ntimestamp: feature_ts\nttl: 2d")
    project = p.open()
    project.refresh()
    labels = pd.DataFrame({"customer_id": rng.integers(1, 31, 50),
                           "predicted_at": [T0 + timedelta(hours=int(h))
                                            for h in rng.integers(24, 240, 50)]})
    served = project.training_set(labels, ["customer_spend.spend"], timestamp="predicted_at")
    project.log_predictions("m", served.assign(score=0.5))
    p.write("monitors/skew.yml",
            "prediction_log: m\ntimestamp: predicted_at\ncurrent: {last: 30d}\nchecks:\n"
            "  - {test: skew, features: [customer_spend.spend]}\n")
    [result] = p.open().monitor(run_all=True, as_of="2024-01-20").results
    assert (result.status, result.statistic, result.n_cur) == ("ok", 0.0, 50)


def test_empty_window_is_no_data(setup):
    factory, project, _, _ = setup
    factory.write("monitors/skew.yml", MONITOR.format(extra="").replace(
        "{start: 2024-01-02, end: 2024-01-11}", "{start: 2025-01-01, end: 2025-01-02}"))
    results = factory.open().monitor(run_all=True, as_of="2025-01-02").results
    assert {r.status for r in results} == {"no_data"} and len(results) == 2


@pytest.mark.parametrize("check, message", [
    ("{test: skew, service: m_v2}", 'unknown feature service "m_v2" (did you mean "m_v1"?)'),
    ("{test: skew, features: [customer_spend.spnd]}",
     'feature view customer_spend has no column "spnd"'),
    ("{test: skew, features: [customer_spend.spend], entity_columns: {customer_id: buyer}}",
     'has no column "buyer" for entity customer_id'),
])
def test_bad_skew_check_names_the_line(setup, check, message):
    factory, _, _, _ = setup
    factory.write("monitors/skew.yml",
                  f"prediction_log: m\ntimestamp: predicted_at\ncurrent: {{last: 30d}}\n"
                  f"checks:\n  - {check}\n")
    with pytest.raises(MonitorError) as error:
        factory.open().monitor(run_all=True, as_of="2024-01-11")
    assert str(error.value).startswith("monitors/skew.yml:5: ")
    assert message in str(error.value)


def test_feature_missing_from_the_log_is_named(setup):
    factory, project, _, _ = setup
    factory.model("customer_extra",
                  "SELECT CAST(customer_id AS BIGINT) AS customer_id, "
                  "CAST(feature_ts AS TIMESTAMP) AS feature_ts, 1 AS extra FROM feature_src",
                  "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    fresh = factory.open()
    fresh.refresh()
    factory.write("monitors/skew.yml",
                  "prediction_log: m\ntimestamp: predicted_at\ncurrent: {last: 30d}\n"
                  "checks:\n  - {test: skew, features: [customer_spend.spend, "
                  "customer_extra.extra]}\n")
    with pytest.raises(MonitorError, match=r"skew.yml:5: .* has no served value for extra"):
        factory.open().monitor(run_all=True, as_of="2024-01-11")


@pytest.mark.parametrize("check, message", [
    ("{test: skew}", "skew needs `service: <feature service>` or `features:"),
    ("{test: skew, service: a, features: [v.c]}", "(one of them)"),
    ("{test: skew, service: a, tolerance: -1}", "tolerance is a number >= 0"),
    ("{test: skew, service: a, column: x}", "remove `column:`"),
])
def test_malformed_skew_check_is_refused_when_loading(check, message):
    from featurekit.monitoring.config import parse_monitor

    with pytest.raises(MonitorError, match="m.yml:4: ") as error:
        parse_monitor("m.yml", f"source: t\ntimestamp: ts\nchecks:\n  - {check}\n")
    assert message in str(error.value)


def test_columns_may_name_a_feature_service(setup):
    """``columns: [m_v1]`` on a prediction log means the service's feature columns."""
    factory, _, _, log = setup
    factory.write("monitors/nulls.yml",
                  "prediction_log: m\ntimestamp: predicted_at\ncurrent: {last: 30d}\nchecks:\n"
                  "  - {columns: [m_v1], test: null_rate, warn: 0.9, error: 0.95}\n")
    results = factory.open().monitor(select=["nulls"], run_all=True, as_of="2024-01-20").results
    assert [r.column for r in results] == ["spend", "segment"]
    for result in results:  # reference: pandas over the same 30 days
        assert math.isclose(result.statistic, log[result.column].isna().mean(), abs_tol=1e-12)


@spark_too
def test_renamed_keys_and_time_column(setup):
    """``entity_columns`` and ``at`` point at differently named log columns."""
    factory, project, features, log = setup
    renamed = log.rename(columns={"customer_id": "buyer", "predicted_at": "served_at"})
    project.log_predictions("r", renamed.drop(columns="prediction_id"))
    factory.write("monitors/skew.yml",
                  "prediction_log: r\ntimestamp: served_at\ncurrent: {last: 30d}\nchecks:\n"
                  "  - {test: skew, features: [customer_segment.segment], at: served_at,\n"
                  "     entity_columns: {customer_id: buyer}}\n")
    [result] = factory.open().monitor(run_all=True, as_of="2024-01-20").results
    share, n = expected_share(features, log, "segment", datetime(2023, 12, 21),
                              datetime(2024, 1, 20), 0.0)
    assert (result.n_cur, result.column) == (n, "segment")
    assert math.isclose(result.statistic, share, abs_tol=1e-12)
