"""Every statistic computed in the engine agrees with numpy / scipy on the raw data.

Each test loads generated data into a real table (DuckDB and PostgreSQL; Spark too where
marked @spark_too, with few hypothesis examples), computes the
statistic through ``monitoring.stats`` + ``monitoring.checks`` and compares it with a small,
obviously-correct reference computed on the raw values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from featurekit.monitoring import checks, stats
from featurekit.monitoring.query import Sql, value
from tests.conftest import examples, spark_too

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def engine(make_project):
    return make_project().open().engine


def load(engine, ref: list, cur: list, name: str = "t") -> tuple[Sql, Sql]:
    """A table with a reference and a current window; returns the two windows' SELECTs."""
    values = [*ref, *cur]
    window = ["ref"] * len(ref) + ["cur"] * len(cur)
    kind = pa.string() if any(isinstance(v, str) for v in values) else pa.float64()
    engine.load_arrow(pa.table({"w": pa.array(window, pa.string()),
                                "x": pa.array(values, kind)}), name)
    relation = engine.relation(name)
    return (Sql(f"SELECT * FROM {relation} WHERE w = ") + value("ref"),
            Sql(f"SELECT * FROM {relation} WHERE w = ") + value("cur"))


# -- reference implementations -------------------------------------------------------------
def np_edges(ref: np.ndarray, bins: int) -> np.ndarray:
    return np.quantile(ref, stats.quantile_levels(bins), method="linear")


def np_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """bin = number of edges <= value"""
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def np_psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI with Evidently's rule: a proportion of exactly 0 becomes 1e-4, others are kept."""
    r = ref_counts / ref_counts.sum()
    c = cur_counts / cur_counts.sum()
    r, c = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


# values with many exact ties (small integers, so edges fall exactly on data values),
# and continuous ones
tied = st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=60)
continuous = st.lists(st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3)),
                      min_size=1, max_size=60)
numbers = st.one_of(tied, continuous)


@spark_too
def test_edges_bins_and_psi_match_numpy(engine):
    @settings(SETTINGS, max_examples=examples(engine.type, SETTINGS.max_examples))
    @given(ref=numbers, cur=numbers, bins=st.sampled_from([2, 4, 10]))
    def check(ref, cur, bins):
        ref_w, cur_w = load(engine, ref, cur)
        r, c = np.array(ref), np.array(cur)
        edges, distinct = stats.quantiles_and_distinct(engine, ref_w, "x", len(ref),
                                                       stats.quantile_levels(bins))
        assert edges == list(np_edges(r, bins))  # bit-identical edges
        assert distinct == len(np.unique(r))  # counted in the same sort
        counts = stats.bin_counts(engine, ref_w, {"x": edges})["x"]
        current = stats.bin_counts(engine, cur_w, {"x": edges})["x"]
        assert counts == list(np_bins(r, np.array(edges)))
        assert current == list(np_bins(c, np.array(edges)))
        assert checks.psi(counts, current) == pytest.approx(
            np_psi(np.array(counts), np.array(current)), rel=1e-12, abs=1e-15)
        assert checks.jensen_shannon(counts, current) == pytest.approx(
            jensenshannon(np.array(counts) / len(ref), np.array(current) / len(cur), base=2),
            rel=1e-12, abs=1e-12)

    check()


# finite values of any spread: ties, signed zeros, subnormals, the largest doubles
any_finite = st.lists(st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-3, 3).map(float),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.7e308, -1.7e308])), min_size=1, max_size=60)


@spark_too
def test_edges_and_distinct_match_numpy_whatever_the_spread(engine):
    """numpy's edges and distinct count, whatever the values' spread."""
    @settings(SETTINGS, max_examples=examples(engine.type, SETTINGS.max_examples))
    @given(ref=any_finite, bins=st.sampled_from([2, 4, 10]))
    def check(ref, bins):
        ref_w, _ = load(engine, ref, [0.0])
        r = np.array(ref)
        edges, distinct = stats.quantiles_and_distinct(
            engine, ref_w, "x", len(ref), stats.quantile_levels(bins))
        np.testing.assert_array_equal(edges, np_edges(r, bins))  # NaN where numpy's is
        assert distinct == len(np.unique(r))

    check()


