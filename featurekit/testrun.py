"""``featurekit test``: run data tests in the engine and record their results.

One query per test returns the number of failing rows and the first few of them
(``count(*) OVER ()`` beside a ``LIMIT``). A test passes with no failing rows; otherwise it
fails (``severity: error``) or warns. A query the database refuses is an ``error``. Every
result is appended to ``<metadata schema>.test_results``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from featurekit.datatests import DataTest, check_columns, failures_query
from featurekit.state import utcnow

if TYPE_CHECKING:
    from sqlglot import exp

    from featurekit.engines.base import Engine
    from featurekit.project import Project

PASS, FAIL, WARN, ERROR, SKIPPED = "pass", "fail", "warn", "error", "skipped"
#: failing rows returned with each result
SAMPLE_ROWS = 5
TABLE = "test_results"
COLUMNS = (
    ("target_schema", "TEXT"), ("invocation_id", "TEXT"), ("test", "TEXT"), ("kind", "TEXT"),
    ("model", "TEXT"), ("column_names", "TEXT"), ("severity", "TEXT"), ("status", "TEXT"),
    ("failures", "BIGINT"), ("message", "TEXT"), ("path", "TEXT"), ("line", "INT"),
    ("started_at", "TIMESTAMP"), ("finished_at", "TIMESTAMP"), ("seconds", "DOUBLE PRECISION"),
)
_COUNT = "__fk_failures"


@dataclass
class TestResult:
    """The outcome of one data test."""

    __test__ = False  # not a pytest class

    test: str
    kind: str
    model: str | None
    severity: str
    status: str  # pass | fail | warn | error | skipped
    columns: list[str] = field(default_factory=list)
    failures: int | None = None  # failing rows (None: the query did not run)
    samples: list[dict[str, Any]] = field(default_factory=list)  # the first failing rows
    message: str = ""
    path: str = ""
    line: int = 0
    sql: str = ""  # the failing-rows query, for the target (paste it to see every row)
    seconds: float = 0.0
    started_at: datetime | None = None

    @property
    def blocks(self) -> bool:
        """Whether this result stops the tested models' descendants in ``build``."""
        return self.severity == "error" and self.status in (FAIL, ERROR)


def select_tests(project: Project, models: Iterable[str], everything: bool) -> list[DataTest]:
    """Tests of the selected models (a test reading several is chosen when any is selected).

    ``everything`` (no selector given) adds tests that read no model, only sources.
    """
    chosen = set(models)
    return in_dag_order(project, [
        test for test in project.tests.values()
        if chosen.intersection(test.depends_on) or (everything and not test.depends_on)])


def choose_tests(project: Project, select: list[str] | None,
                 exclude: list[str] | None) -> list[DataTest]:
    """Tests picked by model selectors and test names (see ``run_tests``), in project order."""
    from featurekit.selection import words

    chosen_words, excluded_words = words(select), words(exclude)
    named = {w for w in chosen_words if w in project.tests}
    unnamed = {w for w in excluded_words if w in project.tests}
    model_words = [w for w in chosen_words if w not in named]
    model_excludes = [w for w in excluded_words if w not in unnamed]
    models = project.select(model_words, model_excludes) if model_words or not named else []
    picked = {t.name for t in select_tests(project, models, everything=not chosen_words
                                           and not model_excludes)} | named
    return in_dag_order(project, [test for name, test in project.tests.items()
                                  if name in picked and name not in unnamed])


def in_dag_order(project: Project, tests: list[DataTest]) -> list[DataTest]:
    """Tests ordered by the last model they read in dependency order (stable otherwise)."""
    position = {name: index for index, name in enumerate(project.graph.order)}
    return sorted(tests, key=lambda t: max((position[m] for m in t.depends_on), default=-1))


def check_against_catalog(project: Project, tests: list[DataTest],
                          engine: Engine | None = None) -> None:
    """Raise ModelError (at the test's header line) for a column a built relation lacks."""
    engine = engine or project.engine
    columns: dict[str, list[str] | None] = {}

    def of(name: str | None) -> list[str] | None:
        if name is None:
            return None
        if name not in columns:
            from sqlglot import exp

            resolved = project.resolve(exp.to_table(name))
            found = engine.columns(resolved[1], resolved[0]) if resolved else []
            columns[name] = [c for c, _ in found] or None
        return columns[name]

    for test in tests:
        if test.model is not None:
            check_columns(test, of(test.model), of(test.options.get("to")),
                          project.settings.dialect)


