"""Compile-time column checks: each model's column references against its inputs' columns.

Upstream models' columns come from their own (checked) SELECT lists, seeds' from their CSV
header, ``table:`` sources' from the database when it can be reached. A model whose inputs
are not all known is not checked (the database will be the judge when it runs). Only what
sqlglot resolves with certainty is reported, so valid SQL is never refused here.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError

from featurekit.errors import ModelError, did_you_mean

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.model import Model
    from featurekit.project import Project
    from featurekit.sources import Source

_INPUT = "fk_input_"


def check_columns(project: Project, names: list[str],
                  engine: Engine | None) -> dict[str, list[str] | None]:
    """Check the models ``names``; returns the output columns of every model looked at.

    Raises ModelError naming ``file:line:col`` for a column no input has (with the closest
    name), or for an entity / timestamp column the model does not output.
    """
    checked = set(names)
    wanted = set(names)
    for name in names:
        wanted |= project.graph.ancestors(name)
    sources: dict[str, list[str] | None] = {}
    outputs: dict[str, list[str] | None] = {}
    for name in project.graph.order:
        if name not in wanted:
            continue
        model = project.models[name]
        if name not in checked and (listed := _named_outputs(model.expression)) is not None:
            outputs[name] = listed  # an input only, whose columns its SELECT list names
            continue
        for source in model.sources:
            if source not in sources:
                sources[source] = _source_columns(project.sources[source], engine)
        inputs = {**{s: sources[s] for s in model.sources},
                  **{m: outputs[m] for m in model.depends_on}}
        try:
            outputs[name] = _model_columns(project, model, inputs, project.settings.dialect)
        except ModelError:
            if name in checked:
                raise
            outputs[name] = None  # an unselected model's mistake is reported when it is run
    return outputs


def _source_columns(source: Source, engine: Engine | None) -> list[str] | None:
    if source.seed is not None:
        with open(source.seed, newline="") as handle:
            return next(csv.reader(handle), None)
    if engine is None:
        return None
    schema, _, name = (source.table or "").rpartition(".")
    return [column for column, _ in engine.columns(name, schema or None)] or None


def _model_columns(project: Project, model: Model, inputs: dict[str, list[str] | None],
                   dialect: str) -> list[str] | None:
    """The model's output columns; raises ModelError for a column nothing provides."""
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.schema import MappingSchema

    from featurekit.sql import rewrite_tables

    schema: dict[str, dict[str, str]] = {}

    def replace(table: exp.Table) -> exp.Expression | None:
        resolved = project.resolve(table)
        input_name = table.name if not table.db and table.name in inputs else (
            _source_name(project, table))
        columns = inputs.get(input_name) if resolved is not None else None
        if columns is None:
            raise _Unknown
        key = f"{_INPUT}{len(schema)}"
        schema[key] = {column: "UNKNOWN" for column in columns}
        alias = table.args.get("alias") or exp.TableAlias(this=table.this.copy())
        return exp.Table(this=exp.to_identifier(key), alias=alias.copy())

    try:
        rewritten = rewrite_tables(model.expression, replace)
    except _Unknown:
        return _named_outputs(model.expression)
    known = sorted({c for columns in schema.values() for c in columns})
    try:
        qualified = qualify(rewritten, schema=MappingSchema(schema, dialect=dialect),
                            dialect=dialect, quote_identifiers=False,
                            validate_qualify_columns=True)
    except OptimizeError as exc:
        _raise_unresolved(model, rewritten, str(exc), known)
        return _named_outputs(model.expression)
    except SqlglotError:
        return _named_outputs(model.expression)
    columns = _named_outputs(qualified)
    if columns is not None:
        lowered = {c.lower() for c in columns}
        for key in model.unique_key:
            if key.lower() not in lowered:
                raise ModelError(
                    f'{model.path}: {"timestamp" if key == model.timestamp else "entity"} '
                    f'column "{key}" is not among the columns the model outputs '
                    f"({', '.join(columns)}){did_you_mean(key, columns)}"
                )
    return columns


class _Unknown(Exception):
    """An input whose columns are not known: the model cannot be checked."""


def _source_name(project: Project, table: exp.Table) -> str | None:
    wanted = f"{table.db}.{table.name}".lower() if table.db else table.name
    for source in project.sources.values():
        if source.relation.lower() == wanted.lower():
            return source.name
    return None


def _named_outputs(expression: exp.Expression) -> list[str] | None:
    """Output column names, or None when a star leaves them unknown."""
    if not isinstance(expression, exp.Query):
        return None
    selects = expression.selects
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star)
           for s in selects):
        return None
    names = expression.named_selects
    return names if len(names) == len(selects) and all(names) else None


def _raise_unresolved(model: Model, expression: exp.Expression, message: str,
                      known: list[str]) -> None:
    """Turn sqlglot's "Column 'x' could not be resolved" into the model's file:line."""
    marker = "Column '"
    if marker not in message or "could not be resolved" not in message:
        return  # another limit of the static analysis: let the database decide
    name = message.split(marker, 1)[1].split("'", 1)[0].strip('"')
    if any(name.lower() == k.lower() for k in known):
        return
    node = next((c for c in expression.find_all(exp.Column)
                 if c.name == name and "line" in c.this.meta), None)
    where = f"{model.path}"
    if node is not None:
        meta = node.this.meta
        width = len(name) + (2 if node.this.quoted else 0)
        where += f":{meta['line']}:{max(1, meta.get('col', width) - width + 1)}"
    raise ModelError(
        f'{where}: column "{name}" does not exist in the model\'s inputs'
        f"{did_you_mean(name, known)}"
    )
