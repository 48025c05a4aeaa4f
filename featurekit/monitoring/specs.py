"""The catalogue of monitor tests: what each needs, which way is worse, its default thresholds.

A test's ``direction`` says how its statistic turns into a status: ``higher`` means larger is
worse (PSI, null rate, RMSE...), ``lower`` means smaller is worse (p-values, ROC AUC...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

NUMERIC, CATEGORICAL, ANY, TABLE, PERFORMANCE, GROUP = (
    "numeric", "categorical", "any", "table", "performance", "group"
)
HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class TestSpec:
    """How one test is configured and judged."""

    name: str
    #: numeric | categorical | any (a column of either kind) | table | performance | group
    target: str
    direction: str = HIGHER
    warn: float | str | None = None
    error: float | str | None = None
    #: extra keys the check may carry (besides test, column(s), name, warn, error)
    options: frozenset[str] = field(default_factory=frozenset)
    #: the test compares the current window with the reference window
    needs_reference: bool = False
    __test__ = False  # not a pytest class


def _spec(name: str, target: str, direction: str = HIGHER, warn: float | str | None = None,
          error: float | str | None = None, options: tuple[str, ...] = (),
          needs_reference: bool = False) -> TestSpec:
    return TestSpec(name, target, direction, warn, error, frozenset(options), needs_reference)


_PERF = ("label", "score", "prediction", "threshold")

TESTS: dict[str, TestSpec] = {
    spec.name: spec
    for spec in (
        # drift: current vs reference
        _spec("psi", ANY, HIGHER, 0.1, 0.25, ("bins",), needs_reference=True),
        _spec("ks", NUMERIC, LOWER, 0.05, 0.01, needs_reference=True),
        _spec("wasserstein", NUMERIC, HIGHER, 0.1, 0.2, needs_reference=True),
        _spec("jensen_shannon", ANY, HIGHER, 0.1, 0.2, ("bins",), needs_reference=True),
        _spec("chi2", CATEGORICAL, LOWER, 0.05, 0.01, needs_reference=True),
        _spec("l_infinity", CATEGORICAL, HIGHER, 0.1, 0.2, needs_reference=True),
        _spec("drift", GROUP, HIGHER, None, None,
              ("exclude", "numeric_test", "categorical_test", "share_warn", "share_error",
               "bins", "categorical_max_distinct"), needs_reference=True),
        # data quality
        _spec("null_rate", ANY, HIGHER, 0.01, 0.05),
        _spec("range", NUMERIC, HIGHER, 0.01, 0.05, ("min", "max")),
        _spec("accepted_values", ANY, HIGHER, None, 0.0, ("values",)),
        _spec("unique", ANY, HIGHER, None, 0.0),
        _spec("row_count", TABLE, LOWER, None, None, ("min", "max")),
        _spec("freshness", TABLE, HIGHER, "1d", "3d"),
        # training-serving skew: served feature values vs the store's, point-in-time
        _spec("skew", TABLE, HIGHER, 0.01, 0.05, ("service", "features", "tolerance",
                                                   "entity_columns", "at", "full_names")),
        # model performance (scikit-learn)
        _spec("roc_auc", PERFORMANCE, LOWER, options=_PERF),
        _spec("accuracy", PERFORMANCE, LOWER, options=_PERF),
        _spec("precision", PERFORMANCE, LOWER, options=_PERF),
        _spec("recall", PERFORMANCE, LOWER, options=_PERF),
        _spec("f1", PERFORMANCE, LOWER, options=_PERF),
        _spec("log_loss", PERFORMANCE, HIGHER, options=_PERF),
        _spec("rmse", PERFORMANCE, HIGHER, options=_PERF),
        _spec("mae", PERFORMANCE, HIGHER, options=_PERF),
    )
}

#: tests a ``test: drift`` group may pick per column
DRIFT_NUMERIC = ("wasserstein", "ks", "psi", "jensen_shannon")
DRIFT_CATEGORICAL = ("jensen_shannon", "chi2", "psi", "l_infinity")
#: PSI for numbers: its reference statistics (quantile edges, bin counts) are stored, so a
#: scheduled run scans only the current window (KS / Wasserstein re-read the reference rows)
DEFAULT_DRIFT = {NUMERIC: "psi", CATEGORICAL: "jensen_shannon"}
#: in a drift group, a numeric column with at most this many distinct non-null values in the
#: reference window is compared as categories (its decile edges would coincide, and PSI on
#: them would be 0 under any shift); ``categorical_max_distinct: N`` overrides it, 0 disables
CATEGORICAL_MAX_DISTINCT = 10
DEFAULT_SHARE_WARN = 0.5
DEFAULT_BINS = 10
