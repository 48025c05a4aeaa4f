"""SQL as data: parse model SQL with sqlglot, find its references, rewrite and render it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

from featurekit.errors import CompileError, ModelError


@dataclass(frozen=True)
class TableRef:
    """A table a query reads: ``schema.name`` as written, with its position in the file."""

    name: str
    schema: str | None
    line: int
    col: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def parse(sql: str, dialect: str, path: Path | str) -> exp.Expression:
    """Parse one statement; syntax errors name ``file:line:col``."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, col = first.get("line", 1), first.get("col", 1)
        message = first.get("description", str(exc)).split(". Line")[0]
        raise ModelError(f"{path}:{line}:{col}: SQL syntax error: {message}") from None
    if len(statements) != 1:
        raise ModelError(
            f"{path}: a model holds exactly one SELECT statement (found {len(statements)})"
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise ModelError(f"{path}: a model must be a query (SELECT ...), not {statement.key}")
    return statement


def table_references(expression: exp.Expression) -> list[TableRef]:
    """Tables the query reads, excluding its own CTEs and table functions."""
    cte_names = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
    refs = []
    for table in expression.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # table functions such as range(...) or read_csv(...)
        if not table.db and table.name.lower() in cte_names:
            continue
        meta = table.this.meta
        # sqlglot's col is where the token ends; users want where the name starts.
        width = len(table.name) + (2 if table.this.quoted else 0)
        col = max(1, meta.get("col", width) - width + 1)
        refs.append(TableRef(table.name, table.db or None, meta.get("line", 1), col))
    return refs


def rewrite_tables(
    expression: exp.Expression, replace: Callable[[exp.Table], exp.Expression | None]
) -> exp.Expression:
    """Copy of ``expression`` where each non-CTE table reference may be replaced.

    ``replace`` returns the new node (a qualified table or a subquery) or None to keep it.
    """
    cte_names = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}

    def transform(node: exp.Expression) -> exp.Expression:
        if (
            isinstance(node, exp.Table)
            and isinstance(node.this, exp.Identifier)
            and not (not node.db and node.name.lower() in cte_names)
        ):
            new = replace(node)
            if new is not None:
                return new
        return node

    return expression.copy().transform(transform, copy=False)


def qualified_table(name: str, schema: str | None,
                    alias: exp.TableAlias | str | None = None) -> exp.Table:
    """A ``schema.name [AS alias]`` table node with quoted identifiers.

    Pass the alias as ``reference_alias`` builds it; a plain string is used as written.
    """
    table = exp.table_(
        exp.to_identifier(name, quoted=True),
        db=exp.to_identifier(schema, quoted=True) if schema else None,
    )
    if isinstance(alias, str):
        alias = exp.TableAlias(this=exp.to_identifier(alias))
    if alias is not None:
        table.set("alias", alias)
    return table


def reference_alias(table: exp.Table, dialect: str) -> exp.TableAlias:
    """The alias that keeps a rewritten table reference answering to its old name.

    The query's own alias when it has one; else the name as written, quoted (a model may be
    called ``group``) in the form ``dialect`` resolves the unquoted name to.
    """
    alias = table.args.get("alias")
    if alias is not None:
        return alias.copy()
    name = table.this.copy()
    if not name.quoted:
        name = sqlglot.Dialect.get_or_raise(dialect).normalize_identifier(name)
    name.set("quoted", True)
    return exp.TableAlias(this=name)


def timestamp_literal(moment: datetime) -> exp.Expression:
    """``CAST('2024-01-01 00:00:00' AS TIMESTAMP)``: a naive UTC moment as SQL."""
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.build("timestamp"))


def rows_since(relation: exp.Expression, timestamp: str, since: datetime,
               alias: exp.TableAlias | None = None) -> exp.Expression:
    """``(SELECT * FROM relation WHERE timestamp >= since) AS alias``: a half-open time filter."""
    condition = exp.column(timestamp, quoted=True) >= timestamp_literal(since)
    if isinstance(relation, exp.Table):
        query = exp.select("*").from_(relation).where(condition)
    else:
        query = exp.select("*").from_(relation.subquery("q")).where(condition)
    if alias is None:
        return query
    subquery = query.subquery()
    subquery.set("alias", alias)
    return subquery


def render(
    expression: exp.Expression,
    dialect: str,
    where: str,
    unsupported: Iterable[str] = (),
    pretty: bool = False,
) -> str:
    """Render for the target dialect (laid out on lines with ``pretty``); constructs it
    cannot run fail here, not in the driver."""
    problems = list(unsupported)
    if problems:
        raise CompileError(
            f"{where}: cannot run on {dialect}: {'; '.join(problems)}; rewrite it in portable SQL"
        )
    try:
        # The caller's expression is already a private copy (rewrite_tables): skip another.
        return sqlglot.Dialect.get_or_raise(dialect).generate(
            expression, copy=False, unsupported_level=ErrorLevel.RAISE, comments=False,
            pretty=pretty,
        )
    except UnsupportedError as exc:
        raise CompileError(f"{where}: cannot run on {dialect}: {exc}") from None


def quote(name: str, dialect: str) -> str:
    """A quoted identifier (or dotted name) for ``dialect``.

    >>> quote("my col", "postgres")
    '"my col"'
    """
    return ".".join(
        exp.to_identifier(part, quoted=True).sql(dialect=dialect) for part in name.split(".")
    )


def fingerprint(*parts: object) -> str:
    """A short stable hash of whatever defines a model's output (SQL, materialization, keys)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode())
    return digest.hexdigest()[:16]
