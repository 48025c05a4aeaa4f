"""The tests themselves: pure functions from small count tables to a statistic and a status.

They never see raw rows (except ``ks_exact`` on small windows); ``stats.py`` produced the counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from featurekit.monitoring.specs import HIGHER

OK, WARN, ERROR, NO_DATA = "ok", "warn", "error", "no_data"
SEVERITY = {NO_DATA: 0, OK: 0, WARN: 1, ERROR: 2}
#: a proportion of exactly 0 becomes this before PSI (ln(0) is undefined); non-zero ones,
#: however small, are kept (Evidently's rule)
EMPTY_PROPORTION = 1e-4
#: scipy's ks_2samp(method='auto') uses the exact distribution up to this many rows
EXACT_KS_MAX = 10_000
#: Wasserstein is divided by the reference standard deviation, floored here
STD_FLOOR = 0.001


def status(statistic: float | None, warn: float | None, error: float | None,
           direction: str) -> str:
    """ok / warn / error for a statistic; ``direction`` says whether higher or lower is worse.

    >>> status(0.3, 0.1, 0.25, "higher"), status(0.03, 0.05, 0.01, "lower")
    ('error', 'warn')
    """
    if statistic is None or (isinstance(statistic, float) and math.isnan(statistic)):
        return NO_DATA

    def crossed(threshold: float | None) -> bool:
        if threshold is None:
            return False
        return statistic > threshold if direction == HIGHER else statistic < threshold

    if crossed(error):
        return ERROR
    if crossed(warn):
        return WARN
    return OK


def proportions(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [c / total for c in counts] if total else [0.0 for _ in counts]


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index over aligned bin counts; an empty bin's share is 1e-4.

    >>> round(psi([50, 50], [50, 50]), 12)
    0.0
    >>> round(psi([90, 10], [50, 50]), 4)
    0.8789
    >>> round(psi([26_864, 1], [26_865, 0]), 7)  # 1/26,865 < 1e-4 is kept, not raised to it
    6.2e-05
    """
    ref = [p or EMPTY_PROPORTION for p in proportions(reference)]
    cur = [p or EMPTY_PROPORTION for p in proportions(current)]
    return float(sum((c - r) * math.log(c / r) for r, c in zip(ref, cur)))


def jensen_shannon(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2 (0 = same, 1 = disjoint).

    scipy.spatial.distance.jensenshannon's arithmetic in numpy (importing scipy.spatial
    costs ~70 MB of memory, more than the whole drift computation).

    >>> jensen_shannon([1, 0], [0, 1]), jensen_shannon([3, 1], [6, 2])
    (1.0, 0.0)
    """
    import numpy as np

    p = np.asarray(reference, dtype=np.float64)
    q = np.asarray(current, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0

    def rel_entr(x: Any, y: Any) -> Any:  # x*log(x/y), 0 where x == 0
        out = np.zeros_like(x)
        np.multiply(x, np.log(x / y, where=x > 0, out=np.zeros_like(x)), out=out, where=x > 0)
        return out

    js = (np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / np.log(2.0)
    return float(np.sqrt(max(js, 0.0) / 2.0))


def l_infinity(reference: Sequence[float], current: Sequence[float]) -> float:
    """The largest absolute difference between the two windows' proportions.

    >>> l_infinity([50, 50, 0], [40, 40, 20])
    0.2
    """
    return float(max(abs(r - c) for r, c in zip(proportions(reference), proportions(current))))


def chi2(reference: Sequence[float], current: Sequence[float]) -> tuple[float, float]:
    """scipy's chi2_contingency on the 2 x K table (statistic, p-value)."""
    from scipy.stats import chi2_contingency

    if len(reference) < 2:  # one category in both windows: nothing can differ
        return 0.0, 1.0
    result = chi2_contingency([list(reference), list(current)])
    return float(result.statistic), float(result.pvalue)


def ks_asymptotic_pvalue(d: float, n_ref: int, n_cur: int) -> float:
    """scipy's two-sided asymptotic p-value for ks_2samp: kstwo.sf(D, round(n·m/(n+m)))."""
    import numpy as np
    from scipy.stats import kstwo

    return float(kstwo.sf(d, np.round(n_ref * n_cur / (n_ref + n_cur))))


def ks_exact(reference: Sequence[float], current: Sequence[float]) -> tuple[float, float]:
    """scipy's ks_2samp(method='auto') on raw values (small windows only)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current, method="auto")
    return float(result.statistic), float(result.pvalue)


def normed_wasserstein(distance: float, reference_std: float | None) -> float:
    """Wasserstein distance in units of the reference standard deviation (floor 0.001).

    >>> normed_wasserstein(0.5, 2.0), normed_wasserstein(0.5, 0.0)
    (0.25, 500.0)
    """
    return distance / max(reference_std or 0.0, STD_FLOOR)


def aligned(reference: Mapping[str, int], current: Mapping[str, int]) -> tuple[
        list[str], list[int], list[int]]:
    """Categories of both windows (sorted) with each window's counts; unseen count as zero.

    >>> aligned({"a": 2, "b": 1}, {"b": 3, "c": 1})
    (['a', 'b', 'c'], [2, 1, 0], [0, 3, 1])
    """
    keys = sorted(set(reference) | set(current))
    return keys, [reference.get(k, 0) for k in keys], [current.get(k, 0) for k in keys]


def performance(test: str, labels: Sequence[float], scores: Sequence[float],
                weights: Sequence[int], threshold: float, scored: bool) -> float | None:
    """A scikit-learn metric over grouped (label, score) pairs weighted by their counts.

    ``scored``: the score column is a probability (binarized at ``threshold`` for class
    metrics); otherwise it already holds the predicted class / value. None when undefined
    (e.g. ROC AUC with one class only).
    """
    import numpy as np
    from sklearn import metrics

    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if test == "rmse":
        return float(math.sqrt(metrics.mean_squared_error(y, s, sample_weight=w)))
    if test == "mae":
        return float(metrics.mean_absolute_error(y, s, sample_weight=w))
    if test == "roc_auc":
        if len(set(y.tolist())) < 2:
            return None
        return float(metrics.roc_auc_score(y, s, sample_weight=w))
    if test == "log_loss":
        if len(set(y.tolist())) < 2:
            return None
        return float(metrics.log_loss(y, s, sample_weight=w, labels=[0, 1]))
    predicted = (s >= threshold).astype(np.float64) if scored else s
    kwargs: dict[str, Any] = {"sample_weight": w}
    if test == "accuracy":
        return float(metrics.accuracy_score(y, predicted, **kwargs))
    function = {"precision": metrics.precision_score, "recall": metrics.recall_score,
                "f1": metrics.f1_score}[test]
    return float(function(y, predicted, zero_division=0, **kwargs))
