"""One window's statistics, computed on demand and cached; a fixed reference is stored.

A scheduled run of a monitor with a fixed reference (``{start, end}`` or ``{table}``) reads the
reference's summaries, quantile edges, bin counts and category counts from
``monitor_references`` instead of scanning it again. The key is a hash of everything that
defines the reference rows (source, timestamp column, window, target schema) and the column.
KS and Wasserstein compare exact ECDFs and still read the reference rows (see
``stats.sorted_values``); the sorted values then give the edges and bin counts too.
The number of distinct values of a numeric column comes with its quantile edges (the same sort)
and is stored with them: drift groups compare a column with few of them as categories.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from featurekit.monitoring import stats
from featurekit.monitoring.stats import Summary

if TYPE_CHECKING:
    import numpy as np

    from featurekit.engines.base import Engine
    from featurekit.monitoring.query import Sql
    from featurekit.monitoring.results import References


class WindowStats:
    """Lazily computed statistics of the rows of one window."""

    def __init__(self, engine: Engine, sql: Sql, kinds: dict[str, str]):
        self.engine = engine
        self.sql = sql
        self.kinds = kinds
        self._rows: int | None = None
        self._summaries: dict[str, Summary] = {}
        self._categories: dict[str, dict[str, int]] = {}
        self._edges: dict[tuple[str, int], list[float]] = {}
        self._distinct: dict[str, int] = {}
        self._bins: dict[tuple[str, tuple[float, ...]], list[int]] = {}

    # -- batched prefetch: one scan for many columns ------------------------------------
    def prefetch(self, columns: Sequence[str]) -> None:
        """Compute the summaries of every given column not known yet, in one query."""
        wanted = [c for c in dict.fromkeys(columns) if c not in self._summaries]
        if not wanted and self._rows is not None:
            return
        numeric = [c for c in wanted if self.kinds.get(c) == "numeric"]
        other = [c for c in wanted if c not in numeric]
        rows, found = stats.summaries(self.engine, self.sql, numeric, other)
        self._rows = rows
        self._summaries.update(found)

    def prefetch_categories(self, columns: Sequence[str]) -> None:
        """Category counts of every given column not known yet, in one scan."""
        wanted = {c: self.kinds.get(c) == "numeric" for c in dict.fromkeys(columns)
                  if c not in self._categories}
        self._categories.update(stats.categories_of(self.engine, self.sql, wanted))

    def prefetch_edges(self, bins: dict[str, int]) -> None:
        """Quantile edges (with ``bins[column]`` bins) and distinct counts of numeric columns,
        from their sorted values read in bulk, on engines that compute edges that way
        (``Engine.quantiles_from_bulk_reads``); elsewhere ``edges`` sorts in the engine."""
        if not self.engine.quantiles_from_bulk_reads:
            return
        missing = [c for c, n in bins.items() if self.summary(c).count
                   and ((c, n) not in self._edges or c not in self._distinct)]
        if not missing:
            return
        rows = max(self.summary(c).count for c in missing)
        for batch in stats.batches(missing, rows):
            values = stats.sorted_values(self.engine, self.sql, batch,
                                         [self.summary(c).nulls > 0 for c in batch])
            for column in batch:
                self.edges_from(column, bins[column], values.pop(column))

    def prefetch_bins(self, edges: dict[str, Sequence[float]]) -> None:
        wanted = {c: e for c, e in edges.items() if (c, tuple(e)) not in self._bins}
        for column, counts in stats.bin_counts(self.engine, self.sql, wanted).items():
            self._bins[(column, tuple(wanted[column]))] = counts

    # -- accessors ----------------------------------------------------------------------
    @property
    def rows(self) -> int:
        if self._rows is None:
            self.prefetch([])
        assert self._rows is not None
        return self._rows

    def summary(self, column: str) -> Summary:
        if column not in self._summaries:
            self.prefetch([column])
        return self._summaries[column]

    def categories(self, column: str) -> dict[str, int]:
        if column not in self._categories:
            self._categories[column] = stats.category_counts(
                self.engine, self.sql, column, numeric=self.kinds.get(column) == "numeric")
        return self._categories[column]

    def edges(self, column: str, bins: int) -> list[float]:
        """Inner bin edges: this window's quantiles at 1/bins, 2/bins, ..."""
        key = (column, bins)
        if key not in self._edges:
            summary = self.summary(column)
            edges, distinct = stats.quantiles_and_distinct(
                self.engine, self.sql, column, summary.count, stats.quantile_levels(bins),
                summary.finite)
            self._edges[key] = edges
            self._distinct[column] = distinct
        return self._edges[key]

    def edges_from(self, column: str, bins: int, values: np.ndarray) -> list[float]:
        """``edges``, computed from this window's sorted values when not known yet (with the
        distinct count and this window's bin counts)."""
        key = (column, bins)
        if key not in self._edges or column not in self._distinct:
            edges, distinct = stats.edges_and_distinct(values, stats.quantile_levels(bins))
            self._edges.setdefault(key, edges)
            self._distinct.setdefault(column, distinct)
        self.bins_from(column, self._edges[key], values)
        return self._edges[key]

    def bins_from(self, column: str, edges: Sequence[float], values: np.ndarray) -> None:
        """``bins``, counted in this window's sorted values when not known yet."""
        key = (column, tuple(edges))
        if key not in self._bins:
            self._bins[key] = stats.sorted_bin_counts(values, edges)

    def distinct_values(self, column: str, bins: int) -> int:
        """Distinct non-null values of a numeric column (computed with its ``bins`` edges)."""
        if column not in self._distinct:
            summary = self.summary(column)
            if summary.count == 0:
                return 0
            edges, distinct = stats.quantiles_and_distinct(
                self.engine, self.sql, column, summary.count, stats.quantile_levels(bins),
                summary.finite)
            self._edges.setdefault((column, bins), edges)
            self._distinct[column] = distinct
        return self._distinct[column]

    def bins(self, column: str, edges: Sequence[float]) -> list[int]:
        key = (column, tuple(edges))
        if key not in self._bins:
            self.prefetch_bins({column: edges})
        return self._bins[key]


