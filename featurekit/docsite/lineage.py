"""Column-level lineage across models, computed with sqlglot's lineage module.

Each model is qualified once against the columns of what it reads (sources and upstream
models, in dependency order, so ``SELECT *`` expands), and ``sqlglot.lineage`` walks its
scopes to the input columns each output column is computed from. Those direct edges, chained
model to model, give any feature column's source columns; the docs page follows the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

    from featurekit.model import Model


@dataclass
class ModelLineage:
    """A model's output columns, each with the (relation, column) pairs it is computed from."""

    columns: list[str]
    upstream: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    error: str = ""  # why lineage could not be computed (the columns may still be known)


def model_lineage(model: Model, expression: exp.Expression, inputs: dict[str, list[str]],
                  dialect: str) -> ModelLineage:
    """Lineage of one model.

    Args:
        model: the parsed model.
        expression: its query with every table reference renamed to the model or source
            name it resolves to (aliases kept); qualified in place, so pass a copy.
        inputs: column names of each model or source it reads ([] when unknown).
        dialect: the project dialect.

    >>> import sqlglot
    >>> from featurekit.model import Model
    >>> q = sqlglot.parse_one("SELECT a, b + c AS d FROM t", dialect="duckdb")
    >>> model_lineage(Model("m", None, ""), q, {"t": ["a", "b", "c"]}, "duckdb").upstream
    {'a': [('t', 'a')], 'd': [('t', 'b'), ('t', 'c')]}
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    schema = {name: {column: "UNKNOWN" for column in columns}
              for name, columns in inputs.items() if columns}
    try:
        qualified = qualify(expression, schema=schema, dialect=dialect,
                            validate_qualify_columns=False, identify=False)
        columns = list(qualified.named_selects)
        scope = build_scope(qualified)
        # trim_selects=False: the nodes share the query instead of copying it per node
        nodes = lineage(None, qualified, schema=schema, dialect=dialect, scope=scope,
                        copy=False, trim_selects=False)
    except (SqlglotError, ValueError, KeyError) as exc:
        names = [s.alias_or_name for s in expression.selects] if hasattr(
            expression, "selects") else []
        return ModelLineage([n for n in names if n and n != "*"], error=str(exc))
    result = ModelLineage(columns)
    for column, node in nodes.items():
        found: list[tuple[str, str]] = []
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.expression, exp.Table):
                continue
            pair = (leaf.expression.name, leaf.name.rsplit(".", 1)[-1].strip('"'))
            if pair not in found:
                found.append(pair)
        result.upstream[column] = sorted(found)
    return result


def project_lineage(models: dict[str, Model], order: list[str],
                    expressions: dict[str, exp.Expression], source_columns: dict[str, list[str]],
                    dialect: str) -> dict[str, ModelLineage]:
    """Lineage of every model, in dependency order (each model's columns feed its readers).

    Args:
        models: the project's models.
        order: their names, every model after the models it reads.
        expressions: each model's query with table references renamed to model/source names.
        source_columns: known columns per source (from the database or the seed's header).
        dialect: the project dialect.
    """
    known: dict[str, list[str]] = dict(source_columns)
    out: dict[str, ModelLineage] = {}
    for name in order:
        model = models[name]
        inputs = {n: known.get(n, []) for n in (*model.depends_on, *model.sources)}
        out[name] = model_lineage(model, expressions[name], inputs, dialect)
        known[name] = out[name].columns
    return out
