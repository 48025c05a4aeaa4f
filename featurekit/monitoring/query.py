"""Monitor queries: canonical SQL composed from fragments, values as named parameters.

Monitors build their queries piece by piece (a window's filter, one aggregate per column and
bin), so a query is a ``Sql`` fragment: canonical SQL text (``engines.statements``) with
``value(...)`` pieces in it. A value gets its placeholder name only when the whole query is
finished (``Sql.statement``): the i-th value is ``:v<i>``. Fragments can thus be concatenated
in any way without two values sharing a name, and a query of the same shape always has the
same text, so the engine's cache of parsed and rendered statements serves every later run of
it (a scheduler's process parses each query shape once).

A monitor's rows may come from SQL that is not canonical: a ``sql:`` source, in the project's
dialect and already checked for the target (``source.py``), or an engine's point-in-time join
(``skew.py``). Re-reading such SQL as canonical text could change its meaning, so it enters a
query as a sqlglot expression (``embedded``), parsed in its own dialect. In the text it stands
as a relation named ``__fk_embedded_<i>``, always followed by ``AS alias``; the finished
statement is then the canonical text's parse tree with each such relation replaced by its
expression as an aliased subquery, and the engine renders that tree once in its own dialect.
Only such queries are parsed and rendered on every run; a relation source keeps the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from sqlglot import exp

    from featurekit.engines.base import Engine

EMBEDDED = "__fk_embedded_"


@dataclass(frozen=True)
class Value:
    """A value in a query: a named placeholder bound by the driver."""

    value: Any


@dataclass(frozen=True)
class Embedded:
    """A query that is not canonical text, as a sqlglot expression (used as ``... AS alias``)."""

    expression: exp.Expression = field(compare=False)


Part = str | Value | Embedded


class Sql:
    """A piece of canonical SQL with the values and embedded queries in it, in order.

    >>> query = Sql("SELECT * FROM t WHERE a >= ") + value(1) + " AND b < " + value(2)
    >>> query.statement()
    ('SELECT * FROM t WHERE a >= :v0 AND b < :v1', {'v0': 1, 'v1': 2})
    >>> limit = value(9)
    >>> (Sql("SELECT ") + limit + ", " + limit + ", " + value(9)).statement()
    ('SELECT :v0, :v0, :v1', {'v0': 9, 'v1': 9})
    """

    __slots__ = ("parts",)

    def __init__(self, *parts: Part):
        self.parts = tuple(p for p in parts if p != "")

    def __add__(self, other: Sql | str) -> Sql:
        return Sql(*self.parts, *_parts(other))

    def __radd__(self, other: str) -> Sql:
        return Sql(other, *self.parts)

    def __repr__(self) -> str:
        return f"Sql{self.parts!r}"

    def statement(self) -> tuple[str | exp.Expression, dict[str, Any]]:
        """The canonical statement (text, or a tree when something is embedded) and its
        values by placeholder name."""
        texts: list[str] = []
        params: dict[str, Any] = {}
        names: dict[int, str] = {}
        embedded: dict[str, exp.Expression] = {}
        for part in self.parts:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Value):
                name = names.get(id(part))
                if name is None:  # one fragment used twice is one value
                    name = names[id(part)] = f"v{len(params)}"
                    params[name] = part.value
                texts.append(f":{name}")
            else:
                name = f"{EMBEDDED}{len(embedded)}"
                embedded[name] = part.expression
                texts.append(name)
        text = "".join(texts)
        if not embedded:
            return text, params
        return _embed(text, embedded), params


def _parts(fragment: Sql | str) -> tuple[Part, ...]:
    return fragment.parts if isinstance(fragment, Sql) else (fragment,)


def value(x: Any) -> Sql:
    """A fragment holding one value."""
    return Sql(Value(x))


def embedded(expression: exp.Expression) -> Sql:
    """A fragment holding a query parsed in its own dialect; follow it with ``AS alias``."""
    return Sql(Embedded(expression))


def native(engine: Engine, sql: str) -> Sql:
    """A fragment holding a query in ``engine``'s own dialect (one an engine method wrote)."""
    import sqlglot

    return embedded(sqlglot.parse_one(sql, read=engine.dialect))


def join(fragments: Iterable[Sql | str], separator: str = ", ") -> Sql:
    """Concatenate fragments with ``separator``, keeping their values in order.

    >>> join([value(1), "x", value(2)]).statement()
    (':v0, x, :v1', {'v0': 1, 'v1': 2})
    """
    parts: list[Part] = []
    for i, fragment in enumerate(fragments):
        if i:
            parts.append(separator)
        parts.extend(_parts(fragment))
    return Sql(*parts)


def _embed(text: str, embedded: Mapping[str, exp.Expression]) -> exp.Expression:
    """The parse tree of ``text`` with each embedded relation replaced by its query.

    >>> import sqlglot
    >>> inner = sqlglot.parse_one("SELECT * EXCLUDE (b) FROM t", read="duckdb")
    >>> tree = _embed("SELECT count(*) FROM __fk_embedded_0 AS src", {"__fk_embedded_0": inner})
    >>> tree.sql(dialect="duckdb")
    'SELECT COUNT(*) FROM (SELECT * EXCLUDE (b) FROM t) AS src'
    """
    from sqlglot import exp

    from featurekit.engines.statements import parse

    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.db and node.name in embedded:
            return exp.Subquery(this=embedded[node.name].copy(), alias=node.args.get("alias"))
        return node

    return parse(text).transform(put, copy=False)


# -- running them --------------------------------------------------------------------------
def rows(engine: Engine, query: Sql) -> list[tuple]:
    """The rows of a query."""
    return engine.rows(*query.statement())


def run(engine: Engine, query: Sql) -> None:
    """Run a statement."""
    engine.run(*query.statement())


def doubles(engine: Engine, query: Sql,
            nullable: Sequence[bool] | None = None) -> list[np.ndarray]:
    """``Engine.fetch_doubles`` of a query."""
    statement, params = query.statement()
    return engine.fetch_doubles(statement, params, nullable)


def describe(engine: Engine, query: Sql) -> list[tuple[str, str]]:
    """(column, type) pairs of a query without values, without running it over the data."""
    statement, params = query.statement()
    assert not params, "describe a query without values"
    return engine.describe_query(engine.native(statement))
