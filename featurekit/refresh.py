"""``featurekit refresh``: run what is due, in dependency order, and record every run.

Independent models run at once up to the target's ``threads`` on engines with concurrent
writers (PostgreSQL), each on its own connection; DuckDB has one writer. Each model runs
under a per-model lock, so two schedulers never refresh one model at the same time: the
second skips it and says so.
"""

from __future__ import annotations

import queue
import re
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from featurekit.errors import FeaturekitError, without_sql_excerpt
from featurekit.incremental import build_window, high_water_mark, window_start
from featurekit.plan import PlanItem, plan_refresh
from featurekit.seeds import check_tables, load_seed, stale_seeds
from featurekit.state import FAILED, INTERRUPTED, RUNNING, SUCCESS, LastRun, State, utcnow

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


def _query_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """What a failed query raises: featurekit's own errors and the engine's driver's."""
    return (FeaturekitError, *engine.errors)


def dead_runs(state: State, last_runs: dict[str, LastRun]) -> list[str]:
    """Models whose latest run is still marked running but has no live process behind it.

    Only a model's latest run can still be running: a run starts under the model's lock,
    and each refresh first marks the dead ones. A run whose lock can be taken has no live
    process behind it (advisory locks die with their session; an engine without concurrent
    writers admits one process). The locks are the state store's: a store with concurrent
    writers but no advisory locks cannot tell, so its running rows are left as they are.
    """
    store = state.engine
    if store.concurrent_writers and not store.advisory_locks:
        return []
    dead = []
    for model, last in last_runs.items():
        if last.status != RUNNING or last.run_id is None:
            continue
        with state.model_lock(model) as free:
            if free:
                dead.append(model)
    return dead


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
    ``dry_run`` returns the plan (status ``due`` / ``up_to_date`` with reasons) and changes
    nothing: it reads through a read-only connection (no metadata tables, schema or database
    file is created, no seed loaded, no run recorded or marked interrupted). ``after_model``
    (``build``) also passes the models that are up to date through the runner, so each is
    handed over once its parents settled; ``also_sources`` are seeds its tests read, loaded
    like the models' own.
    """
    notify = on_event or (lambda kind, model, result: None)
    selected = project.select(select, exclude)
    compiled = {name: project.compile_model(name) for name in selected}
    fingerprints = {name: project.fingerprint(name, compiled[name]) for name in selected}
    force = "--full-refresh" if full_refresh else "--all" if all_models else None
    read = {s for name in selected for s in project.models[name].sources}
    sources = [project.sources[s] for s in sorted(read | set(also_sources))]
    if dry_run:
        with project.reader() as engine, project.state_store.reader(engine) as state:
            check_tables(engine, sources)
            last_runs, seeds = (state.last_runs(), state.seeds()) if state.exists() else ({}, {})
            project.check({n: compiled[n] for n in
                           _changed(project, selected, last_runs, fingerprints)}, engine)
            for model in dead_runs(state, last_runs):  # what the real run will mark them
                last_runs[model] = replace(last_runs[model], status=INTERRUPTED)
            seed_times: dict[str, datetime | None] = {n: at for n, (_, at) in seeds.items()}
            for source, _ in stale_seeds(engine, {n: h for n, (h, _) in seeds.items()},
                                         sources, force=full_refresh):
                seed_times[source.name] = None
            plan = plan_refresh(project, selected, last_runs, fingerprints, seed_times,
                                exists=lambda name: engine.relation_kind(name) is not None,
                                now=utcnow(), force=force)
        return [ModelResult(i.model, DUE if i.due else UP_TO_DATE, reason=i.reason)
                for i in plan]

    engine = project.engine
    state = project.state_store.state
    state.ensure()
    last_runs = state.last_runs()
    recovered = dead_runs(state, last_runs)
    for model in recovered:
        state.mark_interrupted(last_runs[model].run_id)
        notify("recovered", model, None)
    if recovered:
        last_runs = state.last_runs()
    check_tables(engine, sources)
    project.check({n: compiled[n] for n in _changed(project, selected, last_runs, fingerprints)},
                  engine)
    seeds = state.seeds()
    seed_times = {name: loaded for name, (_, loaded) in seeds.items()}
    for source, digest in stale_seeds(engine, {n: h for n, (h, _) in seeds.items()}, sources,
                                      force=full_refresh):
        seed_times[source.name] = None
        load = load_seed(engine, state, source, digest)
        notify("seed", load.name, ModelResult(load.name, SUCCESS, "loaded seed", load.rows))

    plan = plan_refresh(project, selected, last_runs, fingerprints, seed_times,
                        exists=lambda name: engine.relation_kind(name) is not None,
                        now=utcnow(), force=force)
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


def _changed(project: Project, selected: list[str], last_runs: dict[str, LastRun],
             fingerprints: dict[str, str]) -> list[str]:
    """Selected models new or changed since their last success, and their selected readers.

    Only these need the compile-time checks: the others ran with this very SQL (a schedule
    calling refresh every minute should not re-analyse an unchanged project).
    """
    changed = {
        name for name in selected
        if (last := last_runs.get(name)) is None or last.last_success is None
        or last.status != SUCCESS or last.fingerprint != fingerprints[name]
    }
    for name in list(changed):
        changed |= project.graph.descendants(name) & set(selected)
    return [name for name in selected if name in changed]


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
        # Each worker's target connection, with the state it records runs and locks through.
        self.connections: queue.Queue[tuple[Engine, State]] = queue.Queue()
        self.connections.put((engine, project.state_store.state))
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

    def _connection(self) -> tuple[Engine, State]:
        try:
            return self.connections.get_nowait()
        except queue.Empty:
            engine = self.engine.clone()
            self.opened.append(engine)
            state = self.project.state_store.worker(engine)
            if state.engine is not engine:
                self.opened.append(state.engine)
            return engine, state

    def _run_locked(self, name: str) -> ModelResult:
        engine, state = connection = self._connection()
        try:
            if name in self.up_to_date:
                result = ModelResult(name, UP_TO_DATE)
            else:
                with state.model_lock(name) as acquired:
                    if not acquired:
                        return ModelResult(name, SKIPPED, message=(
                            "another featurekit process is refreshing it right now; skipped"))
                    result = self._run_model(engine, state, self.project.models[name])
            if self.after_model is not None and result.status in (SUCCESS, UP_TO_DATE):
                stop = self.after_model(engine, name)
                if stop:
                    self.stopped[name] = stop
            return result
        finally:
            self.connections.put(connection)

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

    def _run_model(self, engine: Engine, state: State, model: Model) -> ModelResult:
        started = time.perf_counter()
        last = self.last_runs.get(model.name)
        fingerprint = self.fingerprints[model.name]
        rebuild = self.full_refresh or last is None or last.fingerprint != fingerprint
        if model.materialized == "incremental" and not rebuild:
            rebuild = self._upstream_redefined(model.name, last)
        run_id = state.start_run(model.name, model.materialized, fingerprint, self.invocation)
        try:
            start = window_start(model, last) if model.materialized == "incremental" else None
            if start is not None and not rebuild and engine.relation_kind(model.name):
                windowed = self.project.compile_model(model.name, start - model.lookback)

                def record(rows: int, high_water: datetime | None) -> None:
                    state.finish_run(run_id, SUCCESS, rows=rows, high_water_mark=high_water,
                                     window=(start, high_water))

                rows = build_window(engine, model, windowed, start, record)
                action = f"incremental from {start:%Y-%m-%d %H:%M:%S}"
                return ModelResult(model.name, SUCCESS, action, rows,
                                   time.perf_counter() - started)
            action, rows = materialize(engine, model, self.compiled[model.name], rebuild)
            high_water = high_water_mark(engine, model)
        except _query_errors(engine) as exc:
            message = str(exc).strip()
            if not isinstance(exc, FeaturekitError):
                message = database_error(model, message)
            state.finish_run(run_id, FAILED, error=message)
            return ModelResult(model.name, FAILED, seconds=time.perf_counter() - started,
                               message=message)
        state.finish_run(run_id, SUCCESS, rows=rows, high_water_mark=high_water)
        return ModelResult(model.name, SUCCESS, action, rows, time.perf_counter() - started)


def database_error(model: Model, message: str) -> str:
    """A database's error on a model's SQL, told against the model's file and line.

    The database saw the compiled SQL (qualified names, featurekit's staging relations): its
    excerpt of it means nothing to the user and is dropped (``without_sql_excerpt``), internal
    relation names become the model's, and the line is that of the first name or literal the
    message quotes that the model's file contains.
    """
    text = without_sql_excerpt(message).rstrip(":")
    text = re.sub(r"__fk_\w+", "", text)  # rider__fk_new, rider__fk_stage: the model's
    where = str(model.path)
    for quoted in re.findall(r"\"([^\"]+)\"|'([^']+)'", text):
        token = quoted[0] or quoted[1]
        found = re.search(rf"(?<![\w]){re.escape(token)}(?![\w])", model.sql)
        if token != model.name and found:
            where += f":{model.sql.count(chr(10), 0, found.start()) + 1}"
            break
    return f"{where}: model {model.name}: {text}"


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


def model_statuses(project: Project) -> list[ModelStatus]:
    with project.reader() as engine, project.state_store.reader(engine) as state:
        runs = state.last_runs() if state.exists() else {}
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
