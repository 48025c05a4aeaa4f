"""Data tests (dbt's): assertions about a model's rows, each a query whose rows are failures.

Generic tests sit in a model's header::

    tests:
      - not_null: [customer_id, feature_ts]        # one test per column
      - unique: [customer_id, feature_ts]          # a column, or a combination of columns
      - accepted_values: {column: channel, values: [pos, online]}
      - relationships: {column: merchant_id, to: merchants, field: merchant_id}
      - expression: "amount >= 0"                  # every row must satisfy it

Each may be written as a mapping with ``severity: warn`` (report only; default ``error``) and
``where: <condition>`` (test only the rows that satisfy it). Singular tests are
``tests_sql/<name>.sql`` files: a SELECT returning the failing rows, with an optional
``/* featurekit severity: warn  where: ... */`` header. This module parses them and builds
their queries (sqlglot, in the project dialect); ``testrun`` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.errors import ModelError, did_you_mean

if TYPE_CHECKING:
    from sqlglot import exp

    from featurekit.model import Model

KINDS = ("not_null", "unique", "accepted_values", "relationships", "expression")
SEVERITIES = ("error", "warn")
#: keys each kind takes in its mapping form (besides severity and where)
_KIND_KEYS = {
    "not_null": ("column", "columns"),
    "unique": ("column", "columns"),
    "accepted_values": ("column", "values"),
    "relationships": ("column", "to", "field"),
    "expression": ("expression",),
}
SINGULAR_KEYS = ("severity", "where", "description")


@dataclass
class DataTest:
    """One data test: a query whose rows are failures."""

    name: str  # unique in the project, e.g. not_null_orders_customer_id
    kind: str  # one of KINDS, or "singular"
    model: str | None  # the model a generic test is about (None: singular)
    path: Path  # the file that declares it
    line: int  # the line of its declaration
    columns: list[str] = field(default_factory=list)
    severity: str = "error"
    where: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # values / to, field / expression
    depends_on: list[str] = field(default_factory=list)  # models it reads
    sources: list[str] = field(default_factory=list)  # sources it reads
    description: str = ""
    expression: Any = field(default=None, repr=False)  # singular: the parsed query

    @property
    def where_label(self) -> str:
        """``path:line`` for messages."""
        return f"{self.path}:{self.line}"


def header_item_lines(body: str, first_line: int) -> list[int]:
    """The file line of each item of the header's ``tests:`` list (YAML ``body``)."""
    import yaml

    node = yaml.compose(body)
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "tests" and isinstance(value, yaml.SequenceNode):
            return [first_line + item.start_mark.line for item in value.value]
    return []


def parse_generic_tests(model: Model, raw: Any, lines: list[int],
                        header_line: int) -> list[DataTest]:
    """The tests in a model header's ``tests:`` list, checked for shape."""
    if not isinstance(raw, list):
        raise ModelError(f"{model.path}:{header_line}: tests must be a list, e.g. "
                         f"tests: [{{not_null: [customer_id]}}]")
    tests: list[DataTest] = []
    for index, item in enumerate(raw):
        line = lines[index] if index < len(lines) else header_line
        tests.extend(_generic(model, item, f"{model.path}:{line}", line, index))
    return tests


