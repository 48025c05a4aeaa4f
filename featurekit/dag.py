"""The model graph: topological order, cycles, ancestors and descendants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from featurekit.errors import ModelError


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
