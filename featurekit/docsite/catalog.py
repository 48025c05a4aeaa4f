"""What the docs site shows, gathered in one place: every model and source of a project with
its header, columns (types from the database once built), lineage, last refresh, freshness,
compiled SQL, tests and the monitors watching it.

``collect(project)`` returns plain JSON-ready data; the site embeds it whole, so the page
needs no other file. The database is only read: a project never refreshed (no run state yet)
still documents every model, marked "never refreshed".
"""

from __future__ import annotations

import csv
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurekit.docsite.layout import layout
from featurekit.docsite.lineage import project_lineage
from featurekit.state import utcnow

if TYPE_CHECKING:
    from sqlglot import exp

    from featurekit.engines.base import Engine
    from featurekit.model import Model
    from featurekit.project import Project
    from featurekit.sources import Source

HISTORY_POINTS = 60  # per monitor check, for the small history chart


def collect(project: Project) -> dict[str, Any]:
    """The documentation of ``project`` as one JSON-ready dict (see the module docstring)."""
    engine = project.engine
    facts = _DatabaseFacts(project, engine)
    source_columns = {name: [c for c, _ in facts.columns(_relation(project, s))]
                      or _seed_header(s) for name, s in project.sources.items()}
    expressions = {name: _named_inputs(project, m) for name, m in project.models.items()}
    lineage = project_lineage(project.models, project.graph.order, expressions, source_columns,
                              project.settings.dialect)
    monitors = _monitors_by_node(project)
    nodes: list[dict[str, Any]] = []
    for name, source in sorted(project.sources.items()):
        types = dict(facts.columns(_relation(project, source)))
        nodes.append({
            "id": name, "kind": "source", "name": name, "description": source.description,
            "relation": source.relation, "seed": str(source.seed) if source.seed else None,
            "timestamp": source.timestamp,
            "columns": [{"name": c, "type": types.get(c), "description": "", "upstream": []}
                        for c in source_columns[name]],
            "freshness": facts.source_freshness.get(name),
            "monitors": facts.monitor_views(monitors.get(name, [])),
            "depends_on": [],
        })
    for name in project.graph.order:
        nodes.append(_model_node(project, facts, name, lineage[name], monitors.get(name, [])))
    edges = [(parent, n["id"]) for n in nodes for parent in n["depends_on"]]
    placed = layout([n["id"] for n in nodes], edges)
    for node in nodes:
        node["layer"], node["row"] = placed[node["id"]].layer, placed[node["id"]].row
    return {
        "project": project.root.name,
        "target": f"{project.target.name} ({project.target.describe()})",
        "generated_at": _iso(utcnow()),
        "refreshed": facts.refreshed,
        "nodes": nodes,
        "edges": edges,
    }


def _model_node(project: Project, facts: _DatabaseFacts, name: str, lineage: Any,
                monitors: list[Any]) -> dict[str, Any]:
    model = project.models[name]
    types = dict(facts.columns((project.target.schema, name))) if name in facts.runs else {}
    names = lineage.columns or list(types)
    last = facts.runs.get(name)
    try:
        compiled, compile_error = project.compile_model(name, pretty=True), ""
    except Exception as exc:  # noqa: BLE001 - shown on the page; `featurekit compile` raises it
        compiled, compile_error = "", str(exc)
    return {
        "id": name, "kind": "model", "name": name, "description": model.description,
        "path": str(model.path), "materialized": model.materialized,
        "entity": model.entity, "timestamp": model.timestamp,
        "ttl": _duration(model.ttl), "lookback": _duration(model.lookback),
        "refresh": model.refresh, "tags": model.tags,
        "depends_on": [*model.sources, *model.depends_on],
        "columns": [{"name": c, "type": types.get(c), "description": model.columns.get(c, ""),
                     "upstream": [list(p) for p in lineage.upstream.get(c, [])]}
                    for c in names],
        "lineage_error": lineage.error,
        "last_run": None if last is None else {
            "status": last.status, "last_success": _iso(last.last_success),
            "rows": last.rows, "error": last.error,
            "high_water_mark": _iso(last.high_water_mark)},
        "freshness": _model_freshness(model.refresh, last.last_success if last else None),
        "sql": model.sql.strip(), "compiled_sql": compiled, "compile_error": compile_error,
        "tests": model_tests(project, facts, name),
        "monitors": facts.monitor_views(monitors),
    }


def model_tests(project: Project, facts: _DatabaseFacts, name: str) -> list[dict[str, Any]]:
    """The data tests about a model (its header's, and singular tests reading it) with their
    latest results (``featurekit test`` / ``build``)."""
    found = []
    for test in project.tests.values():
        if test.model != name and not (test.model is None and name in test.depends_on):
            continue
        latest = facts.test_results.get(test.name)
        found.append({
            "name": test.name, "kind": test.kind, "column": ", ".join(test.columns),
            "severity": test.severity, "path": f"{test.path.as_posix()}:{test.line}",
            "status": latest["status"] if latest else None,
            "failures": latest["failures"] if latest else None,
            "at": _iso(latest["finished_at"]) if latest else None,
            "message": latest["message"] if latest else "",
        })
    return found


