"""Where a monitor's rows come from: a model, a declared source, a table, or ``sql:``.

The source becomes a fragment of the monitor's queries (``query.py``): a qualified relation, or
a ``sql:`` query kept as the sqlglot expression it was parsed into (in the project's dialect),
so the engine renders it in its own dialect without reading it as canonical SQL. Its columns
are classified numeric / categorical / temporal by the engine. A source that matches
nothing is an error naming the closest model, source or table; only the prediction log of a
model that has not logged yet (declared with ``prediction_log: <model>``) is not: its checks
report ``no_data`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from featurekit.errors import MonitorError, did_you_mean
from featurekit.monitoring.query import Sql, describe, embedded

if TYPE_CHECKING:
    from sqlglot import exp

    from featurekit.monitoring.config import Monitor
    from featurekit.project import Project


@dataclass
class Source:
    """Where a monitor's rows come from, as a fragment of its queries (``... AS alias``)."""

    sql: Sql | None  # None: the table does not exist (yet)
    label: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> kind
    model: str | None = None
    missing: str = ""


def resolve_relation(project: Project, name: str) -> tuple[str | None, str | None]:
    """(quoted relation, model name) for a model, a declared source or an existing table."""
    from sqlglot import exp

    engine = project.engine
    schema, _, table_name = name.rpartition(".")
    resolved = project.resolve(exp.to_table(name))
    if resolved is not None:
        found_schema, relation, _ = resolved
        model = name if name in project.models else None
        if engine.relation_kind(relation, found_schema) is None:
            what = "model" if model else "source"
            raise MonitorError(f"{what} {name} does not exist on target {project.target.name} "
                               f"yet; run `featurekit refresh` first")
        return engine.relation(relation, found_schema), model
    if engine.relation_kind(table_name, schema or None) is not None:
        return engine.relation(table_name, schema or None), None
    return None, None


def _rewrite_sql(project: Project, monitor: Monitor) -> exp.Expression:
    """A ``sql:`` source in the project dialect, with its tables qualified, checked for the
    target (a construct the target cannot run is a CompileError at the monitor's line)."""
    from sqlglot import exp

    from featurekit.sql import parse, qualified_table, render, rewrite_tables

    engine = project.engine
    where = monitor.where(monitor.lines.get("sql", monitor.lines.get("source")))
    expression = parse(str(monitor.sql), project.settings.dialect, where)

    def replace(table: exp.Table) -> exp.Expression | None:
        alias = table.alias or table.name
        resolved = project.resolve(table)
        if resolved is not None:
            schema, relation, _ = resolved
            return qualified_table(relation, schema, alias)
        if not table.db and engine.relation_kind(table.name) is not None:
            return qualified_table(table.name, engine.schema, alias)  # e.g. a prediction log
        return None

    rewritten = rewrite_tables(expression, replace)
    render(rewritten.copy(), engine.dialect, where, engine.unsupported(rewritten))
    if any(isinstance(node, (exp.Placeholder, exp.Parameter)) for node in rewritten.walk()):
        raise MonitorError(f"{where}: the query has a parameter marker (?, $1 or :name) but "
                           f"monitors pass no parameters; write the value into the query")
    return rewritten


def resolve_source(project: Project, monitor: Monitor) -> Source:
    engine = project.engine
    if monitor.sql is not None:
        source = Source(embedded(_rewrite_sql(project, monitor)), "sql")
    else:
        name = monitor.source
        assert name is not None
        relation, model = resolve_relation(project, name)
        if relation is None:
            if monitor.prediction_log is not None:  # prediction logs appear when a model logs
                return Source(None, name, missing=(
                    f"table {name} does not exist yet (nothing logged with "
                    f"log_predictions / log_outcomes)"))
            known = [*project.models, *project.sources, *engine.relation_names()]
            line = monitor.lines.get("source", monitor.lines.get("prediction_log"))
            raise MonitorError(
                f'{monitor.where(line)}: unknown source "{name}"{did_you_mean(name, known)}; '
                f"it is neither a model, a source in sources.yml nor a table in schema "
                f"{engine.schema} (for the prediction log of a model that has not logged yet, "
                f"write `prediction_log: <model>`)"
            )
        source = Source(Sql(relation), name, model=model)
    described = describe(engine, "SELECT * FROM " + source.sql + " AS src")
    source.columns = {name: engine.column_kind(kind) for name, kind in described}
    return source
