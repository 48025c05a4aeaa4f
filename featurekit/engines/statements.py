"""featurekit's own statements: written once, rendered by sqlglot in each engine's dialect.

State, logs, results and monitor statistics are written in one fixed dialect (PostgreSQL's
syntax, identifiers in double quotes as ``Engine.quote`` gives them) with values as named
placeholders (``:name``; a name must not be an SQL keyword). ``render`` parses such a
statement once and turns it into the engine's SQL with the placeholders its driver binds:
``$1, $2, ...`` for PostgreSQL (values in ``Rendered.names`` order), ``$name`` for DuckDB,
``:name`` for Spark. Values are always bound by the driver; the SQL text is never searched
for markers, so a ``?`` or ``:`` inside a string literal or a quoted name is just text.

A statement may also be given as a sqlglot expression: canonical text parsed by ``parse``
into which parts parsed in another dialect were put (a monitor's ``sql:`` source, an engine's
point-in-time join). It is rendered the same way, but not cached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlglot import exp

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


def render(statement: str | exp.Expression, dialect: str, positional: bool) -> Rendered:
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
    if isinstance(statement, str):
        return _render_text(statement, dialect, positional)
    return _render_tree(statement, dialect, positional)


@functools.lru_cache(maxsize=4096)
def _render_text(statement: str, dialect: str, positional: bool) -> Rendered:
    return _render_tree(parse(statement), dialect, positional, owned=True)


def _render_tree(expression: exp.Expression, dialect: str, positional: bool,
                 owned: bool = False) -> Rendered:
    """``render`` of a tree; one ``owned`` by the caller is changed in place (copying a large
    tree costs more than parsing its text)."""
    from sqlglot import exp

    numbers = _numbers(expression)
    if not owned:
        expression = expression.copy()
    if positional and numbers:
        def number(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Placeholder):
                return exp.Parameter(this=exp.Literal.number(numbers[node.name]))
            return node

        expression = expression.transform(number, copy=False)
    return Rendered(_generate(expression, dialect), tuple(numbers))


def _numbers(expression: exp.Expression) -> dict[str, int]:
    """The placeholder names of a statement, numbered in order of first use."""
    from sqlglot import exp

    numbers: dict[str, int] = {}
    for placeholder in expression.find_all(exp.Placeholder):
        if not placeholder.name:
            raise StatementError(f"anonymous placeholder in {expression.sql()!r}: name it "
                                 "(:name)")
        numbers.setdefault(placeholder.name, len(numbers) + 1)
    return numbers


def _generate(expression: exp.Expression, dialect: str) -> str:
    """``expression`` (which may be changed: the caller's own copy) as ``dialect``'s SQL."""
    import sqlglot

    return sqlglot.Dialect.get_or_raise(dialect).generate(expression, copy=False)


def render_with_literals(statement: str | exp.Expression, dialect: str,
                         params: Mapping[str, Any] | None, literal: Callable[[Any], str]) -> str:
    """``statement`` in ``dialect`` with each value written in as a literal.

    For the few statements whose parameters no driver binds (PostgreSQL's COPY):
    ``literal`` is the driver's own quoting of a value, so nothing is escaped by hand.
    """
    import sqlglot
    from sqlglot import exp

    tree = parse(statement) if isinstance(statement, str) else statement.copy()
    values = dict(params or {})
    missing = [name for name in _numbers(tree) if name not in values]
    if missing:
        raise StatementError(f"no value for :{', :'.join(missing)} in {tree.sql(CANONICAL)!r}")

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return sqlglot.parse_one(literal(values[node.name]), read=dialect)
        return node

    return _generate(tree.transform(substitute, copy=False), dialect)


def parse(statement: str) -> exp.Expression:
    """A canonical statement as a sqlglot expression (a new tree each time: the caller's)."""
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        return sqlglot.parse_one(statement, read=CANONICAL)
    except ParseError as exc:
        raise StatementError(f"cannot parse {statement!r}: {exc}") from None