class _DatabaseFacts:
    """What the target database knows: runs, relation columns, source freshness, monitor
    results. Reads only; every table it reads may be missing (nothing refreshed yet)."""

    def __init__(self, project: Project, engine: Engine):
        self.engine = engine
        self._columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
        meta = engine.metadata_schema
        state = project.state_store.state
        self.refreshed = state.exists()
        self.runs = {name: run for name, run in state.last_runs().items()
                     if name in project.models} if self.refreshed else {}
        self.source_freshness: dict[str, dict[str, Any]] = {}
        if any(s.freshness and s.timestamp for s in project.sources.values()):
            for found in project.freshness(record=False):
                self.source_freshness[found.source] = {
                    "status": found.status, "newest": _iso(found.newest),
                    "age_seconds": found.age_seconds, "message": found.message}
        self.test_results = self._test_results() if self.refreshed else {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        if engine.relation_kind("monitor_results", meta) is not None:
            from featurekit.monitoring.results import Results

            for row in Results(engine).history(sorted(project.monitors), HISTORY_POINTS):
                self.history.setdefault(row["monitor"], []).append(row)

    def _test_results(self) -> dict[str, dict[str, Any]]:
        """The latest result of each data test, by test name."""
        from featurekit.testrun import TABLE

        engine = self.engine
        if engine.relation_kind(TABLE, engine.metadata_schema) is None:
            return {}
        rows = engine.rows(
            f"SELECT test, status, failures, message, finished_at FROM "
            f"{engine.relation(TABLE, engine.metadata_schema)} "
            f"WHERE target_schema = :target_schema ORDER BY finished_at",
            {"target_schema": engine.schema})
        keys = ("status", "failures", "message", "finished_at")
        return {row[0]: dict(zip(keys, row[1:])) for row in rows}  # the last one wins

    def columns(self, relation: tuple[str, str]) -> list[tuple[str, str]]:
        """(column, type) of a built relation; [] before the first refresh."""
        if not self.refreshed:
            return []
        if relation not in self._columns:
            schema, table = relation
            self._columns[relation] = self.engine.columns(table, schema)
        return self._columns[relation]

    def monitor_views(self, monitors: list[Any]) -> list[dict[str, Any]]:
        """Each monitor with its checks' latest status and recent history."""
        out = []
        for monitor in monitors:
            series: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
            for row in self.history.get(monitor.name, []):
                series.setdefault((row["check"], row["column"]), []).append(row)
            checks = []
            for (check, column), rows in sorted(series.items(), key=lambda x: str(x[0])):
                latest = rows[-1]
                checks.append({
                    "check": check, "column": column, "status": latest["status"],
                    "statistic": latest["statistic"], "as_of": _iso(latest["as_of"]),
                    "history": [[_iso(r["as_of"]), r["statistic"], r["status"]]
                                for r in rows[-HISTORY_POINTS:]],
                })
            out.append({"name": monitor.name, "path": str(monitor.path),
                        "description": getattr(monitor, "description", ""),
                        "tests": sorted({c.test for c in monitor.checks}), "checks": checks})
        return out


def _monitors_by_node(project: Project) -> dict[str, list[Any]]:
    """The monitors reading each model or source (``source:``, or a table in ``sql:``)."""
    import sqlglot

    from featurekit.sql import table_references

    found: dict[str, list[Any]] = {}
    for monitor in project.monitors.values():
        names = {monitor.source} if monitor.source else set()
        if monitor.sql:
            try:
                query = sqlglot.parse_one(monitor.sql, dialect=project.settings.dialect)
                names |= {ref.name for ref in table_references(query)}
            except sqlglot.errors.ParseError:
                pass  # `featurekit monitor` reports it; the docs just cannot link it
        for name in names:
            if name in project.models or name in project.sources:
                found.setdefault(name, []).append(monitor)
    return found


def _named_inputs(project: Project, model: Model) -> exp.Expression:
    """The model's query, freshly parsed (lineage qualifies it in place), with each table
    reference named as the model or source it reads (the lineage's keys)."""
    import sqlglot
    from sqlglot import exp

    # Parsing again is cheaper than copying the parsed query (a deep copy in Python).
    query = sqlglot.parse_one(model.sql, read=project.settings.dialect)
    relations = {s.relation.lower(): s.name for s in project.sources.values()}
    for table in list(query.find_all(exp.Table)):
        if not table.db:
            continue  # a model, a seed or a CTE: already named so
        name = relations.get(".".join(p.name for p in table.parts).lower())
        if name is not None:
            table.replace(exp.table_(name, alias=table.alias or table.name))
    return query


def _relation(project: Project, source: Source) -> tuple[str, str]:
    schema, relation = project.target.schema, source.name
    if source.seed is None:
        schema, _, relation = source.relation.rpartition(".")
    return schema or project.target.schema, relation


def _seed_header(source: Source) -> list[str]:
    """A seed's column names from its CSV header (before it is loaded)."""
    if source.seed is None or not source.seed.is_file():
        return []
    with source.seed.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def _model_freshness(schedule: str | None, last_success: datetime | None) -> dict[str, Any]:
    """Whether the model is within its schedule (``late``: past its next due time)."""
    if last_success is None:
        return {"status": "never", "next_due": None}
    if schedule is None:
        return {"status": "ok", "next_due": None}
    from featurekit.schedule import next_due

    due = next_due(schedule, last_success)
    return {"status": "late" if due < utcnow() else "ok", "next_due": _iso(due)}


def _duration(value: Any) -> str | None:
    from featurekit.durations import format_duration

    return format_duration(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