def run_tests(project: Project, select: list[str] | None = None,
              exclude: list[str] | None = None,
              on_event: Callable[[str, str, TestResult | None], None] | None = None
              ) -> list[TestResult]:
    """Run the tests of the selected models, in dependency order; results are recorded.

    A selector that is a test's name (``unique_orders_order_id``, a singular test's file
    name) picks that test; in ``exclude`` it leaves it out.
    """
    notify = on_event or (lambda kind, name, result: None)
    tests = choose_tests(project, select, exclude)
    check_against_catalog(project, tests)
    invocation = uuid.uuid4().hex
    results = []
    for test in tests:
        notify("test_start", test.name, None)
        result = run_test(project, project.engine, test)
        results.append(result)
        notify("test_finish", test.name, result)
    record(project.engine, invocation, results)
    return results


def run_test(project: Project, engine: Engine, test: DataTest) -> TestResult:
    """Run one test on ``engine`` (a connection to the project's target)."""
    from sqlglot import exp

    from featurekit.errors import FeaturekitError

    started, clock = utcnow(), time.perf_counter()
    result = TestResult(test.name, test.kind, test.model, test.severity, ERROR, test.columns,
                        path=test.path.as_posix(), line=test.line, started_at=started)
    missing = [m for m in test.depends_on if engine.relation_kind(m) is None]
    for name in test.sources:
        schema, relation, _ = project.resolve(exp.to_table(project.sources[name].relation))
        if engine.relation_kind(relation, schema) is None:
            missing.append(f"source {name}")
    if missing:
        result.message = (f"{', '.join(missing)} not built or loaded yet; run featurekit "
                          f"build (or refresh) first")
        return result
    where = f"{test.where_label}: test {test.name}"
    try:
        query = failures_query(test, project.settings.dialect)
        result.sql = project.compile_query(query, where)
        rows = engine.fetch_arrow(project.compile_query(_with_count(query), where))
    except (*engine.errors, FeaturekitError) as exc:
        result.message = f"{where}: {' '.join(str(exc).strip().splitlines()[:2])}"
        result.seconds = time.perf_counter() - clock
        return result
    result.failures = int(rows.column(_COUNT)[0].as_py()) if rows.num_rows else 0
    result.samples = [{k: _plain(v) for k, v in row.items()}
                      for row in rows.drop_columns([_COUNT]).to_pylist()]
    result.status = PASS if not result.failures else FAIL if test.severity == "error" else WARN
    if result.failures:
        shown = "row" if result.failures == 1 else "rows"
        result.message = f"{result.failures} failing {shown}"
    result.seconds = time.perf_counter() - clock
    return result


def _with_count(query: exp.Query) -> exp.Query:
    """``SELECT f.*, count(*) OVER () FROM (query) f LIMIT n``: count and samples at once."""
    from sqlglot import exp

    total = exp.Window(this=exp.Count(this=exp.Star()))
    return (exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("f")),
                       exp.alias_(total, _COUNT))
            .from_(query.subquery("f")).limit(SAMPLE_ROWS))


def _plain(value: Any) -> Any:
    """A sample cell as JSON-ready data (times stay times: the JSON writers format them)."""
    if value is None or isinstance(value, bool | int | float | str | date):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # UUID, intervals, lists: shown as the database prints them


def record(engine: Engine, invocation: str, results: list[TestResult]) -> None:
    """Append results to ``<metadata schema>.test_results`` (created when missing)."""
    if not results:
        return
    table = engine.relation(TABLE, engine.metadata_schema)
    engine.ensure_schema(engine.metadata_schema)
    finished = utcnow()
    rows = [(engine.schema, invocation, r.test, r.kind, r.model, ", ".join(r.columns) or None,
             r.severity, r.status, r.failures, r.message, r.path, r.line, r.started_at,
             finished, r.seconds)
            for r in results]
    columns = ", ".join(f"{engine.quote(name)} {kind}" for name, kind in COLUMNS)
    with engine.transaction():
        engine.run(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        engine.insert_rows(table, [name for name, _ in COLUMNS], rows)
