"""``featurekit build``: refresh the selected models and run their tests, in DAG order.

Each model is refreshed as ``refresh`` would (only when due, unless ``--all`` or
``--full-refresh``); once it is built or found up to date, the tests whose models have all
settled run on the same connection. A failing (or erroring) test of severity ``error``
stops the descendants of the model it tests: they are reported as skipped, and so are their
tests. ``warn`` tests only report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from featurekit.errors import FeaturekitError
from featurekit.testrun import ERROR, SKIPPED, TestResult, record, run_test, select_tests

if TYPE_CHECKING:
    from featurekit.datatests import DataTest
    from featurekit.engines.base import Engine
    from featurekit.project import Project
    from featurekit.refresh import ModelResult


@dataclass
class BuildResult:
    """What ``build`` did: one result per model and one per test."""

    models: list[ModelResult] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A model failed or a test of severity error failed (exit code 1)."""
        return (any(m.status == "failed" for m in self.models)
                or any(t.blocks for t in self.tests))


class _Tester:
    """Runs each test once every model it reads has settled; thread-safe."""

    def __init__(self, project: Project, tests: list[DataTest], selected: set[str],
                 notify: Callable[[str, str, Any], None]):
        self.project = project
        self.pending = {t.name: t for t in tests}
        self.selected = selected
        self.notify = notify
        self.settled: set[str] = set()
        self.results: list[TestResult] = []
        self.lock = threading.Lock()

    def ready(self, test: DataTest) -> bool:
        return all(m in self.settled for m in test.depends_on if m in self.selected)

    def after_model(self, engine: Engine, model: str) -> str | None:
        with self.lock:
            self.settled.add(model)
            claimed = [t for t in self.pending.values() if model in t.depends_on
                       and self.ready(t)]
            for test in claimed:
                del self.pending[test.name]
        failed = []
        for test in claimed:
            result = self.run(engine, test)
            if result.blocks:
                failed.append(test.name)
        return f"tests of {model} failed: {', '.join(failed)}" if failed else None

    def run(self, engine: Engine, test: DataTest) -> TestResult:
        from featurekit.testrun import check_against_catalog

        self.notify("test_start", test.name, None)
        try:
            check_against_catalog(self.project, [test], engine)
        except FeaturekitError as exc:
            result = TestResult(test.name, test.kind, test.model, test.severity, ERROR,
                                test.columns, message=str(exc), path=test.path.as_posix(),
                                line=test.line)
        else:
            result = run_test(self.project, engine, test)
        with self.lock:
            self.results.append(result)
        self.notify("test_finish", test.name, result)
        return result

    def finish(self, engine: Engine) -> None:
        """Run what is left that can run (tests of sources only); skip the rest."""
        for test in list(self.pending.values()):
            if self.ready(test):
                self.run(engine, test)
            else:
                unsettled = [m for m in test.depends_on if m in self.selected
                             and m not in self.settled]
                result = TestResult(test.name, test.kind, test.model, test.severity, SKIPPED,
                                    test.columns, path=test.path.as_posix(), line=test.line,
                                    message=f"{', '.join(unsettled)} did not build")
                self.results.append(result)
                self.notify("test_finish", test.name, result)
        self.pending.clear()


def run_build(project: Project, select: list[str] | None = None,
              exclude: list[str] | None = None, full_refresh: bool = False,
              all_models: bool = False, on_event: Callable[[str, str, Any], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> BuildResult:
    """Refresh the selected models and run their tests in DAG order (see module docstring)."""
    import uuid

    from featurekit.refresh import run_refresh
    from featurekit.testrun import check_against_catalog

    notify = on_event or (lambda kind, name, result: None)
    selected = project.select(select, exclude)
    tests = select_tests(project, selected, everything=not select and not exclude)
    check_against_catalog(project, tests)  # columns of models built before: fail fast
    tester = _Tester(project, tests, set(selected), notify)
    models = run_refresh(project, select=select, exclude=exclude, full_refresh=full_refresh,
                         all_models=all_models, on_event=notify, should_stop=should_stop,
                         after_model=tester.after_model,
                         also_sources=sorted({s for t in tests for s in t.sources}))
    tester.finish(project.engine)
    order = {test.name: index for index, test in enumerate(tests)}
    results = sorted(tester.results, key=lambda r: order[r.test])
    record(project.engine, uuid.uuid4().hex, results)
    return BuildResult(models, results)
