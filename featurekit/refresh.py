"""``featurekit refresh``: materialize models in dependency order and record each run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from featurekit.errors import FeaturekitError
from featurekit.seeds import check_tables, load_seeds
from featurekit.state import FAILED, SUCCESS, State

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.model import Model
    from featurekit.project import Project

SKIPPED, UP_TO_DATE = "skipped", "up_to_date"


@dataclass
class ModelResult:
    """What happened to one model in one refresh."""

    model: str
    status: str  # success | failed | skipped | up_to_date
    action: str = ""  # built, rebuilt, refreshed, created view, ...
    rows: int | None = None
    seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class ModelStatus:
    """One row of ``featurekit ls``."""

    model: str
    materialized: str
    entity: list[str]
    refresh: str | None
    last_success: datetime | None
    rows: int | None
    status: str | None
    error: str | None


Event = Callable[[str, str, "ModelResult | None"], None]


def _driver_errors() -> tuple[type[BaseException], ...]:
    """Database errors that mean "this model failed", whichever drivers are loaded."""
    import sys

    errors: list[type[BaseException]] = [FeaturekitError]
    if "duckdb" in sys.modules:
        errors.append(sys.modules["duckdb"].Error)
    if "psycopg" in sys.modules:
        errors.append(sys.modules["psycopg"].Error)
    return tuple(errors)


def run_refresh(project: Project, select: list[str] | None = None, full_refresh: bool = False,
                on_event: Event | None = None) -> list[ModelResult]:
    """Materialize the selected models in dependency order.

    A failing model's descendants are skipped; independent models still run. Every model is
    compiled before anything runs, so SQL the target cannot run stops the refresh up front.
    """
    notify = on_event or (lambda kind, model, result: None)
    selected = project.graph.select(select)
    compiled = {name: project.compile_model(name) for name in selected}
    engine = project.engine
    state = State(engine)
    state.ensure()
    needed_sources = sorted({s for name in selected for s in project.models[name].sources})
    sources = [project.sources[s] for s in needed_sources]
    check_tables(engine, sources)
    for load in load_seeds(engine, state, sources, force=full_refresh):
        if load.rows is not None:
            notify("seed", load.name, ModelResult(load.name, SUCCESS, "loaded seed", load.rows))

    last_runs = state.last_runs()
    invocation = uuid.uuid4().hex
    results: dict[str, ModelResult] = {}
    ran: set[str] = set()
    for name in project.graph.order:
        model = project.models[name]
        if name not in compiled:
            # A rebuild upstream may have dropped this relation (PostgreSQL CASCADE): rebuild it.
            dropped = any(p in ran for p in model.depends_on) and not engine.relation_kind(name)
            if not dropped:
                continue
            compiled[name] = project.compile_model(name)
        broken = [p for p in model.depends_on if p in results and results[p].status in
                  (FAILED, SKIPPED)]
        if broken:
            result = ModelResult(name, SKIPPED, message=f"upstream {', '.join(broken)} failed")
            results[name] = result
            notify("finish", name, result)
            continue
        notify("start", name, None)
        last = last_runs.get(name)
        fingerprint = project.fingerprint(name)
        rebuild = full_refresh or last is None or last.fingerprint != fingerprint
        result = _run_model(engine, state, model, compiled[name], fingerprint, rebuild, invocation)
        results[name] = result
        if result.status == SUCCESS:
            ran.add(name)
        notify("finish", name, result)
    return list(results.values())


def _run_model(engine: Engine, state: State, model: Model, sql: str, fingerprint: str,
               rebuild: bool, invocation: str) -> ModelResult:
    started = time.perf_counter()
    run_id = state.start_run(model.name, model.materialized, fingerprint, invocation)
    try:
        action, rows = materialize(engine, model, sql, rebuild)
        high_water = _high_water_mark(engine, model)
    except _driver_errors() as exc:
        message = str(exc).strip()
        if not isinstance(exc, FeaturekitError):
            message = f"model {model.name} ({model.path.name}): {message}"
        state.finish_run(run_id, FAILED, error=message)
        return ModelResult(model.name, FAILED, seconds=time.perf_counter() - started,
                           message=message)
    state.finish_run(run_id, SUCCESS, rows=rows, high_water_mark=high_water)
    return ModelResult(model.name, SUCCESS, action, rows, time.perf_counter() - started)


def materialize(engine: Engine, model: Model, sql: str, rebuild: bool) -> tuple[str, int | None]:
    """Build one model as its ``materialized:`` says; returns (action, rows)."""
    kind = engine.relation_kind(model.name)
    if model.materialized == "view":
        if kind == "view" and not rebuild:
            return "view up to date", None
        engine.create_view(model.name, sql)
        return "created view", None
    if model.materialized == "materialized_view":
        native = engine.native_materialized_views
        rebuild = rebuild or (native and kind != "materialized_view")
        rows = engine.materialized_view(model.name, sql, model.unique_key, rebuild)
        if kind is None:
            return "built", rows
        return ("rebuilt" if rebuild or not native else "refreshed"), rows
    rows = engine.replace_table(model.name, sql, model.unique_key)
    return ("built" if kind is None else "rebuilt"), rows


def _high_water_mark(engine: Engine, model: Model) -> datetime | None:
    """The newest timestamp in the model's output (freshness and incremental windows)."""
    if not model.timestamp or model.materialized == "view":
        return None
    value = engine.fetchall(
        f"SELECT max({engine.quote(model.timestamp)}) FROM {engine.relation(model.name)}"
    )[0][0]
    return value if isinstance(value, datetime) else None


def model_statuses(project: Project) -> list[ModelStatus]:
    state = State(project.engine)
    state.ensure()
    runs = state.last_runs()
    statuses = []
    for name in project.graph.order:
        model, last = project.models[name], runs.get(name)
        statuses.append(ModelStatus(
            model=name,
            materialized=model.materialized,
            entity=model.entity,
            refresh=model.refresh,
            last_success=last.last_success if last else None,
            rows=last.rows if last else None,
            status=last.status if last else None,
            error=last.error if last else None,
        ))
    return statuses
