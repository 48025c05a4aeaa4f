"""The project as data: ``build_manifest(project)`` and the ``target/*.json`` artifacts.

The manifest describes models, sources, data tests and monitors with their dependencies and
fingerprints (docs/artifacts.md lists every key; ``MANIFEST_VERSION`` changes when a key
changes meaning or disappears, never when one is added). ``featurekit docs`` and log
shippers read it; commands write it to ``target/manifest.json``, and what they did to
``target/run_results.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featurekit.datatests import DataTest
    from featurekit.project import Project

MANIFEST_VERSION = 1
RUN_RESULTS_VERSION = 1
TARGET_DIR = "target"


def build_manifest(project: Project, catalog: bool = True) -> dict[str, Any]:
    """The project as a JSON-ready dict (docs/artifacts.md).

    Args:
        project: the loaded project.
        catalog: read column types of built relations from the database (opens a
            connection); False describes the project from its files alone (types null).
    """
    from featurekit import __version__
    from featurekit.state import utcnow

    types = _column_types(project) if catalog else {}
    target = project.target
    models = {}
    for name in project.graph.order:
        model = project.models[name]
        compiled = project.compile_model(name)
        models[name] = {
            "name": name,
            "path": model.path.as_posix(),
            "description": model.description,
            "materialized": model.materialized,
            "entity": model.entity,
            "timestamp": model.timestamp,
            "refresh": model.refresh,
            "ttl": _seconds(model.ttl),
            "lookback": _seconds(model.lookback),
            "restate": _seconds(model.restate),
            "tags": model.tags,
            "relation": f"{target.schema}.{name}",
            "depends_on": {"models": model.depends_on, "sources": model.sources},
            "columns": _columns(model.columns, _declared_columns(model), types.get(name)),
            "tests": [t.name for t in model.tests],
            "fingerprint": project.fingerprint(name, compiled),
            "raw_sql": model.sql.strip(),
            "compiled_sql": compiled,
        }
    sources = {}
    for name, source in project.sources.items():
        schema, relation, _ = project.resolve(_table(source.relation)) or (None, name, None)
        sources[name] = {
            "name": name,
            "relation": f"{schema}.{relation}" if schema else relation,
            "seed": source.seed.relative_to(project.root).as_posix()
            if source.seed is not None and source.seed.is_relative_to(project.root)
            else (str(source.seed) if source.seed is not None else None),
            "timestamp": source.timestamp,
            "description": source.description,
            "freshness": None if source.freshness is None else {
                "warn_after": _seconds(source.freshness.warn_after),
                "error_after": _seconds(source.freshness.error_after)},
            "columns": _columns({}, None, types.get(f"source:{name}")),
        }
    return {
        "metadata": {
            "manifest_version": MANIFEST_VERSION,
            "featurekit_version": __version__,
            "generated_at": _iso(utcnow()),
            "project_root": str(project.root),
            "target": target.name,
            "target_type": target.type,
            "schema": target.schema,
            "metadata_schema": target.metadata_schema,
            "dialect": project.settings.dialect,
        },
        "models": models,
        "sources": sources,
        "tests": {name: test_entry(test) for name, test in project.tests.items()},
        "monitors": _monitors(project),
        "parent_map": {name: project.graph.parents[name] for name in project.graph.order},
        "child_map": {name: sorted(project.graph.children[name])
                      for name in project.graph.order},
    }


def test_entry(test: DataTest) -> dict[str, Any]:
    """One data test as the manifest lists it."""
    return {
        "name": test.name,
        "kind": test.kind,
        "model": test.model,
        "path": test.path.as_posix(),
        "line": test.line,
        "columns": test.columns,
        "severity": test.severity,
        "where": test.where,
        "options": test.options,
        "depends_on": {"models": test.depends_on, "sources": test.sources},
        "description": test.description,
    }


def _monitors(project: Project) -> dict[str, Any]:
    found = {}
    for name, monitor in project.monitors.items():
        found[name] = {
            "name": name,
            "path": Path(monitor.path).as_posix(),
            "source": monitor.source,
            "sql": monitor.sql,
            "timestamp": monitor.timestamp,
            "schedule": monitor.schedule,
            "depends_on": {"models": [monitor.source] if monitor.source in project.models
                           else [],
                           "sources": [monitor.source] if monitor.source in project.sources
                           else []},
            "checks": [{"name": c.name, "test": c.test, "columns": c.columns,
                        "warn": _plain(c.warn), "error": _plain(c.error), "line": c.line}
                       for c in monitor.checks],
        }
    return found


def _declared_columns(model: Any) -> list[str] | None:
    from featurekit.datatests import output_columns

    return output_columns(model.expression)


def _columns(described: dict[str, str], declared: list[str] | None,
             types: list[tuple[str, str]] | None) -> dict[str, dict[str, Any]]:
    """Columns in database order when built, else SQL order; descriptions from the header."""
    names = [c for c, _ in types] if types else list(declared or described)
    typed = dict(types or [])
    columns = {c: {"name": c, "type": typed.get(c), "description": described.get(c, "")}
               for c in names}
    for c, text in described.items():  # documented but not (yet) seen: keep the text
        columns.setdefault(c, {"name": c, "type": None, "description": text})
    return columns


def _column_types(project: Project) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of every built model and existing source, from the catalog."""
    engine = project.engine
    found: dict[str, list[tuple[str, str]]] = {}
    for name in project.models:
        columns = engine.columns(name)
        if columns:
            found[name] = columns
    for name, source in project.sources.items():
        resolved = project.resolve(_table(source.relation))
        if resolved is not None:
            columns = engine.columns(resolved[1], resolved[0])
            if columns:
                found[f"source:{name}"] = columns
    return found


