"""The model graph: topological order, cycles and dbt-style selection."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from featurekit.errors import ConfigError, ModelError, did_you_mean


class Graph:
    """Edges from each model to the models it reads (``parents``)."""

    def __init__(self, parents: Mapping[str, Iterable[str]]):
        self.parents = {node: sorted(set(deps)) for node, deps in parents.items()}
        self.children: dict[str, list[str]] = {node: [] for node in self.parents}
        for node, deps in self.parents.items():
            for dep in deps:
                self.children[dep].append(node)
        self.order = self._topological_order()

    def _topological_order(self) -> list[str]:
        """Kahn's algorithm; ties broken by name so the order is stable across runs."""
        import heapq

        pending = {node: len(deps) for node, deps in self.parents.items()}
        ready = [node for node, count in pending.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self.children[node]:
                pending[child] -= 1
                if pending[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) != len(self.parents):
            cycle = self._find_cycle({n for n, c in pending.items() if c > 0})
            raise ModelError(
                f"dependency cycle: {' -> '.join(cycle)}; a model cannot read itself, "
                f"directly or through others"
            )
        return order

    def _find_cycle(self, stuck: set[str]) -> list[str]:
        node = min(stuck)
        path: list[str] = []
        seen: dict[str, int] = {}
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = min(dep for dep in self.parents[node] if dep in stuck)
        return [*path[seen[node] :], node]

    def ancestors(self, node: str) -> set[str]:
        return self._walk(node, self.parents)

    def descendants(self, node: str) -> set[str]:
        return self._walk(node, self.children)

    @staticmethod
    def _walk(start: str, edges: Mapping[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
        return seen

    def select(self, selectors: Iterable[str] | None) -> list[str]:
        """Models picked by dbt-style selectors, in dependency order.

        ``name``, ``+name`` (with ancestors), ``name+`` (with descendants), globs such as
        ``customer_*``; several selectors (or one with spaces/commas) are a union.
        None or empty selects everything.
        """
        words = [w for s in (selectors or []) for w in s.replace(",", " ").split()]
        if not words:
            return list(self.order)
        chosen: set[str] = set()
        for word in words:
            up, down = word.startswith("+"), word.endswith("+")
            pattern = word.strip("+")
            names = fnmatch.filter(self.order, pattern)
            if not names:
                raise ConfigError(
                    f'--select {word}: no model named "{pattern}"'
                    f"{did_you_mean(pattern, self.order)}"
                )
            for name in names:
                chosen.add(name)
                if up:
                    chosen |= self.ancestors(name)
                if down:
                    chosen |= self.descendants(name)
        return [node for node in self.order if node in chosen]