@spark_too
def test_summaries_and_bins_of_many_columns_match_numpy(engine):
    """More columns than an engine puts in one aggregate query (``aggregate_columns_per_query``)."""
    rng = np.random.default_rng(3)
    numeric = {f"n{i}": rng.normal(i, 1 + i, size=40).round(2) for i in range(12)}
    numeric["n0"][::4] = np.nan  # NULLs, below
    text = {f"t{i}": rng.choice(["a", "b", None], size=40) for i in range(7)}
    engine.load_arrow(pa.table({
        **{c: pa.array([None if np.isnan(v) else float(v) for v in vs], pa.float64())
           for c, vs in numeric.items()},
        **{c: pa.array(list(vs), pa.string()) for c, vs in text.items()},
    }), "many")
    window = Sql(f"SELECT * FROM {engine.relation('many')}")
    rows, found = stats.summaries(engine, window, list(numeric), list(text))
    assert rows == 40
    for column, values in numeric.items():
        v = values[~np.isnan(values)]
        summary = found[column]
        assert (summary.count, summary.min, summary.max) == (len(v), v.min(), v.max())
        assert summary.mean == pytest.approx(v.mean(), rel=1e-12)
        assert summary.std == pytest.approx(np.std(v), rel=1e-9)
    for column, values in text.items():
        assert found[column].count == sum(x is not None for x in values)
    edges = {c: [float(e) for e in np.quantile(v[~np.isnan(v)], [0.25, 0.5, 0.75])]
             for c, v in numeric.items()}
    counts = stats.bin_counts(engine, window, edges)
    for column, values in numeric.items():
        v = values[~np.isnan(values)]
        assert counts[column] == list(np_bins(v, np.array(edges[column])))


@spark_too
def test_ks_and_wasserstein_match_scipy(engine):
    @settings(SETTINGS, max_examples=examples(engine.type, SETTINGS.max_examples))
    @given(ref=numbers, cur=numbers)
    def check(ref, cur):
        ref_w, cur_w = load(engine, ref, cur)
        ecdf = stats.ecdf(engine, ref_w, cur_w, "x")
        # the largest ECDF difference, bit for bit (method='exact' rounds it to a multiple of
        # 1/lcm(n, m), so small windows use scipy on the raw values, checked next)
        assert ecdf.ks == scipy.stats.ks_2samp(ref, cur, method="asymp").statistic
        expected = scipy.stats.ks_2samp(ref, cur, method="auto")
        assert checks.ks_exact(stats.sorted_values(engine, ref_w, ["x"])["x"],
                               stats.sorted_values(engine, cur_w, ["x"])["x"]) == (
            expected.statistic, expected.pvalue)
        assert ecdf.wasserstein == pytest.approx(scipy.stats.wasserstein_distance(ref, cur),
                                                 rel=1e-9, abs=1e-9)
        _, summary = stats.summaries(engine, ref_w, ["x"])
        assert summary["x"].std == pytest.approx(np.std(ref), rel=1e-9, abs=1e-9)
        assert (ecdf.n_ref, ecdf.n_cur) == (len(ref), len(cur))

    check()


@spark_too
def test_ks_pvalue_is_asymptotic_above_ten_thousand_rows(engine):
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(size=12_000).round(2), rng.normal(0.05, size=10_500).round(2)
    ref_w, cur_w = load(engine, list(ref), list(cur))
    ecdf = stats.ecdf(engine, ref_w, cur_w, "x")
    expected = scipy.stats.ks_2samp(ref, cur, method="auto")
    assert ecdf.ks == expected.statistic
    assert checks.ks_asymptotic_pvalue(ecdf.ks, 12_000, 10_500) == expected.pvalue


categories = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=60)


@spark_too
def test_categorical_tests_match_scipy_over_the_union_of_categories(engine):
    @settings(SETTINGS, max_examples=examples(engine.type, SETTINGS.max_examples))
    @given(ref=categories, cur=categories)
    def check(ref, cur):
        ref_w, cur_w = load(engine, ref, cur)
        keys, r, c = checks.aligned(stats.category_counts(engine, ref_w, "x"),
                                    stats.category_counts(engine, cur_w, "x"))
        union = sorted(set(ref) | set(cur))  # unseen categories count as zero
        assert keys == union
        expected_r = [ref.count(k) for k in union]
        expected_c = [cur.count(k) for k in union]
        assert (r, c) == (expected_r, expected_c)
        if len(union) > 1:
            result = scipy.stats.chi2_contingency([expected_r, expected_c])
            assert checks.chi2(r, c) == (result.statistic, result.pvalue)
        pr, pc = np.array(expected_r) / len(ref), np.array(expected_c) / len(cur)
        assert checks.l_infinity(r, c) == pytest.approx(np.max(np.abs(pr - pc)), abs=1e-15)
        assert checks.psi(r, c) == pytest.approx(np_psi(np.array(expected_r), np.array(expected_c)),
                                                 rel=1e-12, abs=1e-15)

    check()


