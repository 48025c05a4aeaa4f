"""Statistics computed where the data is: each function runs one query over a window.

Python receives only small tables: counts per bin or category, a few order statistics,
one row of aggregates. The exception is KS and Wasserstein, exact only over every value:
``sorted_values`` reads a window's values of those columns in bulk (one query, float64 arrays)
and ``compare_ecdfs`` compares them in numpy. Engines that sort a whole window on one core
(``Engine.quantiles_from_bulk_reads``) have quantile edges computed from such a read too.

Infinite values are ordered values: KS compares them like any other, PSI bins put them in the
outer bins (edges are quantiles of the finite values). Moments leave them out: Wasserstein
is measured over the finite values only, and says how many it left out.

Every numeric value is compared as DOUBLE PRECISION (``CAST(... AS DOUBLE PRECISION)``), the
type numpy uses in the reference implementations, so bins and ECDFs agree exactly.

Queries are canonical SQL with named parameters (``query.py``); the engine renders them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurekit.monitoring.query import Sql, doubles, join, value
from featurekit.monitoring.query import rows as _fetch
from featurekit.state import as_naive_utc

if TYPE_CHECKING:
    import numpy as np

    from featurekit.engines.base import Engine

DOUBLE = "DOUBLE PRECISION"
INF = float("inf")
#: values a bulk read holds in memory at once (``batches``): 40M doubles = 320 MB, e.g. 20
#: columns of two million-row windows
VALUES_PER_BATCH = 40_000_000


@dataclass(frozen=True)
class Summary:
    """One column over one window: rows, non-null values and, for numbers, moments."""

    rows: int
    count: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None  # population standard deviation (numpy's default, ddof=0)
    finite: int | None = None  # non-null values that are neither infinite nor NaN

    @property
    def nulls(self) -> int:
        return self.rows - self.count


def _from(window: Sql) -> Sql:
    return " FROM (" + window + ") AS w"


def _num(engine: Engine, column: str) -> str:
    return f"CAST({engine.quote(column)} AS {DOUBLE})"


def _columns_of(engine: Engine, window: Sql, numeric: Sequence[str],
                other: Sequence[str] = ()) -> Sql:
    """`` FROM`` the window's ``numeric`` columns as DOUBLE PRECISION, named ``n0, n1, ...``,
    and ``other`` columns as they are, ``o0, o1, ...``.

    Each value is cast once, and a query with an aggregate per column and bin names each
    column in a few characters: its text is parsed and rendered for the engine once per run.
    """
    select = [f"{_num(engine, c)} AS n{i}" for i, c in enumerate(numeric)]
    select += [f"{engine.quote(c)} AS o{i}" for i, c in enumerate(other)]
    if not select:
        return _from(window)
    return f" FROM (SELECT {', '.join(select)}" + _from(window) + ") AS c"


def _groups(engine: Engine, columns: Sequence[str]) -> list[list[str]]:
    """``columns`` in groups of ``engine.aggregate_columns_per_query`` (one group if None).

    >>> from featurekit.engines.base import Engine
    >>> class Narrow(Engine): aggregate_columns_per_query = 2
    >>> _groups(Narrow.__new__(Narrow), ["a", "b", "c"])
    [['a', 'b'], ['c']]
    """
    size = engine.aggregate_columns_per_query or max(len(columns), 1)
    return [list(columns[i:i + size]) for i in range(0, len(columns), size)]


def summaries(engine: Engine, window: Sql, numeric: Sequence[str],
              other: Sequence[str] = ()) -> tuple[int, dict[str, Summary]]:
    """Row count and, per column, non-null count (+ min/max/mean/std for numeric columns).

    One scan of the window for every column (one per group of columns on an engine with
    ``aggregate_columns_per_query``).
    """
    groups: list[tuple[list[str], list[str]]] = [(list(numeric), list(other))]
    if engine.aggregate_columns_per_query:  # groups of one shape each: numeric or other
        groups = [(group, []) for group in _groups(engine, numeric)]
        groups += [([], group) for group in _groups(engine, other)]
    rows, out = 0, {}
    for group_numeric, group_other in groups or [([], [])]:
        rows, found = _summaries(engine, window, group_numeric, group_other)
        out.update(found)
    return rows, out


def _summaries(engine: Engine, window: Sql, numeric: Sequence[str],
               other: Sequence[str]) -> tuple[int, dict[str, Summary]]:
    parts: list[Sql | str] = ["count(*)"]
    inf = value(INF)
    for i in range(len(numeric)):
        v = f"n{i}"
        parts += [f"count({v})", f"min({v})", f"max({v})", f"avg({v})", f"stddev_pop({v})",
                  f"count(CASE WHEN abs({v}) < " + inf + " THEN 1 END)"]
    parts += [f"count(o{i})" for i in range(len(other))]
    row = _fetch(engine, "SELECT " + join(parts) + _columns_of(engine, window, numeric, other))[0]
    rows, out, i = int(row[0]), {}, 1
    for column in numeric:
        count, low, high, mean, std, finite = row[i:i + 6]
        out[column] = Summary(rows, int(count), _float(low), _float(high), _float(mean),
                              _float(std), int(finite))
        i += 6
    for column in other:
        out[column] = Summary(rows, int(row[i]))
        i += 1
    return rows, out


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def quantile_levels(bins: int) -> list[float]:
    """The quantile levels whose values are the inner bin edges.

    >>> quantile_levels(4)
    [0.25, 0.5, 0.75]
    """
    return [i / bins for i in range(1, bins)]


def quantiles(engine: Engine, window: Sql, column: str, count: int,
              levels: Sequence[float]) -> list[float]:
    """numpy's ``quantile(values, levels, method='linear')`` of the non-null values.

    The engine returns only the order statistics numpy's formula reads (one sort of the
    column); the interpolation is numpy's own arithmetic, so the edges are bit-identical.
    ``count`` is the column's non-null count in the window.
    """
    return quantiles_and_distinct(engine, window, column, count, levels)[0]


def quantiles_and_distinct(engine: Engine, window: Sql, column: str, count: int,
                           levels: Sequence[float],
                           finite: int | None = None) -> tuple[list[float], int]:
    """``quantiles`` of the finite values and the number of distinct non-null values.

    ``finite`` (default ``count``) is the number of finite values: infinities and NaN are
    left out of the quantiles (they fall in the outer bins) and counted as distinct values.
    The distinct count is the ``dense_rank`` of the largest value in the same sort, so it
    costs no extra scan and no hash table per column (unlike ``count(DISTINCT ...)``).
    """
    finite = count if finite is None else finite
    v, c = _num(engine, column), engine.quote(column)
    other = 0
    if finite < count:
        other = int(_fetch(engine, f"SELECT count(DISTINCT {v})" + _from(window)
                           + f" WHERE {c} IS NOT NULL AND NOT abs({v}) < " + value(INF))[0][0])
    if finite == 0:
        return [], other
    positions = _positions(finite, levels)
    where = Sql(f" WHERE {c} IS NOT NULL") + (f" AND abs({v}) < " + value(INF)
                                              if finite < count else "")
    query = (
        "SELECT pos, v, d FROM (SELECT v, row_number() OVER (ORDER BY v) - 1 AS pos, "
        "dense_rank() OVER (ORDER BY v) AS d FROM ("
        f"SELECT {v} AS v" + _from(window) + where + ") AS s) AS r "
        "WHERE pos IN (" + join([value(p) for p in positions]) + ")"
    )
    found = _fetch(engine, query)
    at = {int(pos): float(value) for pos, value, _ in found}
    distinct = max((int(d) for pos, _, d in found if int(pos) == finite - 1), default=0)
    return _interpolate(finite, levels, at.__getitem__), distinct + other


def _positions(count: int, levels: Sequence[float]) -> list[int]:
    """The order statistics (0-based) numpy's linear quantiles of ``count`` values read."""
    previous, following, _ = _virtual(count, levels)
    return sorted({int(p) for p in (*previous, *following, count - 1)})


