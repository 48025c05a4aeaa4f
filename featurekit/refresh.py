"""``featurekit refresh``: run what is due, in dependency order, and record every run.

Independent models run at once up to the target's ``threads`` on engines with concurrent
writers (PostgreSQL), each on its own connection; DuckDB has one writer. Each model runs
under a per-model lock, so two schedulers never refresh one model at the same time: the
second skips it and says so.
"""

from __future__ import annotations

import queue
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from featurekit.errors import FeaturekitError
from featurekit.incremental import build_window, window_start
from featurekit.plan import PlanItem, plan_refresh
from featurekit.seeds import check_tables, load_seed, stale_seeds
from featurekit.state import FAILED, SUCCESS, LastRun, State, as_naive_utc, utcnow

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.model import Model
    from featurekit.project import Project

SKIPPED, UP_TO_DATE, DUE = "skipped", "up_to_date", "due"


@dataclass
class ModelResult:
    """What happened to one model in one refresh (or, in a dry run, what would)."""

    model: str
    status: str  # success | failed | skipped | up_to_date | due (dry run)
    action: str = ""  # built, rebuilt, refreshed, incremental, created view, ...
    rows: int | None = None
    seconds: float = 0.0
    message: str = ""  # what went wrong, or why it was skipped
    reason: str = ""  # why it was due (or not): the plan's verdict


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
    high_water_mark: datetime | None


Event = Callable[[str, str, "ModelResult | None"], None]
#: ``after_model(engine, model)``, run once a model is built or found up to date; a message
#: it returns (e.g. "tests failed") stops the model's descendants
AfterModel = Callable[["Engine", str], "str | None"]


def lock_key(engine: Engine, model: str) -> str:
    return f"featurekit refresh {engine.schema}.{model}"


def _driver_errors() -> tuple[type[BaseException], ...]:
    """Database errors that mean "this model failed", whichever drivers are loaded."""
    errors: list[type[BaseException]] = [FeaturekitError]
    for driver in ("duckdb", "psycopg"):
        if driver in sys.modules:
            errors.append(sys.modules[driver].Error)
    return tuple(errors)


def recover_interrupted(engine: Engine, state: State) -> list[str]:
    """Mark runs left 'running' by a process that died; returns their models.

    A run whose model lock can be taken has no live process behind it (PostgreSQL advisory
    locks die with their session; DuckDB admits one process per file).
    """
    recovered = []
    for run_id, model in state.interrupted_runs():
        with engine.lock(lock_key(engine, model)) as free:
            if free:
                state.mark_interrupted(run_id)
                recovered.append(model)
    return recovered


def run_refresh(project: Project, select: list[str] | None = None, full_refresh: bool = False,
                all_models: bool = False, dry_run: bool = False,
                on_event: Event | None = None,
                should_stop: Callable[[], bool] | None = None,
                exclude: list[str] | None = None,
                after_model: AfterModel | None = None,
                also_sources: Iterable[str] = ()) -> list[ModelResult]:
    """Refresh the selected models that are due (all of them with ``all_models``).

    Every selected model is compiled first, so SQL the target cannot run stops the refresh
    before anything is written. A failing model's descendants are skipped; others go on.
    ``dry_run`` returns the plan (status ``due`` / ``up_to_date`` with reasons) and builds
    nothing: no seed is loaded, no model run (runs left by dead processes are still marked
    interrupted, as that is what they are). ``after_model`` (``build``) also passes the models
    that are up to date through the runner, so each is handed over once its parents settled;
    ``also_sources`` are seeds its tests read, loaded like the models' own.
    """
    notify = on_event or (lambda kind, model, result: None)
    selected = project.select(select, exclude)
    compiled = {name: project.compile_model(name) for name in selected}
    engine = project.engine
    state = State(engine)
    state.ensure()
    for model in recover_interrupted(engine, state):
        notify("recovered", model, None)
    read = {s for name in selected for s in project.models[name].sources}
    sources = [project.sources[s] for s in sorted(read | set(also_sources))]
    check_tables(engine, sources)
    seed_times: dict[str, datetime | None] = dict(state.seed_times())
    for source, digest in stale_seeds(engine, state, sources, force=full_refresh):
        seed_times[source.name] = None
        if not dry_run:
            load = load_seed(engine, state, source, digest)
            notify("seed", load.name, ModelResult(load.name, SUCCESS, "loaded seed", load.rows))

    last_runs = state.last_runs()
    fingerprints = {name: project.fingerprint(name, compiled[name]) for name in selected}
    force = "--full-refresh" if full_refresh else "--all" if all_models else None
    plan = plan_refresh(project, selected, last_runs, fingerprints, seed_times,
                        exists=lambda name: engine.relation_kind(name) is not None,
                        now=utcnow(), force=force)
    if dry_run:
        return [ModelResult(i.model, DUE if i.due else UP_TO_DATE, reason=i.reason)
                for i in plan]
    results = []
    for item in plan:
        if not item.due and after_model is None:
            result = ModelResult(item.model, UP_TO_DATE, reason=item.reason)
            results.append(result)
            notify("finish", item.model, result)
    runner = _Runner(project, engine, compiled, fingerprints, last_runs, full_refresh, notify,
                     should_stop or (lambda: False), after_model)
    runner.up_to_date = {i.model for i in plan if not i.due} if after_model else set()
    reasons = {item.model: item.reason for item in plan}
    for result in runner.run([i for i in plan if i.due or after_model]):
        result.reason = reasons.get(result.model, "its table was dropped by a rebuild upstream")
        results.append(result)
    order = {name: index for index, name in enumerate(project.graph.order)}
    return sorted(results, key=lambda r: order[r.model])