def _generic(model: Model, item: Any, at: str, line: int, index: int) -> list[DataTest]:
    if not isinstance(item, dict) or len(item) != 1:
        raise ModelError(f"{at}: each test is one `kind: arguments` pair, e.g. "
                         f"- not_null: [customer_id]; kinds: {', '.join(KINDS)}")
    kind, spec = next(iter(item.items()))
    if kind not in KINDS:
        raise ModelError(f'{at}: unknown test "{kind}"{did_you_mean(str(kind), KINDS)}; '
                         f"tests: {', '.join(KINDS)}")
    settings: dict[str, Any] = {}
    if isinstance(spec, dict):
        allowed = (*_KIND_KEYS[kind], "severity", "where")
        for key in spec:
            if key not in allowed:
                raise ModelError(f'{at}: {kind} has no option "{key}"'
                                 f"{did_you_mean(str(key), allowed)}; options: "
                                 f"{', '.join(allowed)}")
        settings = dict(spec)
    elif kind in ("not_null", "unique"):
        settings = {"columns": spec}
    elif kind == "expression":
        settings = {"expression": spec}
    else:
        raise ModelError(f"{at}: {kind} takes a mapping, e.g. " + (
            "{column: channel, values: [pos, online]}" if kind == "accepted_values"
            else "{column: merchant_id, to: merchants, field: merchant_id}"))
    severity = str(settings.pop("severity", "error"))
    if severity not in SEVERITIES:
        raise ModelError(f'{at}: severity "{severity}" must be error or warn')
    where = settings.pop("where", None)
    if where is not None and not isinstance(where, str):
        raise ModelError(f"{at}: where is a SQL condition, e.g. where: \"channel <> 'atm'\"")
    common = {"model": model.name, "path": model.path, "line": line, "severity": severity,
              "where": where, "depends_on": [model.name]}
    if kind in ("not_null", "unique"):
        columns = _column_list(settings, at, kind)
        if kind == "not_null":
            return [DataTest(f"not_null_{model.name}_{c}", kind, columns=[c], **common)
                    for c in columns]
        return [DataTest(f"unique_{model.name}_{'__'.join(columns)}", kind, columns=columns,
                         **common)]
    if kind == "expression":
        text = settings.get("expression")
        if not isinstance(text, str) or not text.strip():
            raise ModelError(f'{at}: expression is a SQL condition, e.g. "amount >= 0"')
        return [DataTest(f"expression_{model.name}_{index + 1}", kind,
                         options={"expression": text}, **common)]
    column = settings.get("column")
    if not isinstance(column, str):
        raise ModelError(f"{at}: {kind} needs `column: <name>`")
    if kind == "accepted_values":
        values = settings.get("values")
        if not isinstance(values, list) or not values:
            raise ModelError(f"{at}: accepted_values needs `values: [...]` (a non-empty list)")
        return [DataTest(f"accepted_values_{model.name}_{column}", kind, columns=[column],
                         options={"values": values}, **common)]
    to = settings.get("to")
    if not isinstance(to, str):
        raise ModelError(f"{at}: relationships needs `to: <model or source>`")
    parent_field = str(settings.get("field") or column)
    return [DataTest(f"relationships_{model.name}_{column}__{to}_{parent_field}", kind,
                     columns=[column], options={"to": to, "field": parent_field}, **common)]


def _column_list(settings: dict[str, Any], at: str, kind: str) -> list[str]:
    value = settings.get("columns", settings.get("column"))
    columns = [value] if isinstance(value, str) else value
    if not isinstance(columns, list) or not columns or not all(
            isinstance(c, str) for c in columns):
        raise ModelError(f"{at}: {kind} takes a column or a list of columns")
    return columns


def output_columns(query: exp.Expression) -> list[str] | None:
    """The column names a query returns, when its SQL says them (None with ``*``).

    >>> import sqlglot
    >>> output_columns(sqlglot.parse_one("SELECT a, b + 1 AS c FROM t"))
    ['a', 'c']
    >>> output_columns(sqlglot.parse_one("SELECT t.* FROM t")) is None
    True
    """
    from sqlglot import exp

    while isinstance(query, exp.SetOperation):
        query = query.left
    if not isinstance(query, exp.Select):
        return None
    names = []
    for select in query.selects:
        if select.is_star or not select.alias_or_name:
            return None
        names.append(select.alias_or_name)
    return names


def check_columns(test: DataTest, model_columns: list[str] | None,
                  parent_columns: list[str] | None = None, dialect: str = "duckdb") -> None:
    """Raise ModelError at the test's line when it names a column its relation lacks.

    ``model_columns``: the tested model's columns (None: unknown, nothing checked);
    ``parent_columns``: those of a relationships test's ``to`` relation.
    """
    if model_columns is not None:
        for column in [*test.columns, *condition_columns(test, dialect)]:
            _known(test, column, model_columns, test.model or "")
    if test.kind == "relationships" and parent_columns is not None:
        _known(test, test.options["field"], parent_columns, test.options["to"])


def _known(test: DataTest, column: str, known: list[str], relation: str) -> None:
    if column.lower() not in {c.lower() for c in known}:
        raise ModelError(
            f'{test.where_label}: test {test.kind}: unknown column "{column}" of {relation}'
            f"{did_you_mean(column, known)}; its columns: {', '.join(known)}")


def condition_columns(test: DataTest, dialect: str) -> list[str]:
    """Columns named in the test's ``expression`` and ``where`` conditions."""
    from sqlglot import exp

    return [column.name for text in (test.options.get("expression"), test.where) if text
            for column in condition(text, dialect, test).find_all(exp.Column)]