def _virtual(count: int, levels: Sequence[float]) -> tuple[Any, Any, Any]:
    import numpy as np

    virtual = (count - 1) * np.asarray(levels, dtype=np.float64)
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= count - 1
    previous[above] = count - 1
    following[above] = count - 1
    return previous, following, virtual - previous


def _interpolate(count: int, levels: Sequence[float], value_at: Any) -> list[float]:
    """numpy's linear quantiles from the order statistics (``value_at(position)``)."""
    import numpy as np

    previous, following, gamma = _virtual(count, levels)
    a = np.array([value_at(int(p)) for p in previous], dtype=np.float64)
    b = np.array([value_at(int(p)) for p in following], dtype=np.float64)
    # numpy's _lerp: a + (b-a)*t, and b - (b-a)*(1-t) where t >= 0.5
    diff = b - a
    result = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return [float(x) for x in result]


def bin_counts(engine: Engine, window: Sql,
               edges: dict[str, Sequence[float]]) -> dict[str, list[int]]:
    """Per column, counts of non-null values per bin: bin = number of edges <= value.

    Outer bins are open; a value equal to an edge falls in the upper bin. One scan for all
    columns (one per group of columns on an engine with ``aggregate_columns_per_query``).
    With repeated edges some bins are necessarily empty.
    """
    out: dict[str, list[int]] = {}
    for group in _groups(engine, list(edges)):
        out.update(_bin_counts(engine, window, {column: edges[column] for column in group}))
    return out