# a common category (tens of thousands of rows) and rare ones (0-3 rows: proportions below
# 1e-4, which must be kept as they are, and exactly 0, which are floored)
rare_counts = st.fixed_dictionaries({
    "common": st.integers(10_001, 30_000),
    **{f"rare{i}": st.integers(0, 3) for i in range(3)},
})


def repeat(counts: dict[str, int]) -> list[str]:
    return [key for key, n in counts.items() for _ in range(n)]


@settings(SETTINGS, max_examples=12)
@given(ref=rare_counts, cur=rare_counts)
def test_psi_keeps_rare_proportions_and_floors_only_empty_ones(engine, ref, cur):
    ref_w, cur_w = load(engine, repeat(ref), repeat(cur))
    _, r, c = checks.aligned(stats.category_counts(engine, ref_w, "x"),
                             stats.category_counts(engine, cur_w, "x"))
    union = sorted(k for k in ref if ref[k] or cur[k])
    expected_r = np.array([ref[k] for k in union])
    expected_c = np.array([cur[k] for k in union])
    assert checks.psi(r, c) == pytest.approx(np_psi(expected_r, expected_c), rel=1e-12,
                                             abs=1e-15)


@pytest.mark.parametrize("ref, cur, expected", [
    # one reference row in 26,865 of a category the current window lacks: it counts
    ([26_864, 1], [26_865, 0], (1 / 26_865) * np.log(26_865 / 26_864)
     + (1e-4 - 1 / 26_865) * np.log(1e-4 * 26_865)),
    ([5, 0], [5, 0], 0.0),  # empty in both windows: floored in both, contributes nothing
])
def test_psi_floors_only_proportions_of_exactly_zero(ref, cur, expected):
    assert checks.psi(ref, cur) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@settings(SETTINGS, max_examples=12)
@given(ref=continuous, outliers=st.lists(st.floats(-2e3, 2e3, allow_nan=False), min_size=1,
                                         max_size=3), bulk=st.integers(10_001, 20_000))
def test_numeric_psi_keeps_rare_bins(engine, ref, outliers, bulk):
    """A current window piled on one value, with a few outliers in bins of share < 1e-4."""
    cur = [ref[0]] * bulk + [round(v, 3) for v in outliers]
    ref_w, cur_w = load(engine, ref, cur)
    edges = stats.quantiles(engine, ref_w, "x", len(ref), stats.quantile_levels(10))
    counts = stats.bin_counts(engine, ref_w, {"x": edges})["x"]
    current = stats.bin_counts(engine, cur_w, {"x": edges})["x"]
    np_e = np_edges(np.array(ref), 10)
    assert checks.psi(counts, current) == pytest.approx(
        np_psi(np_bins(np.array(ref), np_e), np_bins(np.array(cur), np_e)), rel=1e-12,
        abs=1e-15)


@spark_too
def test_nulls_are_counted_and_left_out_of_distributions(engine):
    engine.load_arrow(pa.table({"x": pa.array([1.0, None, 3.0, None, 5.0], pa.float64())}), "n")
    window = Sql(f"SELECT * FROM {engine.relation('n')}")
    rows, summary = stats.summaries(engine, window, ["x"])
    assert rows == 5 and summary["x"].nulls == 2 and summary["x"].count == 3
    assert (summary["x"].min, summary["x"].max, summary["x"].mean) == (1.0, 5.0, 3.0)
    assert stats.quantiles(engine, window, "x", 3, [0.5]) == [3.0]
    assert stats.bin_counts(engine, window, {"x": [3.0]})["x"] == [1, 2]


@spark_too
def test_constant_column_gives_zero_drift_and_floored_std(engine):
    ref_w, cur_w = load(engine, [2.0] * 50, [2.0] * 30)
    edges = stats.quantiles(engine, ref_w, "x", 50, stats.quantile_levels(10))
    assert edges == [2.0] * 9
    counts = stats.bin_counts(engine, ref_w, {"x": edges})["x"]
    assert counts == [0] * 9 + [50]  # every value equals every edge: the top bin
    assert checks.psi(counts, stats.bin_counts(engine, cur_w, {"x": edges})["x"]) == 0.0
    ecdf = stats.ecdf(engine, ref_w, cur_w, "x")
    assert ecdf.ks == 0.0 and ecdf.wasserstein == 0.0
    assert checks.normed_wasserstein(0.5, 0.0) == 500.0  # std floored at 0.001