def condition(text: str, dialect: str, test: DataTest) -> exp.Expression:
    """A SQL condition of a test, parsed; a syntax error names the test's line."""
    import sqlglot

    try:
        return sqlglot.condition(text, dialect=dialect)
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ModelError(f'{test.where_label}: test {test.kind}: cannot parse "{text}": '
                         f"{first}") from None


def failures_query(test: DataTest, dialect: str) -> exp.Query:
    """The test's query in the project dialect: its rows are the failures.

    Models and sources are named as users write them; ``Project.compile_query`` qualifies
    them for the target.
    """
    from sqlglot import exp

    if test.kind == "singular":
        query = test.expression.copy()
        if test.where:
            query = exp.select("*").from_(query.subquery("t")).where(
                condition(test.where, dialect, test))
        return query
    assert test.model is not None
    rows: exp.Expression = exp.to_table(test.model)
    if test.where:
        rows = exp.select("*").from_(rows).where(condition(test.where, dialect, test))
    base = rows.subquery("t") if isinstance(rows, exp.Select) else exp.alias_(rows, "t",
                                                                            table=True)
    columns = [exp.column(c, table="t", quoted=True) for c in test.columns]
    count = exp.alias_(exp.Count(this=exp.Star()), "n_records")
    if test.kind == "not_null":
        return exp.select("t.*").from_(base).where(columns[0].is_(exp.null()))
    if test.kind == "unique":
        query = exp.select(*columns, count).from_(base).group_by(*columns).having(
            exp.Count(this=exp.Star()) > 1)
        # one column: NULL is not a value (dbt); a combination compares NULLs as equal
        return query.where(columns[0].is_(exp.null()).not_()) if len(columns) == 1 else query
    if test.kind == "accepted_values":
        values = [exp.convert(v) for v in test.options["values"]]
        return (exp.select(columns[0], count).from_(base)
                .where(exp.and_(columns[0].is_(exp.null()).not_(),
                                exp.Not(this=columns[0].isin(*values))))
                .group_by(columns[0]))
    if test.kind == "relationships":
        parent = exp.column(test.options["field"], table="p", quoted=True)
        exists = exp.Exists(this=exp.select(exp.Literal.number(1)).from_(
            exp.alias_(exp.to_table(test.options["to"]), "p", table=True)).where(
            parent.eq(columns[0])))
        return exp.select("t.*").from_(base).where(
            exp.and_(columns[0].is_(exp.null()).not_(), exp.Not(this=exists)))
    assert test.kind == "expression"
    check = condition(test.options["expression"], dialect, test)
    return exp.select("t.*").from_(base).where(exp.Not(this=exp.paren(check)))


def load_singular(folder: Path, root: Path, dialect: str) -> list[DataTest]:
    """Every ``*.sql`` under ``folder``: a query whose rows are failures (dbt's convention)."""
    from featurekit.model import _HEADER, _load_header
    from featurekit.sql import parse

    tests: list[DataTest] = []
    if not folder.is_dir():
        return tests
    for file in sorted(folder.rglob("*.sql")):
        path = file.relative_to(root)
        text = file.read_text()
        header: dict[str, Any] = {}
        line = 1
        match = _HEADER.match(text)
        if match:
            line = text[: match.start("yaml")].count("\n") + 1
            header = _load_header(path, match.group("yaml"), line)
            # blank the header but keep its lines, so SQL errors name the file's own lines
            text = text[: match.start()] + "\n" * match.group(0).count("\n") + text[match.end():]
        for key in header:
            if key not in SINGULAR_KEYS:
                raise ModelError(f'{path}:{line}: unknown header key "{key}"'
                                 f"{did_you_mean(str(key), SINGULAR_KEYS)}; a test's header "
                                 f"takes: {', '.join(SINGULAR_KEYS)}")
        severity = str(header.get("severity", "error"))
        if severity not in SEVERITIES:
            raise ModelError(f'{path}:{line}: severity "{severity}" must be error or warn')
        where = header.get("where")
        if where is not None and not isinstance(where, str):
            raise ModelError(f"{path}:{line}: where is a SQL condition")
        tests.append(DataTest(
            name=file.stem, kind="singular", model=None, path=path, line=line,
            severity=severity, where=where, description=str(header.get("description") or ""),
            expression=parse(text, dialect, path)))
    return tests