def _bin_counts(engine: Engine, window: Sql,
                edges: dict[str, Sequence[float]]) -> dict[str, list[int]]:
    parts: list[Sql | str] = []
    for i, column_edges in enumerate(edges.values()):
        v = f"n{i}"
        bounds = [None, *(value(edge) for edge in column_edges), None]  # one value per edge
        for low, high in zip(bounds[:-1], bounds[1:]):
            conditions: list[Sql | str] = []
            if low is not None:
                conditions.append(f"{v} >= " + low)
            if high is not None:
                conditions.append(f"{v} < " + high)
            if not conditions:
                conditions.append(f"{v} IS NOT NULL")
            parts.append("count(CASE WHEN " + join(conditions, " AND ") + " THEN 1 END)")
    if not parts:
        return {}
    row = _fetch(engine, "SELECT " + join(parts) + _columns_of(engine, window, list(edges)))[0]
    out, i = {}, 0
    for column, column_edges in edges.items():
        size = len(column_edges) + 1
        out[column] = [int(x or 0) for x in row[i:i + size]]
        i += size
    return out


def category_counts(engine: Engine, window: Sql, column: str,
                    numeric: bool = False) -> dict[str, int]:
    """Non-null values of a column (as text) and how often each occurs.

    A ``numeric`` column is grouped as DOUBLE PRECISION and labelled in Python
    (``number_label``), so both engines and both column types (``1``, ``1.0``) give the same
    categories: engines print numbers as text differently (DuckDB ``1.0``, PostgreSQL ``1``).
    """
    return categories_of(engine, window, {column: numeric})[column]


