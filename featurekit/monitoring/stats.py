"""Statistics computed where the data is: each function runs one query over a window.

Python receives only small tables: counts per bin or category, a few order statistics,
one row of aggregates. The single exception is ``raw_values``, used for scipy's exact KS test
on windows of at most 10,000 rows.

Every numeric value is compared as DOUBLE PRECISION (``CAST(... AS DOUBLE PRECISION)``), the
type numpy uses in the reference implementations, so bins and ECDFs agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurekit.monitoring.query import Sql, join
from featurekit.state import as_naive_utc

if TYPE_CHECKING:
    from featurekit.engines.base import Engine

DOUBLE = "DOUBLE PRECISION"


@dataclass(frozen=True)
class Summary:
    """One column over one window: rows, non-null values and, for numbers, moments."""

    rows: int
    count: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None  # population standard deviation (numpy's default, ddof=0)

    @property
    def nulls(self) -> int:
        return self.rows - self.count


def _from(window: Sql) -> Sql:
    return " FROM (" + window + ") AS w"


def _num(engine: Engine, column: str) -> str:
    return f"CAST({engine.quote(column)} AS {DOUBLE})"


def _fetch(engine: Engine, query: Sql) -> list[tuple]:
    return engine.fetchall(query.text, list(query.params) or None)


def summaries(engine: Engine, window: Sql, numeric: Sequence[str],
              other: Sequence[str] = ()) -> tuple[int, dict[str, Summary]]:
    """Row count and, per column, non-null count (+ min/max/mean/std for numeric columns).

    One scan of the window for every column.
    """
    parts = ["count(*)"]
    for column in numeric:
        v = _num(engine, column)
        parts += [f"count({engine.quote(column)})", f"min({v})", f"max({v})", f"avg({v})",
                  f"stddev_pop({v})"]
    for column in other:
        parts.append(f"count({engine.quote(column)})")
    row = _fetch(engine, "SELECT " + ", ".join(parts) + _from(window))[0]
    rows, out, i = int(row[0]), {}, 1
    for column in numeric:
        count, low, high, mean, std = row[i:i + 5]
        out[column] = Summary(rows, int(count), _float(low), _float(high), _float(mean),
                              _float(std))
        i += 5
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
                           levels: Sequence[float]) -> tuple[list[float], int]:
    """``quantiles`` and the number of distinct non-null values (as DOUBLE PRECISION).

    The count is the ``dense_rank`` of the largest value in the same sort, so it costs no
    extra scan and no hash table per column (unlike ``count(DISTINCT ...)``).
    """
    import numpy as np

    q = np.asarray(levels, dtype=np.float64)
    virtual = (count - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= count - 1
    previous[above] = count - 1
    following[above] = count - 1
    positions = sorted({int(p) for p in (*previous, *following, count - 1)})
    v, c = _num(engine, column), engine.quote(column)
    query = (
        "SELECT pos, v, d FROM (SELECT v, row_number() OVER (ORDER BY v) - 1 AS pos, "
        "dense_rank() OVER (ORDER BY v) AS d FROM ("
        f"SELECT {v} AS v" + _from(window) + f" WHERE {c} IS NOT NULL) AS s) AS r "
        "WHERE pos IN (" + join([Sql("?", (p,)) for p in positions]) + ")"
    )
    found = _fetch(engine, query)
    at = {int(pos): float(value) for pos, value, _ in found}
    distinct = max((int(d) for pos, _, d in found if int(pos) == count - 1), default=0)
    a = np.array([at[int(p)] for p in previous], dtype=np.float64)
    b = np.array([at[int(p)] for p in following], dtype=np.float64)
    gamma = virtual - previous
    # numpy's _lerp: a + (b-a)*t, and b - (b-a)*(1-t) where t >= 0.5
    diff = b - a
    result = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return [float(x) for x in result], distinct


def bin_counts(engine: Engine, window: Sql,
               edges: dict[str, Sequence[float]]) -> dict[str, list[int]]:
    """Per column, counts of non-null values per bin: bin = number of edges <= value.

    Outer bins are open; a value equal to an edge falls in the upper bin. One scan for all
    columns. With repeated edges some bins are necessarily empty.
    """
    parts: list[Sql | str] = []
    for column, column_edges in edges.items():
        v = _num(engine, column)
        bounds = [None, *column_edges, None]
        for low, high in zip(bounds[:-1], bounds[1:]):
            conditions, params = [], []
            if low is not None:
                conditions.append(f"{v} >= ?")
                params.append(low)
            if high is not None:
                conditions.append(f"{v} < ?")
                params.append(high)
            if not conditions:
                conditions.append(f"{v} IS NOT NULL")
            parts.append(Sql(f"sum(CASE WHEN {' AND '.join(conditions)} THEN 1 ELSE 0 END)",
                             tuple(params)))
    if not parts:
        return {}
    row = _fetch(engine, "SELECT " + join(parts) + _from(window))[0]
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
    if numeric:
        v = _num(engine, column)
        query = (f"SELECT {v}, count(*)" + _from(window)
                 + f" WHERE {engine.quote(column)} IS NOT NULL GROUP BY {v}")
        out: dict[str, int] = {}
        for key, n in _fetch(engine, query):  # an engine may group 0.0 and -0.0 apart
            label = number_label(float(key))
            out[label] = out.get(label, 0) + int(n)
        return out
    k = f"CAST({engine.quote(column)} AS VARCHAR)"
    query = (f"SELECT {k}, count(*)" + _from(window)
             + f" WHERE {engine.quote(column)} IS NOT NULL GROUP BY {k}")
    return {str(key): int(n) for key, n in _fetch(engine, query)}


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


@dataclass(frozen=True)
class Ecdf:
    """Exact comparison of two empirical CDFs (reference F, current G) over their values."""

    ks: float  # max |F - G|, identical to scipy.stats.ks_2samp's statistic
    wasserstein: float  # integral |F - G| dx, scipy.stats.wasserstein_distance
    n_ref: int
    n_cur: int


def ecdf(engine: Engine, reference: Sql, current: Sql, column: str, n_ref: int,
         n_cur: int) -> Ecdf:
    """KS statistic and 1-D Wasserstein distance from one window-function query.

    ``n_ref`` / ``n_cur`` are the windows' non-null counts. The union of distinct values is
    sorted once; one running sum of ``n_cur`` per reference row and ``-n_ref`` per current row
    gives ``n_ref * n_cur * (F - G)`` exactly (integers), a second the reference count ``ca``.
    At each value the KS difference is then computed as scipy does, ``ca/n - cb/m`` in floating
    point, so the maximum is bit-identical to ``scipy.stats.ks_2samp``'s.
    """
    v, c = _num(engine, column), engine.quote(column)
    running = "ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    cb_times_n = f"CAST(ca * ? - cum AS {DOUBLE})"  # = cb * n_ref, exact below 2**53
    query = (
        Sql(f"WITH u AS (SELECT {v} AS v, ? AS a, 1 AS r", (n_cur,)) + _from(reference)
        + Sql(f" WHERE {c} IS NOT NULL UNION ALL SELECT {v} AS v, ? AS a, 0 AS r", (-n_ref,))
        + _from(current) + f" WHERE {c} IS NOT NULL), "
        "g AS (SELECT v, CAST(sum(a) AS BIGINT) AS d, CAST(sum(r) AS BIGINT) AS r "
        "FROM u GROUP BY v), "
        f"e AS (SELECT v, sum(d) OVER ({running}) AS cum, sum(r) OVER ({running}) AS ca, "
        "lead(v) OVER (ORDER BY v) AS nv FROM g) "
        + Sql(f"SELECT max(abs(CAST(ca AS {DOUBLE}) / CAST(? AS {DOUBLE}) - {cb_times_n} "
              f"/ CAST(? AS {DOUBLE}) / CAST(? AS {DOUBLE}))), "
              f"sum(abs(CAST(cum AS {DOUBLE})) * (nv - v)) FROM e",
              (n_ref, n_cur, n_ref, n_cur))
    )
    ks, area = _fetch(engine, query)[0]
    distance = float(area or 0.0) / (float(n_ref) * float(n_cur)) if n_ref and n_cur else 0.0
    return Ecdf(float(ks or 0.0), distance, n_ref, n_cur)


def raw_values(engine: Engine, window: Sql, column: str) -> list[float]:
    """The non-null values of a column (only for small windows: scipy's exact KS test)."""
    v, c = _num(engine, column), engine.quote(column)
    return [float(r[0]) for r in _fetch(engine, f"SELECT {v}" + _from(window)
                                        + f" WHERE {c} IS NOT NULL")]


def outside_share(engine: Engine, window: Sql, column: str, low: float | None,
                  high: float | None) -> tuple[int, int]:
    """(values outside [low, high], non-null values)."""
    v = _num(engine, column)
    conditions, params = [], []
    if low is not None:
        conditions.append(f"{v} < ?")
        params.append(float(low))
    if high is not None:
        conditions.append(f"{v} > ?")
        params.append(float(high))
    test = " OR ".join(conditions) or "1 = 0"
    query = Sql(f"SELECT sum(CASE WHEN {test} THEN 1 ELSE 0 END), count({engine.quote(column)})",
                tuple(params)) + _from(window)
    outside, count = _fetch(engine, query)[0]
    return int(outside or 0), int(count)


def not_accepted(engine: Engine, window: Sql, column: str,
                 values: Sequence[Any]) -> tuple[int, int]:
    """(non-null values not in ``values``, non-null values); compared as text."""
    k = f"CAST({engine.quote(column)} AS VARCHAR)"
    accepted = join([Sql("?", (_as_text(value),)) for value in values])
    query = ("SELECT sum(CASE WHEN " + Sql(f"{k} NOT IN (") + accepted
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
             f"({s} >= {float(threshold)!r}) AS p, ({y} = 1) AS a" + _from(window)
             + f" WHERE {engine.quote(label)} IS NOT NULL AND {engine.quote(score)} IS NOT NULL")
    query = "SELECT g, p, a, count(*) FROM (" + inner + ") AS r GROUP BY g, p, a"
    return [(int(g), bool(p), bool(a), int(n)) for g, p, a, n in _fetch(engine, query)]