def _table(relation: str) -> Any:
    from sqlglot import exp

    return exp.to_table(relation)


def _seconds(delta: Any) -> float | None:
    return delta.total_seconds() if delta is not None else None


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def _plain(value: Any) -> Any:
    from featurekit.jsonout import plain

    return plain(value)


def write_json(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` atomically: readers see the old file or the new one, never half."""
    from featurekit.jsonout import plain

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(plain(document), out, indent=2)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def result_entries(results: list[Any]) -> list[dict[str, Any]]:
    """``run_results.json`` entries for what a command returned (any featurekit result)."""
    entries = []
    for result in results:
        kind, name = _identify(result)
        entries.append({
            "unique_id": f"{kind}.{name}",
            "resource_type": kind,
            "name": name,
            "status": getattr(result, "status", None),
            "message": getattr(result, "message", "") or "",
            "seconds": getattr(result, "seconds", None),
            "details": _plain(result),
        })
    return entries


def _identify(result: Any) -> tuple[str, str]:
    if hasattr(result, "test"):
        if hasattr(result, "failures"):
            return "test", result.test
        # a monitor check result: monitor, check and column say which
        column = f".{result.column}" if getattr(result, "column", None) else ""
        return "monitor_check", f"{result.monitor}.{result.check}{column}"
    if hasattr(result, "source") and hasattr(result, "age_seconds"):
        return "source_freshness", result.source
    if hasattr(result, "model"):
        return "model", result.model
    return "result", str(result)


def write_artifacts(project: Project, command: str, invocation_id: str,
                    started_at: datetime, elapsed: float, exit_code: int,
                    results: list[Any], args: list[str] | None = None,
                    catalog: bool = True) -> list[Path]:
    """Write ``target/manifest.json`` and ``target/run_results.json`` under the project.

    run_results.json is written first, so a project that cannot be described (a broken
    monitor file: the FeaturekitError propagates) still leaves what the command did.
    """
    from featurekit import __version__
    from featurekit.state import utcnow

    folder = project.root / TARGET_DIR
    document = {
        "metadata": {
            "run_results_version": RUN_RESULTS_VERSION,
            "featurekit_version": __version__,
            "generated_at": _iso(utcnow()),
            "invocation_id": invocation_id,
            "command": command,
            "args": args or [],
            "target": project.target_name or project.target.name,
        },
        "started_at": _iso(started_at),
        "elapsed_seconds": elapsed,
        "exit_code": exit_code,
        "results": result_entries(results),
    }
    written = [write_json(folder / "run_results.json", document)]
    manifest = build_manifest(project, catalog=catalog)
    manifest["metadata"]["invocation_id"] = invocation_id
    written.insert(0, write_json(folder / "manifest.json", manifest))
    return written