def categories_of(engine: Engine, window: Sql,
                  columns: dict[str, bool]) -> dict[str, dict[str, int]]:
    """``category_counts`` of several columns (name -> numeric) in one scan: GROUPING SETS."""
    if not columns:
        return {}
    keys = [_num(engine, c) if numeric else f"CAST({engine.quote(c)} AS TEXT)"
            for c, numeric in columns.items()]
    names = [f"k{i}" for i in range(len(keys))]
    query = (
        f"SELECT {', '.join(f'GROUPING({k})' for k in names)}, {', '.join(names)}, count(*) "
        f"FROM (SELECT {', '.join(f'{k} AS {n}' for k, n in zip(keys, names))}"
        + _from(window) + f") AS g GROUP BY GROUPING SETS ({', '.join(f'({n})' for n in names)})"
    )
    out: dict[str, dict[str, int]] = {c: {} for c in columns}
    size = len(names)
    for row in _fetch(engine, query):
        i = list(row[:size]).index(0)  # the one column this row is grouped by
        key, n = row[size + i], int(row[-1])
        if key is None:
            continue  # the NULL group
        column = list(columns)[i]
        label = number_label(float(key)) if columns[column] else str(key)
        # an engine may group 0.0 and -0.0 apart: one category
        out[column][label] = out[column].get(label, 0) + n
    return out


