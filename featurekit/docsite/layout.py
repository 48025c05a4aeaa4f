"""A left-to-right layered layout of the project DAG, for the docs site's SVG.

Layers by longest path from the sources (every edge points to a later layer), then the
nodes of each layer are ordered by the barycenter of their neighbours' positions, sweeping
forwards and backwards a few times: the classic Sugiyama heuristic, which removes most edge
crossings of a project graph without an optimization library.
"""

from __future__ import annotations

from dataclasses import dataclass

SWEEPS = 4


@dataclass(frozen=True)
class Placed:
    """A node's layer (column, left to right) and position within it (row, top to bottom)."""

    layer: int
    row: int


def layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: nodes without parents at 0, every child right of its parents.

    >>> layers(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")])
    {'a': 0, 'b': 1, 'c': 2}
    """
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for parent, child in edges:
        parents[child].append(parent)
    layer: dict[str, int] = {}

    def visit(node: str) -> int:
        # Iterative: a 500-model chain would overflow Python's recursion limit.
        stack = [node]
        while stack:
            current = stack[-1]
            pending = [p for p in parents[current] if p not in layer]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            layer[current] = 1 + max((layer[p] for p in parents[current]), default=-1)
        return layer[node]

    for node in nodes:
        if node not in layer:
            visit(node)
    return {n: layer[n] for n in nodes}


def layout(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, Placed]:
    """Layer and row of every node; rows minimize crossings heuristically (barycenters).

    >>> layout(["s", "a", "b"], [("s", "a"), ("s", "b")])["b"]
    Placed(layer=1, row=1)
    """
    layer = layers(nodes, edges)
    columns: dict[int, list[str]] = {}
    for node in nodes:  # the input order (alphabetical, dependency) seeds the ordering
        columns.setdefault(layer[node], []).append(node)
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for parent, child in edges:
        parents[child].append(parent)
        children[parent].append(child)
    position = {node: float(i) for column in columns.values() for i, node in enumerate(column)}
    order = sorted(columns)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        neighbours = parents if forward else children
        for index in order if forward else reversed(order):
            column = columns[index]
            column.sort(key=lambda n: _barycenter(neighbours[n], position, n))
            for i, node in enumerate(column):
                position[node] = float(i)
    return {node: Placed(layer[node], row) for index in order
            for row, node in enumerate(columns[index])}


def _barycenter(neighbours: list[str], position: dict[str, float], node: str) -> float:
    """Mean row of the neighbours; a node without any keeps its own row."""
    if not neighbours:
        return position[node]
    return sum(position[n] for n in neighbours) / len(neighbours)


def crossings(placed: dict[str, Placed], edges: list[tuple[str, str]]) -> int:
    """Pairs of edges between the same two adjacent layers that cross (for tests and tuning).

    >>> p = {"a": Placed(0, 0), "b": Placed(0, 1), "c": Placed(1, 0), "d": Placed(1, 1)}
    >>> crossings(p, [("a", "d"), ("b", "c")])
    1
    """
    spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for parent, child in edges:
        a, b = placed[parent], placed[child]
        spans.setdefault((a.layer, b.layer), []).append((a.row, b.row))
    count = 0
    for pairs in spans.values():
        for i, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[i + 1:]:
                count += (a1 - a2) * (b1 - b2) < 0
    return count