@pytest.mark.parametrize("test", ["roc_auc", "accuracy", "precision", "recall", "f1",
                                  "log_loss", "rmse", "mae"])
def test_performance_metrics_from_grouped_pairs_match_sklearn(engine, test):
    from sklearn import metrics

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500).astype(float)
    score = np.clip(y * 0.3 + rng.random(500) * 0.7, 0.01, 0.99).round(2)  # ties on purpose
    engine.load_arrow(pa.table({"y": y, "s": score}), "p")
    labels, scores, weights = stats.outcome_pairs(
        engine, Sql(f"SELECT * FROM {engine.relation('p')}"), "y", "s")
    assert sum(weights) == 500 and len(weights) < 500
    value = checks.performance(test, labels, scores, weights, 0.5, scored=True)
    predicted = (score >= 0.5).astype(float)
    expected = {
        "roc_auc": lambda: metrics.roc_auc_score(y, score),
        "accuracy": lambda: metrics.accuracy_score(y, predicted),
        "precision": lambda: metrics.precision_score(y, predicted),
        "recall": lambda: metrics.recall_score(y, predicted),
        "f1": lambda: metrics.f1_score(y, predicted),
        "log_loss": lambda: metrics.log_loss(y, score),
        "rmse": lambda: np.sqrt(metrics.mean_squared_error(y, score)),
        "mae": lambda: metrics.mean_absolute_error(y, score),
    }[test]()
    assert value == pytest.approx(expected, rel=1e-12)


@spark_too
def test_range_accepted_values_and_duplicates(engine):
    engine.load_arrow(pa.table({"k": pa.array([1, 2, 2, 3, 3, 3, None], pa.int64()),
                                "c": pa.array(["a", "b", "z", None, "a", "b", "b"])}), "q")
    window = Sql(f"SELECT * FROM {engine.relation('q')}")
    assert stats.outside_share(engine, window, "k", 1.5, 2.5) == (4, 6)
    assert stats.not_accepted(engine, window, "c", ["a", "b"]) == (1, 6)
    assert stats.duplicates(engine, window, ["k"]) == (3, 6)
    assert stats.duplicates(engine, window, ["k", "c"]) == (0, 5)


with_nulls = st.lists(st.one_of(st.none(), st.integers(-2, 2).map(float)), min_size=1,
                      max_size=40).filter(lambda xs: any(x is not None for x in xs))


@spark_too
def test_nulls_never_reach_the_distributions(engine):
    @settings(SETTINGS, max_examples=examples(engine.type, SETTINGS.max_examples))
    @given(ref=with_nulls, cur=with_nulls)
    def check(ref, cur):
        ref_w, cur_w = load(engine, ref, cur)
        r = np.array([x for x in ref if x is not None])
        c = np.array([x for x in cur if x is not None])
        rows, summary = stats.summaries(engine, cur_w, ["x"])
        assert (rows, summary["x"].nulls) == (len(cur), len(cur) - len(c))
        edges = stats.quantiles(engine, ref_w, "x", len(r), stats.quantile_levels(4))
        assert edges == list(np_edges(r, 4))
        assert stats.bin_counts(engine, cur_w, {"x": edges})["x"] == list(np_bins(c, np.array(edges)))
        ecdf = stats.ecdf(engine, ref_w, cur_w, "x")
        assert ecdf.ks == scipy.stats.ks_2samp(r, c, method="asymp").statistic

    check()


inf = float("inf")
with_infinities = st.lists(st.one_of(st.sampled_from([inf, -inf]), st.integers(-3, 3).map(float),
                                     st.floats(-1e3, 1e3).map(lambda v: round(v, 3))),
                           min_size=1, max_size=40)