class _Runner:
    """Runs due models as their parents finish, on as many connections as the engine allows."""

    def __init__(self, project: Project, engine: Engine, compiled: dict[str, str],
                 fingerprints: dict[str, str], last_runs: dict[str, LastRun],
                 full_refresh: bool, notify: Event, should_stop: Callable[[], bool],
                 after_model: AfterModel | None = None):
        self.project = project
        self.after_model = after_model
        self.up_to_date: set[str] = set()  # models handed to after_model without a build
        self.stopped: dict[str, str] = {}  # model -> why after_model stops its descendants
        self.engine = engine
        self.compiled = compiled
        self.fingerprints = fingerprints
        self.last_runs = last_runs
        self.full_refresh = full_refresh
        self.notify = notify
        self.should_stop = should_stop
        self.invocation = uuid.uuid4().hex
        self.workers = max(1, engine.target.threads) if engine.concurrent_writers else 1
        self.connections: queue.Queue[Engine] = queue.Queue()
        self.connections.put(engine)
        self.opened: list[Engine] = []

    def run(self, due: list[PlanItem]) -> list[ModelResult]:
        graph = self.project.graph
        in_run = {item.model for item in due}
        pending = [name for name in graph.order if name in in_run]
        done: dict[str, ModelResult] = {}
        running: dict[Future[ModelResult], str] = {}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            try:
                while pending or running:
                    if self.should_stop():
                        for name in pending:
                            self._finish(done, ModelResult(
                                name, SKIPPED, message="stopped before it started"))
                        pending.clear()
                    for name in list(pending):
                        if len(running) >= self.workers:
                            break
                        parents = [p for p in self.project.models[name].depends_on
                                   if p in in_run]
                        if any(p not in done for p in parents):
                            continue
                        pending.remove(name)
                        broken = [p for p in parents
                                  if done[p].status not in (SUCCESS, UP_TO_DATE)]
                        stopped = [self.stopped[p] for p in self.project.models[name].depends_on
                                   if p in self.stopped]
                        if broken or stopped:
                            why = (f"upstream {', '.join(broken)} did not succeed" if broken
                                   else "; ".join(stopped))
                            self._finish(done, ModelResult(name, SKIPPED, message=why))
                            continue
                        if name not in self.up_to_date:
                            self.notify("start", name, None)
                        running[pool.submit(self._run_locked, name)] = name
                    if not running:
                        continue
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        result = future.result()
                        running.pop(future)
                        self._finish(done, result)
                        if result.status == SUCCESS:
                            self._add_dropped_children(result.model, in_run, pending)
            finally:
                for connection in self.opened:
                    connection.close()
        return list(done.values())

    def _finish(self, done: dict[str, ModelResult], result: ModelResult) -> None:
        done[result.model] = result
        self.notify("finish", result.model, result)

    def _add_dropped_children(self, name: str, in_run: set[str], pending: list[str]) -> None:
        """A rebuild may drop dependent views (PostgreSQL CASCADE): put them back now.

        A child never built is left alone: it was not dropped, and it was not selected.
        """
        order = self.project.graph.order
        for child in self.project.graph.children[name]:
            if (child in in_run or child not in self.last_runs
                    or self.engine.relation_kind(child) is not None):
                continue
            in_run.add(child)
            self.compiled[child] = self.project.compile_model(child)
            self.fingerprints[child] = self.project.fingerprint(child, self.compiled[child])
            pending.append(child)
            pending.sort(key=order.index)

    def _connection(self) -> Engine:
        try:
            return self.connections.get_nowait()
        except queue.Empty:
            engine = self.engine.clone()
            self.opened.append(engine)
            return engine

    def _run_locked(self, name: str) -> ModelResult:
        engine = self._connection()
        try:
            if name in self.up_to_date:
                result = ModelResult(name, UP_TO_DATE)
            else:
                with engine.lock(lock_key(engine, name)) as acquired:
                    if not acquired:
                        return ModelResult(name, SKIPPED, message=(
                            "another featurekit process is refreshing it right now; skipped"))
                    result = self._run_model(engine, self.project.models[name])
            if self.after_model is not None and result.status in (SUCCESS, UP_TO_DATE):
                stop = self.after_model(engine, name)
                if stop:
                    self.stopped[name] = stop
            return result
        finally:
            self.connections.put(engine)

    def _upstream_redefined(self, name: str, last: LastRun) -> bool:
        """Whether a model upstream changed its SQL since this one last succeeded.

        Its older rows may then differ, so an incremental model reading it (directly or not)
        must be rebuilt whole rather than from its high-water mark.
        """
        for ancestor in self.project.graph.ancestors(name):
            before = self.last_runs.get(ancestor)
            if ancestor in self.fingerprints and (
                before is None or before.fingerprint != self.fingerprints[ancestor]
            ):
                return True  # redefined in this very refresh
            if before and before.redefined_at and before.redefined_at > last.last_success:
                return True
        return False

    def _run_model(self, engine: Engine, model: Model) -> ModelResult:
        started = time.perf_counter()
        state = State(engine)
        last = self.last_runs.get(model.name)
        fingerprint = self.fingerprints[model.name]
        rebuild = self.full_refresh or last is None or last.fingerprint != fingerprint
        if model.materialized == "incremental" and not rebuild:
            rebuild = self._upstream_redefined(model.name, last)
        run_id = state.start_run(model.name, model.materialized, fingerprint, self.invocation)
        window_from: datetime | None = None  # set when only a window was recomputed
        try:
            start = window_start(model, last) if model.materialized == "incremental" else None
            if start is not None and not rebuild and engine.relation_kind(model.name):
                windowed = self.project.compile_model(model.name, start - model.lookback)
                rows = build_window(engine, model, windowed, start)
                action, window_from = f"incremental from {start:%Y-%m-%d %H:%M:%S}", start
            else:
                action, rows = materialize(engine, model, self.compiled[model.name], rebuild)
            high_water = high_water_mark(engine, model)
        except _driver_errors() as exc:
            message = str(exc).strip()
            if not isinstance(exc, FeaturekitError):
                message = f"model {model.name} ({model.path}): {message}"
            state.finish_run(run_id, FAILED, error=message)
            return ModelResult(model.name, FAILED, seconds=time.perf_counter() - started,
                               message=message)
        state.finish_run(run_id, SUCCESS, rows=rows, high_water_mark=high_water,
                         window=(window_from, high_water if window_from else None))
        return ModelResult(model.name, SUCCESS, action, rows, time.perf_counter() - started)


def materialize(engine: Engine, model: Model, sql: str, rebuild: bool) -> tuple[str, int | None]:
    """Build one model whole, as its ``materialized:`` says; returns (action, rows)."""
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
    time_column = model.timestamp if model.materialized == "incremental" else None
    rows = engine.replace_table(model.name, sql, model.unique_key, time_column)
    return ("built" if kind is None else "rebuilt"), rows


def high_water_mark(engine: Engine, model: Model) -> datetime | None:
    """The newest timestamp in the model's output (freshness and incremental windows)."""
    if not model.timestamp or model.materialized == "view":
        return None
    value = engine.fetchall(
        f"SELECT max({engine.quote(model.timestamp)}) FROM {engine.relation(model.name)}"
    )[0][0]
    return as_naive_utc(value) if isinstance(value, date) else None  # datetime is a date


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
            high_water_mark=last.high_water_mark if last else None,
        ))
    return statuses