class StoredReference(WindowStats):
    """A fixed reference window whose statistics live in ``monitor_references``."""

    def __init__(self, engine: Engine, sql: Sql, kinds: dict[str, str], references: References,
                 monitor: str, definition: dict[str, Any]):
        super().__init__(engine, sql, kinds)
        self.references = references
        self.monitor = monitor
        self.base_key = json.dumps(definition, sort_keys=True, default=str)
        self._loaded: set[str] = set()
        self._stored: set[str] = set()  # columns whose statistics were read from storage
        self._dirty: set[str] = set()
        self.reused = 0

    def key(self, column: str) -> str:
        return hashlib.sha256(f"{self.base_key}\x1f{column}".encode()).hexdigest()[:24]

    def _load(self, column: str) -> None:
        if column in self._loaded:
            return
        self._loaded.add(column)
        stored = self.references.get(self.key(column))
        if stored is None or "finite" not in stored.get("summary", {"finite": None}):
            return  # none, or stored before infinities were told apart: compute it again
        self.reused += 1
        self._stored.add(column)
        if "summary" in stored:
            self._summaries[column] = Summary(**stored["summary"])
            self._rows = stored["summary"]["rows"]
        if "categories" in stored:
            self._categories[column] = stored["categories"]
        if "distinct" in stored:
            self._distinct[column] = stored["distinct"]
        for bins, edges in stored.get("edges", {}).items():
            self._edges[(column, int(bins))] = edges
        for edges, counts in stored.get("bins", []):
            self._bins[(column, tuple(edges))] = counts

    def prefetch(self, columns: Sequence[str]) -> None:
        for column in columns:
            self._load(column)
        missing = [c for c in columns if c not in self._summaries]
        if missing or (self._rows is None and not columns):
            super().prefetch(missing)
            self._dirty.update(missing)

    def prefetch_categories(self, columns: Sequence[str]) -> None:
        for column in columns:
            self._load(column)
        self._dirty.update(c for c in columns if c not in self._categories)
        super().prefetch_categories(columns)

    def prefetch_edges(self, bins: dict[str, int]) -> None:
        for column in bins:
            self._load(column)
        super().prefetch_edges(bins)

    def prefetch_bins(self, edges: dict[str, Sequence[float]]) -> None:
        for column in edges:
            self._load(column)
        missing = {c: e for c, e in edges.items() if (c, tuple(e)) not in self._bins}
        if missing:
            super().prefetch_bins(missing)
            self._dirty.update(missing)

    def categories(self, column: str) -> dict[str, int]:
        self._load(column)
        if column not in self._categories:
            self._dirty.add(column)
        return super().categories(column)

    def edges(self, column: str, bins: int) -> list[float]:
        self._load(column)
        if (column, bins) not in self._edges:
            self._dirty.add(column)
        return super().edges(column, bins)

    def edges_from(self, column: str, bins: int, values: np.ndarray) -> list[float]:
        self._load(column)
        if column not in self._distinct and column in self._stored:
            self._forget(column)  # as in distinct_values
        before = (len(self._edges), len(self._distinct), len(self._bins))
        edges = super().edges_from(column, bins, values)
        if (len(self._edges), len(self._distinct), len(self._bins)) != before:
            self._dirty.add(column)
        return edges

    def distinct_values(self, column: str, bins: int) -> int:
        self._load(column)
        if column not in self._distinct:
            if column in self._stored:
                # stored before distinct counts were: compute all its statistics again, so
                # they describe the same rows
                self._forget(column)
            self._dirty.add(column)
        return super().distinct_values(column, bins)

    def _forget(self, column: str) -> None:
        self._stored.discard(column)
        self._summaries.pop(column, None)
        self._categories.pop(column, None)
        for key in [k for k in self._edges if k[0] == column]:
            del self._edges[key]
        for key in [k for k in self._bins if k[0] == column]:
            del self._bins[key]

    def save(self) -> None:
        """Store the statistics computed in this run (the latest stored row wins)."""
        for column in sorted(self._dirty):
            payload: dict[str, Any] = {}
            if column in self._summaries:
                payload["summary"] = asdict(self._summaries[column])
            if column in self._categories:
                payload["categories"] = self._categories[column]
            if column in self._distinct:
                payload["distinct"] = self._distinct[column]
            payload["edges"] = {str(b): e for (c, b), e in self._edges.items() if c == column}
            payload["bins"] = [[list(e), n] for (c, e), n in self._bins.items() if c == column]
            self.references.store(self.key(column), self.monitor, column, payload)
        self._dirty.clear()