@SETTINGS
@given(ref=with_infinities, cur=with_infinities, bins=st.sampled_from([2, 4, 10]))
def test_infinities_order_for_ks_fall_in_outer_bins_and_leave_wasserstein(engine, ref, cur,
                                                                          bins):
    ref_w, cur_w = load(engine, ref, cur)
    r, c = np.array(ref), np.array(cur)
    finite_r, finite_c = r[np.isfinite(r)], c[np.isfinite(c)]
    _, summary = stats.summaries(engine, ref_w, ["x"])
    assert summary["x"].finite == len(finite_r)
    edges, distinct = stats.quantiles_and_distinct(engine, ref_w, "x", len(r),
                                                   stats.quantile_levels(bins), len(finite_r))
    expected_edges = list(np_edges(finite_r, bins)) if len(finite_r) else []
    assert edges == expected_edges and distinct == len(np.unique(r))
    assert stats.bin_counts(engine, cur_w, {"x": edges})["x"] == list(np_bins(c, np.array(edges)))
    # the same from the values read for the ECDF tests
    ref_values = stats.sorted_values(engine, ref_w, ["x"])["x"]
    cur_values = stats.sorted_values(engine, cur_w, ["x"])["x"]
    assert stats.edges_and_distinct(ref_values, stats.quantile_levels(bins)) == (edges, distinct)
    assert stats.sorted_bin_counts(cur_values, edges) == list(np_bins(c, np.array(edges)))
    ecdf = stats.compare_ecdfs(ref_values, cur_values)
    assert ecdf.ks == scipy.stats.ks_2samp(r, c, method="asymp").statistic
    assert ecdf.left_out == (len(r) - len(finite_r), len(c) - len(finite_c))
    if len(finite_r) and len(finite_c):
        assert ecdf.wasserstein == pytest.approx(
            scipy.stats.wasserstein_distance(finite_r, finite_c), rel=1e-9, abs=1e-9)
        assert ecdf.ref_std == pytest.approx(np.std(finite_r), rel=1e-12, abs=1e-12)
    else:
        assert np.isnan(ecdf.wasserstein)


@spark_too
def test_edges_from_bulk_reads_match_numpy(engine, monkeypatch):
    """On an engine whose edges come from values read in bulk (``quantiles_from_bulk_reads``:
    Spark in this process), several columns read in batches give numpy's edges, distinct
    counts and bins, and no window sort runs in the engine."""
    from featurekit.monitoring.windowstats import WindowStats

    def no_window_sort(*args, **kwargs):
        raise AssertionError("a window sort ran in the engine")

    monkeypatch.setattr(engine, "quantiles_from_bulk_reads", True)
    monkeypatch.setattr(stats, "quantiles_and_distinct", no_window_sort)
    monkeypatch.setattr(stats, "VALUES_PER_BATCH", 40)  # columns over 20 rows: one a batch
    cell = st.one_of(st.none(), st.sampled_from([inf, -inf, float("nan")]),
                     st.integers(-3, 3).map(float),
                     st.floats(-1e3, 1e3).map(lambda v: round(v, 3)))

    @settings(SETTINGS, max_examples=examples(engine.type, SETTINGS.max_examples))
    @given(rows=st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=30),
           bins=st.sampled_from([2, 4, 10]))
    def check(rows, bins):
        names = ["a", "b", "c"]
        engine.load_arrow(pa.table({name: pa.array([row[i] for row in rows], pa.float64())
                                    for i, name in enumerate(names)}), "bulk")
        window = WindowStats(engine, Sql(f"SELECT * FROM {engine.relation('bulk')}"),
                             dict.fromkeys(names, "numeric"))
        window.prefetch(names)
        window.prefetch_edges(dict.fromkeys(names, bins))
        for i, name in enumerate(names):
            values = np.array([row[i] for row in rows if row[i] is not None])
            if not len(values):
                continue  # no edges are asked of a column without values
            finite = values[np.isfinite(values)]
            edges = window.edges(name, bins)
            assert edges == (list(np_edges(finite, bins)) if len(finite) else [])
            assert window.distinct_values(name, bins) == len(np.unique(values))
            assert window.bins(name, edges) == list(np_bins(values, np.array(edges)))

    check()


@pytest.mark.parametrize("nullable", [None, "right", "wrong"])
def test_bulk_values_skip_nulls_whatever_the_hint(engine, nullable):
    """70 columns (two NULL masks on PostgreSQL); a wrong "no NULLs" hint is caught."""
    rng = np.random.default_rng(5)
    columns = {}
    for i in range(70):
        values = rng.normal(size=50)
        columns[f"c{i}"] = pa.array([None if i % 3 == 0 and j % 7 == 0 else float(v)
                                     for j, v in enumerate(values)], pa.float64())
    engine.load_arrow(pa.table(columns), "wide")
    hint = {None: None, "right": [i % 3 == 0 for i in range(70)],
            "wrong": [False] * 70}[nullable]
    select = ", ".join(f'CAST("c{i}" AS DOUBLE PRECISION) AS "c{i}"' for i in range(70))
    found = engine.fetch_doubles(f"SELECT {select} FROM {engine.relation('wide')} WHERE :one = 1",
                                 {"one": 1}, hint)
    for i, values in enumerate(found):
        expected = np.array([v for v in columns[f"c{i}"].to_pylist() if v is not None])
        assert values.dtype == np.float64 and list(values) == list(expected)
