"""The Project facade: find and load a project, compile its models, and run what users ask.

Everything the CLI does goes through a method here, under the same name.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.dag import Graph
from featurekit.errors import ConfigError, ModelError, did_you_mean
from featurekit.model import Model, parse_model
from featurekit.services import FILE_NAME as SERVICES_FILE
from featurekit.services import FeatureService, load_feature_services
from featurekit.sources import Source, load_sources

if TYPE_CHECKING:
    from sqlglot import exp

    from featurekit.build import BuildResult
    from featurekit.datatests import DataTest
    from featurekit.engines.base import Engine
    from featurekit.freshness import SourceFreshness
    from featurekit.profiles import Target
    from featurekit.refresh import ModelResult, ModelStatus
    from featurekit.statestore import StateStore
    from featurekit.testrun import TestResult

SETTINGS_DEFAULTS = {
    "models": "models_sql",
    "monitors": "monitors",
    "seeds": "seeds",
    "tests": "tests_sql",
    "dialect": "duckdb",
    "profile": "featurekit",
}


@dataclass(frozen=True)
class Settings:
    """``[tool.featurekit]`` in pyproject.toml; every key has a default."""

    models: str = "models_sql"
    monitors: str = "monitors"
    seeds: str = "seeds"
    tests: str = "tests_sql"
    dialect: str = "duckdb"
    profile: str = "featurekit"


def find_project_root(start: str | Path = ".") -> Path:
    """The nearest folder (``start`` or a parent) with ``[tool.featurekit]`` or ``models_sql/``."""
    start = Path(start).resolve()
    if not start.is_dir():
        raise ConfigError(f"project directory {start} does not exist")
    for folder in (start, *start.parents):
        if _featurekit_table(folder / "pyproject.toml") is not None:
            return folder
        if (folder / SETTINGS_DEFAULTS["models"]).is_dir():
            return folder
    raise ConfigError(
        f"no featurekit project in {start} or its parents (looked for pyproject.toml with "
        f"[tool.featurekit], or a models_sql/ folder); run `featurekit init DIR` to create one"
    )


def _featurekit_table(pyproject: Path) -> dict[str, Any] | None:
    if not pyproject.is_file():
        return None
    try:
        document = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
    return document.get("tool", {}).get("featurekit")


def load_settings(root: Path) -> Settings:
    table = _featurekit_table(root / "pyproject.toml") or {}
    for key in table:
        if key not in SETTINGS_DEFAULTS:
            raise ConfigError(
                f'{root / "pyproject.toml"}: unknown [tool.featurekit] key "{key}"'
                f"{did_you_mean(key, SETTINGS_DEFAULTS)}; known: {', '.join(SETTINGS_DEFAULTS)}"
            )
    return Settings(**{key: str(value) for key, value in table.items()})


class Project:
    """A featurekit project: models, sources and one target database.

    Args:
        path: the project folder or any folder inside it.
        target: the profiles.yml output to use (default: ``FEATUREKIT_TARGET`` or the profile's).
        profiles_dir: where profiles.yml is (default: the project, then ~/.featurekit).

    Opening reads the settings, the sources and every model's header (entity, timestamp,
    ttl, schedule) and opens no connection: that is all training sets and online lookups
    need. The models' SQL is parsed and checked (syntax, references, cycles) the first time
    ``models`` or ``graph`` is used (compile, refresh, ls, ...); the database is reached the
    first time something needs it.
    """

    def __init__(self, path: str | Path = ".", target: str | None = None,
                 profiles_dir: str | Path | None = None):
        self.root = find_project_root(path)
        self.settings = load_settings(self.root)
        self.target_name = target
        self.profiles_dir = profiles_dir
        self.models_dir = self.root / self.settings.models
        self.sources: dict[str, Source] = load_sources(self.models_dir / "sources.yml", self.root,
                                                       self.root / self.settings.seeds)
        #: Every model by name, from its header; ``models`` is the same with the SQL parsed.
        self.headers: dict[str, Model] = self._load_headers()
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r}, models={len(self.headers)})"

    # -- loading ------------------------------------------------------------------------
    @property
    def models(self) -> dict[str, Model]:
        """Every model by name, its SQL parsed and its references resolved (on first use)."""
        return self._parsed[0]

    @property
    def graph(self) -> Graph:
        """The models' dependency graph (built, and checked for cycles, on first use)."""
        return self._parsed[1]

    @cached_property
    def _parsed(self) -> tuple[dict[str, Model], Graph]:
        # sqlglot is a heavy import and parsing is the slow part of opening a project, which
        # reading features never needs: it happens here, once, when something first does.
        from featurekit.sql import parse

        models = self.headers
        for model in models.values():
            if model.expression is None:
                model.expression = parse(model.sql, self.settings.dialect, model.path)
        for model in models.values():
            self._resolve_references(model, models)
        return models, Graph({name: model.depends_on for name, model in models.items()})

    @cached_property
    def feature_services(self) -> dict[str, FeatureService]:
        """Named feature lists from ``feature_services.yml``, checked against the models."""
        return load_feature_services(self.models_dir / SERVICES_FILE, self.root, self.models)

    @cached_property
    def tests(self) -> dict[str, DataTest]:
        """Every data test by name: model headers' and ``tests_sql/*.sql`` (on first use)."""
        return self._load_tests()

    def _load_headers(self) -> dict[str, Model]:
        if not self.models_dir.is_dir():
            raise ConfigError(f"models folder {self.models_dir} does not exist")
        models: dict[str, Model] = {}
        for path in sorted(self.models_dir.rglob("*.sql")):
            # Messages name files relative to the project, as users see them in their editor.
            model = parse_model(path.relative_to(self.root), path.read_text())
            if model.name in models:
                raise ModelError(
                    f'duplicate model name "{model.name}": {models[model.name].path} and '
                    f"{model.path}; "
                    f"model names are file names and must be unique"
                )
            if model.name in self.sources:
                raise ModelError(
                    f'{path}: model "{model.name}" has the name of a source in sources.yml; '
                    f"rename one of them"
                )
            models[model.name] = model
        return models

    def _resolve_references(self, model: Model, models: dict[str, Model]) -> None:
        model.depends_on, model.sources = self._references(model.expression, model.path,
                                                           models, model.name)

    def _references(self, expression: exp.Expression, path: Path, models: dict[str, Model],
                    own_name: str | None = None) -> tuple[list[str], list[str]]:
        """(models, sources) a query reads; an unknown table is an error at ``path:line``."""
        from featurekit.sql import table_references

        by_relation = {s.relation.lower(): s.name for s in self.sources.values()}
        depends, sources = set(), set()
        for ref in table_references(expression):
            key = ref.qualified.lower()
            if ref.schema is None and ref.name in models:
                if ref.name == own_name:
                    raise ModelError(f"{path}:{ref.line}:{ref.col}: model reads itself")
                depends.add(ref.name)
            elif ref.schema is None and ref.name in self.sources:
                sources.add(ref.name)
            elif key in by_relation:
                sources.add(by_relation[key])
            else:
                known = [*models, *self.sources]
                raise ModelError(
                    f'{path}:{ref.line}:{ref.col}: unknown table "{ref.qualified}"'
                    f"{did_you_mean(ref.qualified, known)}; it is neither a model nor a source "
                    f"declared in {self.settings.models}/sources.yml"
                )
        return sorted(depends), sorted(sources)

    def _load_tests(self) -> dict[str, DataTest]:
        """Generic tests from model headers, then singular tests (``tests_sql/*.sql``)."""
        from featurekit.datatests import check_columns, load_singular, output_columns

        tests: dict[str, DataTest] = {}
        singular = load_singular(self.root / self.settings.tests, self.root,
                                 self.settings.dialect)
        for test in [*(t for m in self.models.values() for t in m.tests), *singular]:
            if test.name in tests:
                raise ModelError(f"{test.where_label}: test {test.name} is declared twice "
                                 f"(also at {tests[test.name].where_label})")
            if test.kind == "singular":
                test.depends_on, test.sources = self._references(
                    test.expression, test.path, self.models)
            elif test.kind == "relationships":
                to = test.options["to"]
                if to not in self.models and to not in self.sources:
                    raise ModelError(
                        f'{test.where_label}: relationships test: unknown model "{to}"'
                        f"{did_you_mean(to, [*self.models, *self.sources])}; `to:` names a "
                        f"model or a source in {self.settings.models}/sources.yml")
                if to in self.models and to != test.model:
                    test.depends_on = [*test.depends_on, to]
                elif to not in self.models:
                    test.sources = [to]
            if test.model is not None:  # columns are known now when the SQL lists them
                parent = test.options.get("to")
                check_columns(test, output_columns(self.models[test.model].expression),
                              output_columns(self.models[parent].expression)
                              if parent in self.models else None, self.settings.dialect)
            tests[test.name] = test
        return tests

    def feature_service(self, name: str) -> FeatureService:
        """The feature service ``name`` (``models_sql/feature_services.yml``)."""
        if name not in self.feature_services:
            raise ConfigError(f'no feature service named "{name}"'
                              f"{did_you_mean(name, self.feature_services)}")
        return self.feature_services[name]

    # -- target and engine --------------------------------------------------------------
    @cached_property
    def target(self) -> Target:
        from featurekit.profiles import find_profiles_file, load_target

        path = find_profiles_file(self.root, self.profiles_dir)
        return load_target(path, self.settings.profile, self.target_name, self.root)

    @property
    def engine(self) -> Engine:
        """The open connection to the target (opened on first use)."""
        if self._engine is None:
            from featurekit.engines import connect

            self._engine = connect(self.target)
        return self._engine

    @cached_property
    def state_store(self) -> StateStore:
        """Where run state, reference statistics and refresh locks live (``statestore``)."""
        from featurekit.statestore import StateStore, state_target

        return StateStore(self.target, state_target(self.target, self.root), lambda: self.engine)

    @property
    def is_connected(self) -> bool:
        """True once a connection to the target is open."""
        return self._engine is not None
    @contextlib.contextmanager
    def reader(self) -> Iterator[Engine]:
        """The open connection if there is one, else a read-only one for the block.

        A read-only connection creates nothing, not even the target's schema or DuckDB file.
        """
        if self._engine is not None:
            yield self._engine
            return
        from featurekit.engines import connect

        engine = connect(self.target, read_only=True)
        try:
            yield engine
        finally:
            engine.close()

    def close(self) -> None:
        if "state_store" in self.__dict__:
            self.state_store.close()
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- compile ------------------------------------------------------------------------
    def model(self, name: str) -> Model:
        if name not in self.models:
            raise ConfigError(f'no model named "{name}"{did_you_mean(name, self.models)}')
        return self.models[name]

    def resolve(self, table: exp.Table) -> tuple[str, str, str | None] | None:
        """(schema, name, timestamp column) of the relation a model's table reference reads."""
        name, schema = table.name, table.db or None
        if schema is None and name in self.headers:
            return self.target.schema, name, self.headers[name].timestamp
        source = self.sources.get(name) if schema is None else None
        if source is None:
            wanted = f"{schema}.{name}" if schema else name
            source = next(
                (s for s in self.sources.values() if s.relation.lower() == wanted.lower()), None
            )
        if source is None:
            return None
        if source.seed is not None:
            return self.target.schema, source.name, source.timestamp
        source_schema, _, source_name = source.relation.rpartition(".")
        return source_schema or self.target.schema, source_name, source.timestamp

    def compile_model(self, name: str, inputs_since: datetime | None = None,
                      pretty: bool = False) -> str:
        """The model's SQL in the target dialect, with qualified references.

        Args:
            name: the model.
            inputs_since: when given, every input that declares a timestamp is read only from
                that moment on (incremental refresh); inputs without one are read whole.
            pretty: lay the SQL out on lines, for people to read.
        """
        model = self.model(name)
        return self.compile_query(model.expression, f"{model.path}: model {name}", inputs_since,
                                  pretty)

    def compile_query(self, expression: exp.Expression, where: str,
                      inputs_since: datetime | None = None, pretty: bool = False) -> str:
        """Any query in the project dialect, rendered for the target: names of models and
        sources become their relations; SQL the target cannot run fails here, naming ``where``.
        """
        from featurekit.engines import engine_class
        from featurekit.sql import (
            qualified_table,
            reference_alias,
            render,
            rewrite_tables,
            rows_since,
        )

        engine = engine_class(self.target.type)

        def replace(table: exp.Table) -> exp.Expression | None:
            resolved = self.resolve(table)
            if resolved is None:
                return None
            schema, relation, timestamp = resolved
            alias = reference_alias(table, engine.dialect)
            if inputs_since is None or timestamp is None:
                return qualified_table(relation, schema, alias)
            return rows_since(qualified_table(relation, schema), timestamp, inputs_since, alias)

        rewritten = rewrite_tables(expression, replace)
        return render(rewritten, engine.dialect, where, engine.unsupported(rewritten), pretty)

    def select(self, select: list[str] | None = None,
               exclude: list[str] | None = None) -> list[str]:
        """Models picked by dbt-style selectors, minus ``exclude``, in dependency order.

        Selectors: ``name``, globs, ``tag:T``, ``path:DIR``, ``config.materialized:M``,
        ``source:S``, each with ``+`` before (ancestors) or after (descendants); see
        ``featurekit.selection``. None or empty selects every model.
        """
        from featurekit.selection import select_models

        return select_models(self, select, exclude)

    def compile(self, select: list[str] | None = None, exclude: list[str] | None = None,
                check: bool = True, pretty: bool = False) -> dict[str, str]:
        """Final SQL per selected model, in dependency order; unsupported SQL fails here.

        With ``check`` the models' columns and the compiled SQL are checked too (see
        ``check``), against the target database when it can be reached.
        """
        compiled = {name: self.compile_model(name, pretty=pretty)
                    for name in self.select(select, exclude)}
        if check:
            from featurekit.engines import connect
            from featurekit.errors import EngineError

            engine = self._engine
            try:
                engine = engine or connect(self.target, read_only=True)
            except EngineError:
                engine = None  # unreachable: check what can be checked without it
            try:
                self.check(compiled, engine)
            finally:
                if engine is not None and engine is not self._engine:
                    engine.close()
        return compiled

    def check(self, compiled: dict[str, str], engine: Engine | None) -> None:
        """Refuse, naming the model's file and line, what the target could not run.

        A column no input has (upstream models' columns come from their SQL, seeds' from
        their CSV header, tables' from ``engine``), an entity or timestamp the model does
        not output, and compiled SQL that the target's parser (``engine``) rejects.
        """
        from featurekit.columns import check_columns
        from featurekit.errors import CompileError

        check_columns(self, list(compiled), engine)
        if engine is None:
            return
        for name, sql in compiled.items():
            problem = engine.syntax_error(sql)
            if problem:
                raise CompileError(
                    f"{self.models[name].path}: model {name}: {self.target.type} cannot parse "
                    f"the SQL compiled for it ({problem}); `featurekit compile --select {name}` "
                    f"shows it; write that construct in portable SQL"
                )

    def fingerprint(self, name: str, compiled: str | None = None) -> str:
        """A hash of everything that defines the model's rows; a change forces a rebuild."""
        from featurekit.sql import fingerprint

        model = self.models[name]
        sql = compiled if compiled is not None else self.compile_model(name)
        return fingerprint(sql, model.materialized, model.unique_key, model.lookback)

    # -- actions ------------------------------------------------------------------------
    def refresh(self, select: list[str] | None = None, full_refresh: bool = False,
                all_models: bool = False, dry_run: bool = False, on_event: Any = None,
                should_stop: Any = None, exclude: list[str] | None = None
                ) -> list[ModelResult]:
        """Refresh the selected models that are due, in dependency order.

        Args:
            select: dbt-style selectors (see ``select``); None = all.
            full_refresh: rebuild everything from scratch (incremental models too).
            all_models: ignore schedules: run every selected model.
            dry_run: return the plan (``due`` / ``up_to_date`` with reasons); build nothing.
            on_event: ``callback(kind, model, result)`` for progress displays.
            should_stop: checked between models; True stops before the next one starts.
            exclude: selectors of models to leave out.

        Returns:
            One ModelResult per selected model (and per dependent rebuilt after a drop).
        """
        from featurekit.refresh import run_refresh

        return run_refresh(self, select=select, full_refresh=full_refresh,
                           all_models=all_models, dry_run=dry_run, on_event=on_event,
                           should_stop=should_stop, exclude=exclude)

    def test(self, select: list[str] | None = None, exclude: list[str] | None = None,
             on_event: Any = None) -> list[TestResult]:
        """Run the data tests of the selected models (see ``testrun``); results are recorded.

        Args:
            select: model selectors (see ``select``); None = every test.
            exclude: selectors of models whose tests are left out.
            on_event: ``callback(kind, test, result)`` with kind test_start / test_finish.

        Returns:
            One TestResult per test, in dependency order.
        """
        from featurekit.testrun import run_tests

        return run_tests(self, select, exclude, on_event=on_event)

    def build(self, select: list[str] | None = None, exclude: list[str] | None = None,
              full_refresh: bool = False, all_models: bool = False, on_event: Any = None,
              should_stop: Any = None) -> BuildResult:
        """Refresh the selected models and run their tests in DAG order (see ``build``).

        A model whose ``severity: error`` test fails stops its descendants (reported as
        skipped); ``warn`` tests only report. Arguments as ``refresh`` (no dry run);
        ``on_event`` also gets test_start / test_finish.

        Returns:
            A BuildResult: ``.models`` (ModelResult each), ``.tests`` (TestResult each) and
            ``.failed``.
        """
        from featurekit.build import run_build

        return run_build(self, select, exclude, full_refresh=full_refresh,
                         all_models=all_models, on_event=on_event, should_stop=should_stop)

    def watch(self, stop: Any, select: list[str] | None = None, on_cycle: Any = None,
              on_error: Any = None, on_event: Any = None, max_sleep: float = 60.0) -> int:
        """Refresh what is due until ``stop`` (a ``threading.Event``) is set; cycles run.

        Each cycle reloads the project from its files (see ``watch.watch``); this project's
        connection is closed first, so DuckDB's file lock is held only while a cycle runs.
        """
        from featurekit.watch import watch

        self.close()
        return watch(lambda: Project(self.root, target=self.target_name,
                                     profiles_dir=self.profiles_dir),
                     stop, select, on_cycle=on_cycle, on_error=on_error, on_event=on_event,
                     max_sleep=max_sleep)

    def ls(self, select: list[str] | None = None,
           exclude: list[str] | None = None) -> list[ModelStatus]:
        """Every selected model (see ``select``) with its materialization, schedule and last
        run."""
        from featurekit.refresh import model_statuses

        chosen = set(self.select(select, exclude))
        return [status for status in model_statuses(self) if status.model in chosen]

    def manifest(self, catalog: bool = True) -> dict[str, Any]:
        """The project as data (``manifest.build_manifest``; docs/artifacts.md)."""
        from featurekit.manifest import build_manifest

        return build_manifest(self, catalog=catalog)

    def freshness(self, select: list[str] | None = None, as_of: Any = None,
                  record: bool = True) -> list[SourceFreshness]:
        """How old the newest row of each source with ``freshness:`` is (see ``freshness``).

        Args:
            select: source names or globs (default: every source that declares freshness).
            as_of: judge as if at this time (a datetime or ISO string; default now).
            record: append the results to ``<metadata schema>.source_freshness``.
        """
        from featurekit.freshness import source_freshness
        from featurekit.monitoring.config import parse_time

        when = parse_time(as_of, "--as-of") if as_of is not None else None
        return source_freshness(self, select, as_of=when, record=record)

    # -- python layer -------------------------------------------------------------------
    def training_set(self, labels: Any, features: list[str] | str,
                     timestamp: str = "event_timestamp", full_names: bool = False,
                     entity_columns: dict[str, str] | None = None, as_arrow: bool = False,
                     progress: Any = None, save: str | None = None, overwrite: bool = False,
                     log_to_mlflow: bool = False) -> Any:
        """Point-in-time correct features for each label row (see ``retrieval.training_set``).

        ``save="NAME"`` also stores the result with a manifest (``datasets``; a saved name is
        refused unless ``overwrite=True``); ``log_to_mlflow=True`` records the saved set as an
        input of the active MLflow run.
        """
        if save is None and not log_to_mlflow:
            from featurekit.retrieval import training_set

            return training_set(self, labels, features, timestamp=timestamp,
                                full_names=full_names, entity_columns=entity_columns,
                                as_arrow=as_arrow, progress=progress)
        from featurekit import datasets

        return datasets.training_set(self, labels, features, save_as=save, overwrite=overwrite,
                                     log_to_mlflow=log_to_mlflow, timestamp=timestamp,
                                     full_names=full_names, entity_columns=entity_columns,
                                     as_arrow=as_arrow, progress=progress)

    def load_training_set(self, name: str, as_arrow: bool = False) -> Any:
        """The training set saved as ``name``, exactly as it was saved."""
        from featurekit.datasets import load

        return load(self, name, as_arrow=as_arrow)

    def datasets(self) -> list[Any]:
        """Every saved training set of this target (``SavedDataset`` records, by name)."""
        from featurekit.datasets import ls

        return ls(self)

    def dataset(self, name: str) -> Any:
        """The manifest record of the saved training set ``name``."""
        from featurekit.datasets import show

        return show(self, name)

    def verify_training_set(self, name: str, progress: Any = None) -> Any:
        """Rebuild a saved training set and compare it (a ``Verification``)."""
        from featurekit.datasets import verify

        return verify(self, name, progress=progress)

    def online_features(self, features: list[str] | str, entities: Any,
                        full_names: bool = False, entity_columns: dict[str, str] | None = None,
                        now: Any = None) -> Any:
        """The latest feature values per entity (see ``online.online_features``)."""
        from featurekit.online import online_features

        return online_features(self, features, entities, full_names=full_names,
                               entity_columns=entity_columns, now=now)

    def write_training_set(self, labels: str, features: list[str] | str, out: str | Path | None,
                           timestamp: str = "event_timestamp", full_names: bool = False,
                           entity_columns: dict[str, str] | None = None,
                           progress: Any = None, save: str | None = None,
                           overwrite: bool = False) -> int:
        """A training set from a label file or query to a .parquet/.csv file and/or saved as
        ``save``; rows written (see ``retrieval.training_set_file``; what ``featurekit
        train-set`` runs)."""
        from featurekit.retrieval import training_set_file

        return training_set_file(self, labels, features, None if out is None else str(out),
                                 timestamp=timestamp, full_names=full_names,
                                 entity_columns=entity_columns, progress=progress, save=save,
                                 overwrite=overwrite)

    def log_predictions(self, model: str, frame: Any, version: str | None = None,
                        allow_new_columns: bool = False) -> int:
        """Append predictions to ``predictions_<model>`` (see ``logs.log_predictions``)."""
        from featurekit.logs import log_predictions

        return log_predictions(self, model, frame, version=version,
                               allow_new_columns=allow_new_columns)

    def log_outcomes(self, model: str, frame: Any, allow_new_columns: bool = False) -> int:
        """Record ground truth in ``outcomes_<model>`` (see ``logs.log_outcomes``)."""
        from featurekit.logs import log_outcomes

        return log_outcomes(self, model, frame, allow_new_columns=allow_new_columns)

    # -- monitoring ---------------------------------------------------------------------
    @cached_property
    def monitors(self) -> dict[str, Any]:
        """The project's monitors (``monitors/*.yml``), by name, parsed and checked."""
        from featurekit.monitoring.config import load_monitors

        return load_monitors(self.root / self.settings.monitors, self.root)

    def monitor(self, select: list[str] | None = None, run_all: bool = False,
                as_of: Any = None, backfill: tuple[Any, Any, Any] | None = None) -> Any:
        """Run the due monitors (see ``monitoring.runner``); returns a ``MonitorRun``.

        Args:
            select: monitor names or globs (default: all).
            run_all: run the selected monitors even when they are not due.
            as_of: evaluate as if at this time (a datetime or ISO string).
            backfill: (start, end, every) to evaluate at each step from start to end.
        """
        from featurekit.monitoring.config import parse_time
        from featurekit.monitoring.runner import backfill as run_backfill
        from featurekit.monitoring.runner import run_monitors

        if backfill is not None:
            start, end, every = backfill
            if isinstance(every, str):
                from featurekit.durations import parse_duration

                try:
                    every = parse_duration(every)
                except ValueError as exc:
                    raise ConfigError(f"--every: {exc}") from None
            return run_backfill(self, parse_time(start, "--start"), parse_time(end, "--end"),
                                every, select)
        when = parse_time(as_of, "--as-of") if as_of is not None else None
        return run_monitors(self, select, run_all=run_all, as_of=when)

    def monitor_metrics(self, run: Any, path: str | Path) -> Path:
        """Write a monitor run as Prometheus textfile-collector metrics (atomically)."""
        from featurekit.monitoring.prometheus import write_textfile

        return write_textfile(path, run.results)

    def monitor_rules(self, path: str | Path, select: list[str] | None = None,
                      for_: str = "5m") -> Path:
        """Write Prometheus alerting rules from the selected monitors' thresholds (see
        ``monitoring.rules``); ``for_`` is how long a condition holds before it fires."""
        from featurekit.monitoring.rules import alerting_rules, write_rules
        from featurekit.monitoring.runner import select_monitors

        monitors = select_monitors(self.monitors, select)
        return write_rules(path, alerting_rules(self, monitors, for_))

    def monitor_report(self, run: Any, path: str | Path | None = None,
                       json_path: str | Path | None = None) -> list[Path]:
        """Write the report of a monitor run (with each check's history): self-contained
        HTML at ``path`` and/or the same content as JSON at ``json_path``; the files written."""
        from featurekit.monitoring.report import write_report

        return write_report(self, run, path, json_path)
