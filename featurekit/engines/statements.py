"""featurekit's own statements: written once, rendered by sqlglot in each engine's dialect.

State, logs, results and monitor statistics are written in one fixed dialect (PostgreSQL's
syntax, identifiers in double quotes as ``Engine.quote`` gives them) with values as named
placeholders (``:name``; a name must not be an SQL keyword). ``render`` parses such a
statement once and turns it into the engine's SQL with the placeholders its driver binds:
``$1, $2, ...`` for PostgreSQL (values in ``Rendered.names`` order), ``$name`` for DuckDB,
``:name`` for Spark. Values are always bound by the driver; the SQL text is never searched
for markers, so a ``?`` or ``:`` inside a string literal or a quoted name is just text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: The dialect featurekit's own statements are written in.
CANONICAL = "postgres"


class StatementError(ValueError):
    """A featurekit statement is malformed or lacks a value (a bug, not a user error)."""


@dataclass(frozen=True)
class Rendered:
    """A statement in an engine's dialect, and the placeholder names it binds, in order."""

    sql: str
    names: tuple[str, ...]

    def values(self, params: Mapping[str, Any] | None, positional: bool) -> Any:
        """The driver's parameters: a list in ``names`` order, or a dict of the names used."""
        if not self.names:
            return None
        params = params or {}
        missing = [name for name in self.names if name not in params]
        if missing:
            raise StatementError(f"no value for :{', :'.join(missing)} in {self.sql!r}")
        if positional:
            return [params[name] for name in self.names]
        return {name: params[name] for name in self.names}


@functools.lru_cache(maxsize=4096)
def render(statement: str, dialect: str, positional: bool) -> Rendered:
    """``statement`` (canonical SQL) in ``dialect``.

    ``positional`` numbers the placeholders (``$1``...: PostgreSQL's own markers) instead
    of keeping their names.

    >>> found = render("SELECT a::TEXT FROM t WHERE x = :x AND '?' <> :y AND z = :x",
    ...                "postgres", True)
    >>> found.sql, found.names
    ("SELECT CAST(a AS TEXT) FROM t WHERE x = $1 AND '?' <> $2 AND z = $1", ('x', 'y'))
    >>> render('SELECT CAST(a AS TEXT) AS "b:c" FROM t WHERE x = :x', "duckdb", False).sql
    'SELECT CAST(a AS TEXT) AS "b:c" FROM t WHERE x = $x'
    """
    from sqlglot import exp

    expression = _parse(statement)
    positions: dict[str, int] = {}  # each name's number, from 1, in order of appearance
    for placeholder in expression.find_all(exp.Placeholder):
        if not placeholder.name:
            raise StatementError(f"anonymous placeholder in {statement!r}: name it (:name)")
        positions.setdefault(placeholder.name, len(positions) + 1)
    if positional and positions:
        def number(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder):
                return exp.Parameter(this=exp.Literal.number(positions[node.name]))
            return node

        expression = expression.transform(number)
    return Rendered(expression.sql(dialect=dialect), tuple(positions))


def render_with_literals(statement: str, dialect: str, params: Mapping[str, Any] | None,
                         literal: Callable[[Any], str]) -> str:
    """``statement`` in ``dialect`` with each value written in as a literal.

    For the few statements whose parameters no driver binds (PostgreSQL's COPY):
    ``literal`` is the driver's own quoting of a value, so nothing is escaped by hand.
    """
    import sqlglot
    from sqlglot import exp

    rendered = render(statement, dialect, False)
    values = rendered.values(params, positional=False) or {}

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return sqlglot.parse_one(literal(values[node.name]), read=dialect)
        return node

    return _parse(statement).transform(substitute).sql(dialect=dialect)


@functools.lru_cache(maxsize=4096)
def _parse(statement: str) -> Any:
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        return sqlglot.parse_one(statement, read=CANONICAL)
    except ParseError as exc:
        raise StatementError(f"cannot parse {statement!r}: {exc}") from None