def number_label(value: float) -> str:
    """A number as a category: whole numbers without a decimal point, others exactly.

    >>> number_label(1.0), number_label(0.25), number_label(-3.0)
    ('1', '0.25', '-3')
    """
    if value == 0:
        return "0"  # 0.0 and -0.0 are one value
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def batches(columns: Sequence[str], rows: int) -> list[list[str]]:
    """``columns`` in batches of at most ``VALUES_PER_BATCH`` values, ``rows`` values a column.

    >>> batches(["a", "b", "c"], VALUES_PER_BATCH // 2)
    [['a', 'b'], ['c']]
    """
    size = max(1, VALUES_PER_BATCH // max(rows, 1))
    return [list(columns[i:i + size]) for i in range(0, len(columns), size)]


def sorted_values(engine: Engine, window: Sql, columns: Sequence[str],
                  nullable: Sequence[bool] | None = None) -> dict[str, np.ndarray]:
    """Each column's non-null values as DOUBLE PRECISION, sorted: one bulk read of the window.

    KS and Wasserstein are exact only over every value; the engine sends them as float64
    arrays (DuckDB: Arrow; PostgreSQL: binary COPY), never a Python object per value.
    ``nullable`` says which columns may hold NULLs, when known (a hint for the engine).
    """
    import numpy as np

    if not columns:
        return {}
    select = ", ".join(f"{_num(engine, c)} AS {engine.quote(c)}" for c in columns)
    found = doubles(engine, "SELECT " + select + _from(window), nullable)

    def ordered(values: np.ndarray) -> np.ndarray:
        if values.flags.writeable:
            values.sort()
            return values
        return np.sort(values)  # a read-only view of the engine's buffer

    # numpy sorts without the GIL: one column per core
    with ThreadPoolExecutor(max(1, min(len(found), os.cpu_count() or 1))) as pool:
        return dict(zip(columns, pool.map(ordered, found)))


@dataclass(frozen=True)
class Ecdf:
    """Exact comparison of two empirical CDFs (reference F, current G) over their values."""

    ks: float  # max |F - G| over every value, identical to scipy.stats.ks_2samp's statistic
    wasserstein: float  # integral |F - G| dx over the finite values (scipy's distance)
    n_ref: int
    n_cur: int
    ref_std: float  # population standard deviation of the reference's finite values
    left_out: tuple[int, int] = (0, 0)  # non-finite values Wasserstein left out (ref, cur)


def compare_ecdfs(reference: np.ndarray, current: np.ndarray) -> Ecdf:
    """KS statistic and 1-D Wasserstein distance of two sorted samples, exactly.

    Both ECDFs are evaluated at every distinct value of either sample from integer counts
    (values <= v); the KS difference at each is ``ca/n - cb/m`` as scipy computes it, so the
    maximum is bit-identical to ``scipy.stats.ks_2samp``'s. Wasserstein sums |F - G| times the
    gap to the next value (``scipy.stats.wasserstein_distance``) over the finite values: an
    infinite value would make every distance infinite.

    >>> import numpy as np
    >>> e = compare_ecdfs(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    >>> round(e.ks, 4), e.wasserstein
    (0.3333, 1.0)
    """
    import numpy as np

    n, m = len(reference), len(current)
    if not n or not m:
        return Ecdf(0.0, 0.0, n, m, 0.0)
    values, ca, cb = _ecdf_counts(reference, current)
    d = ca / n - cb / m
    ks = max(float(d.max()), float(-d.min()), 0.0)
    ref, cur = _finite(reference), _finite(current)
    if len(ref) < n or len(cur) < m:
        if not len(ref) or not len(cur):
            return Ecdf(ks, float("nan"), n, m, float("nan"), (n - len(ref), m - len(cur)))
        values, ca, cb = _ecdf_counts(ref, cur)
        d = ca / len(ref) - cb / len(cur)
    distance = float(np.sum(np.abs(d[:-1]) * np.diff(values)))
    return Ecdf(ks, distance, n, m, float(np.std(ref)), (n - len(ref), m - len(cur)))


def _finite(values: np.ndarray) -> np.ndarray:
    """The finite part of a sorted array (-inf first; +inf, then NaN, last)."""
    import numpy as np

    if not len(values) or (values[0] > -INF and values[-1] < INF):
        return values
    low = np.searchsorted(values, -INF, side="right")
    high = np.searchsorted(values, INF, side="left")
    return values[low:high]


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sorted array's distinct values and, for each, how many values are <= it."""
    import numpy as np

    last = np.empty(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=last[:-1])
    if len(values) and np.isnan(values[-1]):  # NaN sorts last; the engines count it once
        last[:-1] &= ~(np.isnan(values[1:]) & np.isnan(values[:-1]))
    last[-1:] = True
    index = np.flatnonzero(last)
    return values[index], index + 1


def _ecdf_counts(reference: np.ndarray,
                 current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of two sorted samples' values, with each sample's count of values <= it."""
    import numpy as np

    ref_values, ref_counts = _distinct(reference)
    cur_values, cur_counts = _distinct(current)
    both = np.concatenate([ref_values, cur_values])
    order = np.argsort(both, kind="stable")  # two sorted runs: a linear merge
    both = both[order]
    seen_ref = np.cumsum(order < len(ref_values))  # reference values merged so far
    seen_cur = np.arange(1, len(order) + 1) - seen_ref
    ca = np.concatenate([[0], ref_counts])[seen_ref]
    cb = np.concatenate([[0], cur_counts])[seen_cur]
    # a value in both samples appears twice in a row: its counts are those of the second
    values, last = _distinct(both)
    return values, ca[last - 1], cb[last - 1]


def ecdf(engine: Engine, reference: Sql, current: Sql, column: str) -> Ecdf:
    """``compare_ecdfs`` of one column of two windows."""
    ref = sorted_values(engine, reference, [column])[column]
    return compare_ecdfs(ref, sorted_values(engine, current, [column])[column])


def edges_and_distinct(values: np.ndarray, levels: Sequence[float]) -> tuple[list[float], int]:
    """``quantiles_and_distinct`` from a window's sorted values, read for an ECDF test."""
    finite = _finite(values)
    edges = _interpolate(len(finite), levels, finite.__getitem__) if len(finite) else []
    return edges, len(_distinct(values)[0])


def sorted_bin_counts(values: np.ndarray, edges: Sequence[float]) -> list[int]:
    """``bin_counts`` from a window's sorted values: bin = number of edges <= value."""
    import numpy as np

    below = np.searchsorted(values, np.asarray(edges, dtype=np.float64), side="left")
    return [int(x) for x in np.diff([0, *below, len(values)])]


def outside_share(engine: Engine, window: Sql, column: str, low: float | None,
                  high: float | None) -> tuple[int, int]:
    """(values outside [low, high], non-null values)."""
    v = _num(engine, column)
    conditions: list[Sql | str] = []
    if low is not None:
        conditions.append(f"{v} < " + value(float(low)))
    if high is not None:
        conditions.append(f"{v} > " + value(float(high)))
    test = join(conditions, " OR ") if conditions else "1 = 0"
    query = ("SELECT sum(CASE WHEN " + test
             + f" THEN 1 ELSE 0 END), count({engine.quote(column)})" + _from(window))
    outside, count = _fetch(engine, query)[0]
    return int(outside or 0), int(count)


def not_accepted(engine: Engine, window: Sql, column: str,
                 values: Sequence[Any]) -> tuple[int, int]:
    """(non-null values not in ``values``, non-null values); compared as text."""
    k = f"CAST({engine.quote(column)} AS TEXT)"
    accepted = join([value(_as_text(x)) for x in values])
    query = (f"SELECT sum(CASE WHEN {k} NOT IN (" + accepted
             + f") THEN 1 ELSE 0 END), count({engine.quote(column)})" + _from(window))
    bad, count = _fetch(engine, query)[0]
    return int(bad or 0), int(count)


def _as_text(value: Any) -> str:
    """How the engines print a value cast to text (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def duplicates(engine: Engine, window: Sql, columns: Sequence[str]) -> tuple[int, int]:
    """(rows that repeat an earlier key, rows with a non-null key)."""
    keys = ", ".join(engine.quote(c) for c in columns)
    present = " AND ".join(f"{engine.quote(c)} IS NOT NULL" for c in columns)
    query = ("SELECT sum(n - 1), sum(n) FROM (SELECT count(*) AS n" + _from(window)
             + f" WHERE {present} GROUP BY {keys}) AS k")
    extra, total = _fetch(engine, query)[0]
    return int(extra or 0), int(total or 0)


def newest(engine: Engine, window: Sql, timestamp: str) -> datetime | None:
    """The greatest timestamp in the window, as naive UTC."""
    value = _fetch(engine, f"SELECT max({engine.quote(timestamp)})" + _from(window))[0][0]
    return as_naive_utc(value)



def outcome_pairs(engine: Engine, window: Sql, label: str,
                  score: str) -> tuple[list[float], list[float], list[int]]:
    """Distinct (label, score) pairs with their counts, rows with both present.

    scikit-learn's metrics with these counts as ``sample_weight`` equal the metrics on the
    raw rows, without pulling the rows.
    """
    y, s = _num(engine, label), _num(engine, score)
    query = (f"SELECT {y}, {s}, count(*)" + _from(window)
             + f" WHERE {engine.quote(label)} IS NOT NULL AND {engine.quote(score)} IS NOT NULL"
             + f" GROUP BY {y}, {s}")
    rows = _fetch(engine, query)
    return [float(r[0]) for r in rows], [float(r[1]) for r in rows], [int(r[2]) for r in rows]



#: points on the report's ROC curve: scores are cut into this many equal-count groups
ROC_POINTS = 200


def score_counts(engine: Engine, window: Sql, label: str, score: str,
                 threshold: float) -> list[tuple[int, bool, bool, int]]:
    """Rows per (score group, score >= threshold, label = 1): the counts behind the ROC
    curve and the confusion matrix, over rows with both present.

    Groups are ``ntile(ROC_POINTS)`` over the score order (group 1 has the lowest scores),
    so the curve gets a point per group however the scores are spread; a run of tied scores
    that straddles two groups puts a point on the straight segment ties give anyway. The
    confusion matrix compares each score with ``threshold`` itself.
    """
    y, s = _num(engine, label), _num(engine, score)
    inner = (f"SELECT ntile({ROC_POINTS}) OVER (ORDER BY {s}) AS g, "
             f"({s} >= " + value(float(threshold)) + f") AS p, ({y} = 1) AS a" + _from(window)
             + f" WHERE {engine.quote(label)} IS NOT NULL AND {engine.quote(score)} IS NOT NULL")
    query = "SELECT g, p, a, count(*) FROM (" + inner + ") AS r GROUP BY g, p, a"
    return [(int(g), bool(p), bool(a), int(n)) for g, p, a, n in _fetch(engine, query)]
