"""Evaluate one monitor at one time: resolve its source and windows, run every check.

Problems in the monitor file that only the database can reveal (unknown column, a numeric
test on a text column, an unknown source) raise MonitorError naming ``file:line``. A window
without rows gives ``no_data`` with the reason; a check the database fails on is recorded as
``error`` with the database's message, and the other checks still run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurekit.errors import FeaturekitError, MonitorError, did_you_mean
from featurekit.monitoring import checks as t
from featurekit.monitoring import stats
from featurekit.monitoring.config import Check, Monitor, Window
from featurekit.monitoring.query import Sql, describe
from featurekit.monitoring.results import CheckResult
from featurekit.monitoring.source import Source, resolve_relation, resolve_source
from featurekit.monitoring.specs import (
    ANY,
    CATEGORICAL,
    CATEGORICAL_MAX_DISTINCT,
    DEFAULT_BINS,
    DEFAULT_DRIFT,
    DEFAULT_SHARE_WARN,
    GROUP,
    HIGHER,
    LOWER,
    NUMERIC,
    PERFORMANCE,
    TABLE,
    TESTS,
)
from featurekit.monitoring.windows import bounds, window_sql
from featurekit.monitoring.windowstats import StoredReference, WindowStats

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.monitoring.results import Results
    from featurekit.project import Project

#: tests judged on their p-value rather than their statistic
P_VALUE_TESTS = ("ks", "chi2")


class Evaluation:
    """The checks of one monitor at one ``as_of``."""

    def __init__(self, project: Project, monitor: Monitor, results: Results, as_of: datetime,
                 run_id: str, evaluated_at: datetime):
        self.project = project
        self.engine = project.engine
        self.monitor = monitor
        self.results = results
        self.as_of = as_of
        self.run_id = run_id
        self.evaluated_at = evaluated_at
        self._ecdfs: dict[str, stats.Ecdf] = {}  # exact ECDF comparisons (KS, Wasserstein)
        self._small: dict[str, tuple[Any, Any]] = {}  # values for scipy's exact KS

    # -- set-up -------------------------------------------------------------------------
    def run(self) -> list[CheckResult]:
        """Every check's result; a database failure outside one check fails them all.

        Such a failure (say the window's own query: a text timestamp column) is recorded as
        ``error`` on every check with the database's message, so the other monitors still run.
        """
        try:
            return self._run()
        except _query_errors(self.engine) as exc:
            if isinstance(exc, MonitorError):
                raise
            return self._every_check(t.ERROR, f"monitor failed: {_cause(exc)}")

    def _every_check(self, status: str, message: str) -> list[CheckResult]:
        """One result per check and declared column (a composite key is one column)."""
        out = []
        for check in self.monitor.checks:
            columns: list[str | None] = [None]
            if check.columns is not None and check.columns != ["*"]:
                columns = ([",".join(check.columns)] if check.test == "unique"
                           else list(check.columns))
            out.extend(self._result(check, column, check.test, status, message=message)
                       for column in columns)
        return out

    def _run(self) -> list[CheckResult]:
        monitor = self.monitor
        source = resolve_source(self.project, monitor)
        if source.sql is None:
            return self._every_check(t.NO_DATA, source.missing)
        self.source = source
        if monitor.timestamp and monitor.timestamp not in source.columns:
            raise MonitorError(self._unknown(monitor.lines.get("timestamp"), monitor.timestamp))
        self.current = WindowStats(self.engine, self._window(monitor.current), source.columns)
        self.cur_bounds = bounds(monitor.current, self.as_of)
        self.reference: WindowStats | None = None
        self.ref_missing = ""
        if monitor.reference is not None:
            self.reference = self._reference(source)
            self.ref_bounds = bounds(monitor.reference, self.as_of)
        plan = [(check, self._columns(check)) for check in monitor.checks]
        try:
            self._prefetch(plan)
        except _query_errors(self.engine) as exc:
            if isinstance(exc, MonitorError):
                raise
            # batching is only an optimisation: each check now computes its own statistics,
            # so the one the database fails on is recorded as error and the others still run
            self._ecdfs = {}
        out: list[CheckResult] = []
        for check, columns in plan:
            out.extend(self._run_check(check, columns))
        if isinstance(self.reference, StoredReference):
            self.reference.save()
        return out

    def _window(self, window: Any, table: str | None = None) -> Sql:
        return window_sql(self.engine, self.source.sql, self.monitor.timestamp, window,
                          self.as_of, table)

    def _reference(self, source: Source) -> WindowStats | None:
        window = self.monitor.reference
        assert window is not None
        table = None
        kinds = source.columns
        if window.kind == "table":
            table, _ = resolve_relation(self.project, window.table or "")
            if table is None:
                self.ref_missing = f"reference table {window.table} does not exist"
                return None
            described = describe(self.engine, Sql(f"SELECT * FROM {table} AS src"))
            kinds = {name: self.engine.column_kind(kind) for name, kind in described}
        sql = self._window(window, table)
        if not window.is_fixed:
            return WindowStats(self.engine, sql, kinds)
        definition = {
            "source": self.monitor.source or self.monitor.sql, "schema": self.engine.schema,
            "timestamp": self.monitor.timestamp, "kind": window.kind, "start": window.start,
            "end": window.end, "table": window.table,
        }
        return StoredReference(self.engine, sql, kinds, self.project.state_store.references,
                               self.monitor.name, definition)

    def _unknown(self, line: int | None, column: str) -> str:
        known = list(self.source.columns)
        return (f'{self.monitor.where(line)}: unknown column "{column}" in '
                f"{self.source.label}{did_you_mean(column, known)}; columns: {', '.join(known)}")

    def _columns(self, check: Check) -> list[str | None]:
        """The columns a check runs on, validated against the source's types."""
        spec = check.spec
        kinds = self.source.columns
        if spec.target == PERFORMANCE:
            for key in ("label", "score", "prediction"):
                name = check.options.get(key)
                if name is not None and name not in kinds:
                    raise MonitorError(self._unknown(check.line, name))
            return [None]
        if check.columns is None:
            return [None]
        if check.columns == ["*"]:
            excluded = set(check.options.get("exclude", [])) | {self.monitor.timestamp}
            wanted = (NUMERIC, CATEGORICAL) if spec.target in (GROUP, ANY) else (spec.target,)
            return [c for c, kind in kinds.items() if kind in wanted and c not in excluded]
        columns = (check.columns if check.test == "unique"
                   else self._service_columns(check.columns, kinds, check.line))
        for column in columns:
            if column not in kinds:
                raise MonitorError(self._unknown(check.line, column))
            kind = kinds[column]
            if spec.target == NUMERIC and kind != NUMERIC:
                raise MonitorError(
                    f"{self.monitor.where(check.line)}: test {check.test} needs a numeric "
                    f'column, but "{column}" is {kind}; for categories use chi2, psi, '
                    f"jensen_shannon or l_infinity"
                )
            if spec.target == CATEGORICAL and kind != CATEGORICAL:
                raise MonitorError(
                    f"{self.monitor.where(check.line)}: test {check.test} needs a categorical "
                    f'(text or boolean) column, but "{column}" is {kind}; for numbers use ks, '
                    f"wasserstein or psi"
                )
            if spec.target == GROUP and kind not in (NUMERIC, CATEGORICAL):
                raise MonitorError(f'{self.monitor.where(check.line)}: column "{column}" is '
                                   f"{kind}; drift is measured on numeric or text columns")
            if check.test in ("psi", "jensen_shannon") and kind not in (NUMERIC, CATEGORICAL):
                raise MonitorError(f'{self.monitor.where(check.line)}: column "{column}" is '
                                   f"{kind}; {check.test} needs a numeric or text column")
        if check.test == "unique":
            return [",".join(check.columns)]  # one key, possibly composite: its results label
        return list(columns)

    def _service_columns(self, names: list[str], kinds: dict[str, str],
                         line: int) -> list[str]:
        """``names`` with each feature service (that is not a column) replaced by the output
        names of its features, e.g. ``columns: [fraud_v1]`` on a prediction log."""
        from featurekit.retrieval import resolve_features

        services = self.project.feature_services
        out: list[str] = []
        for name in names:
            if name in kinds or name not in services:
                out.append(name)
                continue
            try:
                requests = resolve_features(self.project, [name], False)
            except FeaturekitError as exc:
                raise MonitorError(f"{self.monitor.where(line)}: {exc}") from None
            out.extend(o for r in requests for _, o in r.columns if o not in out)
        return out

    def _prefetch(self, plan: list[tuple[Check, list[str | None]]]) -> None:
        """One scan per window for every column's summary (instead of one per check)."""
        columns = [c for check, cols in plan if check.test != "unique"
                   for c in cols if c is not None]
        self.current.prefetch(columns)
        if self.reference is None:
            return
        drift = [c for check, cols in plan if check.spec.needs_reference
                 or check.test == "range" for c in cols if c is not None]
        self.reference.prefetch(drift)
        self._all_ecdfs(plan)
        self.reference.prefetch_edges(self._edges_wanted(plan))
        # bins of every numeric column compared with the reference: one scan per window
        edges: dict[str, list[float]] = {}
        for check, cols in plan:
            if not check.spec.needs_reference:
                continue
            bins = check.options.get("bins", DEFAULT_BINS) if check.test in (
                "psi", "jensen_shannon", "drift") else DEFAULT_BINS
            for column in cols:
                if (column is None or column in edges
                        or self.source.columns.get(column) != NUMERIC
                        or check.test == "drift" and self._drift_test(check, column)[1]):
                    continue
                ref = self.reference.summary(column)
                if ref.count and self.current.summary(column).count:
                    edges[column] = self.reference.edges(column, bins)
        if edges:
            self.reference.prefetch_bins(edges)
            self.current.prefetch_bins(edges)
        # category counts of every column compared as categories: one scan per window
        categorical = []
        for check, cols in plan:
            for column in cols:
                if (check.spec.needs_reference and column is not None
                        and self._compared_as_categories(check, column)
                        and self.reference.summary(column).count
                        and self.current.summary(column).count):
                    categorical.append(column)
        if categorical:
            self.reference.prefetch_categories(categorical)
            self.current.prefetch_categories(categorical)

    def _edges_wanted(self, plan: list[tuple[Check, list[str | None]]]) -> dict[str, int]:
        """Numeric columns whose reference quantile edges or distinct count a check may read
        (drift groups read the count for every numeric column), with the first such check's
        number of bins."""
        wanted: dict[str, int] = {}
        for check, cols in plan:
            few_values_rule = check.test == "drift" and _distinct_limit(check)
            if _numeric_test(check) not in ("psi", "jensen_shannon") and not few_values_rule:
                continue
            for column in cols:
                if column is not None and self.source.columns.get(column) == NUMERIC:
                    wanted.setdefault(column, check.options.get("bins", DEFAULT_BINS))
        return wanted

    def _compared_as_categories(self, check: Check, column: str) -> bool:
        """Whether ``_distribution`` reads the column's category counts for this check."""
        kind = self.source.columns.get(column)
        if kind not in (NUMERIC, CATEGORICAL):
            return False
        test, as_category = (self._drift_test(check, column) if check.test == "drift"
                             else (check.test, False))
        if test not in ("psi", "jensen_shannon", "chi2", "l_infinity"):
            return False
        return kind != NUMERIC or as_category or test in ("chi2", "l_infinity")

    def _all_ecdfs(self, plan: list[tuple[Check, list[str | None]]]) -> None:
        """The exact ECDF comparison of every column a KS / Wasserstein test may need.

        Both windows' values of those columns are read in bulk, one query per window (side by
        side on engines that allow several connections), sorted and compared in numpy. The
        sorted reference also gives its quantile edges, distinct count and bin counts, and the
        current window its bin counts, so none of those needs a query (or sort) of its own.
        """
        assert self.reference is not None
        wanted: list[str] = []
        for check, cols in plan:
            if _numeric_test(check) not in ("ks", "wasserstein"):
                continue
            for column in cols:
                if (column is None or column in wanted
                        or self.source.columns.get(column) != NUMERIC):
                    continue
                if self.reference.summary(column).count and self.current.summary(column).count:
                    wanted.append(column)
        self._compare(wanted)

    def _compare(self, columns: list[str]) -> None:
        """ECDF comparisons of the columns, in ``stats.batches`` of both windows' values (each
        batch is one more scan), so memory stays bounded."""
        assert self.reference is not None
        rows = max((self.reference.summary(c).count + self.current.summary(c).count
                    for c in columns), default=0)
        for batch in stats.batches(columns, rows):
            self._compare_batch(batch)

    def _compare_batch(self, columns: list[str]) -> None:
        assert self.reference is not None
        reference, current = self._sorted_values(columns)
        for column in columns:
            ref, cur = reference.pop(column), current.pop(column)
            edges = self.reference.edges_from(column, DEFAULT_BINS, ref)
            self.current.bins_from(column, edges, cur)
            self._ecdfs[column] = stats.compare_ecdfs(ref, cur)
            if len(ref) <= t.EXACT_KS_MAX and len(cur) <= t.EXACT_KS_MAX:
                self._small[column] = (ref, cur)  # scipy's exact KS p-value reads them

    def _sorted_values(self, columns: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both windows' sorted values of the columns.

        On engines that allow several connections, up to ``threads`` of them read side by
        side: the two windows, each window's columns split between half of them.
        """
        assert self.reference is not None
        workers = self.engine.target.threads if self.engine.concurrent_writers else 1
        split = max(1, min(workers // 2, len(columns)))
        tasks = [(window, columns[i::split], [window.summary(c).nulls > 0
                                              for c in columns[i::split]])
                 for window in (self.reference, self.current) for i in range(split)]
        found: tuple[dict[str, Any], dict[str, Any]] = ({}, {})

        def read(engine: Any, task: tuple[WindowStats, list[str], list[bool]]) -> None:
            window, names, nullable = task
            part = stats.sorted_values(engine, window.sql, names, nullable)
            found[window is self.current].update(part)

        if workers < 2:
            for task in tasks:
                read(self.engine, task)
            return found
        from concurrent.futures import ThreadPoolExecutor

        from featurekit.engines import connect

        engines = [self.engine]
        try:
            for _ in tasks[1:]:
                engines.append(connect(self.engine.target))
                engines[-1].prepare_for_monitoring()
            with ThreadPoolExecutor(len(tasks)) as pool:
                list(pool.map(read, engines, tasks))
            return found
        finally:
            for engine in engines[1:]:
                engine.close()

    # -- results ------------------------------------------------------------------------
    def _result(self, check: Check, column: str | None, test: str, status: str,
                **values: Any) -> CheckResult:
        warn, error = values.pop("warn", check.warn), values.pop("error", check.error)
        window = getattr(self, "cur_bounds", None)
        reference = getattr(self, "ref_bounds", None)
        return CheckResult(
            monitor=self.monitor.name, check=check.name, column=column, test=test,
            status=status, warn=_number(warn), error=_number(error),
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            reference_start=reference.start if reference else None,
            reference_end=reference.end if reference else None,
            as_of=self.as_of, evaluated_at=self.evaluated_at, run_id=self.run_id, **values,
        )

    def _run_check(self, check: Check, columns: list[str | None]) -> list[CheckResult]:
        if check.test == "skew":
            return self._skew(check)
        if check.test == "drift":
            return self._drift(check, [c for c in columns if c is not None])
        return [self._guarded(check, column, check.test,
                              lambda column=column: self._one(check, column, check.test))
                for column in columns]

    def _guarded(self, check: Check, column: str | None, test: str,
                 compute: Callable[[], CheckResult]) -> CheckResult:
        """``compute()``, with a failure of the database recorded as this check's ``error``."""
        try:
            return compute()
        except _query_errors(self.engine) as exc:
            if isinstance(exc, MonitorError):
                raise
            return self._result(check, column, test, t.ERROR,
                                message=f"check failed: {_cause(exc)}")

    def _drift(self, check: Check, columns: list[str]) -> list[CheckResult]:
        def one(column: str) -> CheckResult:
            test, as_category = self._drift_test(check, column)
            spec = TESTS[test]
            warn = check.warn if check.warn is not None else spec.warn
            error = check.error if check.error is not None else spec.error
            return self._one(check, column, test, warn=warn, error=error,
                             as_category=as_category)

        out = [self._guarded(check, column, "drift", lambda column=column: one(column))
               for column in columns]
        # a column the database failed on (an error without a statistic) did not drift
        failed = [r.column for r in out if r.status == t.ERROR and r.statistic is None]
        judged = [r for r in out if r.status != t.NO_DATA and r.column not in failed]
        share_warn = check.options.get("share_warn", DEFAULT_SHARE_WARN)
        share_error = check.options.get("share_error")
        if judged:
            drifted = [r.column for r in judged if r.status in (t.WARN, t.ERROR)]
            share = len(drifted) / len(judged)
            out.append(self._result(
                check, None, "drift", t.status(share, share_warn, share_error, HIGHER),
                statistic=share, warn=share_warn, error=share_error, n_cur=len(judged),
                message=f"{len(drifted)} of {len(judged)} columns drifted"
                + (f": {', '.join(str(c) for c in drifted)}" if drifted else "")
                + (f"; failed: {', '.join(str(c) for c in failed)}" if failed else ""),
            ))
        else:
            out.append(self._result(check, None, "drift", t.NO_DATA, warn=share_warn,
                                    error=share_error, message="no column had data"
                                    + (f"; failed: {', '.join(map(str, failed))}"
                                       if failed else "")))
        return out

    def _drift_test(self, check: Check, column: str) -> tuple[str, bool]:
        """The test a drift group runs on a column, and whether it compares numbers as categories.

        A numeric column with at most ``categorical_max_distinct`` (default
        CATEGORICAL_MAX_DISTINCT) distinct values in the reference window is compared as
        categories with the categorical test: its quantile edges would coincide (a 0/1 flag with
        under 10% ones has every decile at 0), and PSI over them would miss any shift.
        """
        kind = self.source.columns[column]
        if kind == NUMERIC and self._few_values(check, column):
            return check.options.get("categorical_test") or DEFAULT_DRIFT[CATEGORICAL], True
        return check.options.get(f"{kind}_test") or DEFAULT_DRIFT[kind], False

    def _few_values(self, check: Check, column: str) -> bool:
        limit = _distinct_limit(check)
        if self.reference is None or not limit:
            return False
        if self.reference.summary(column).count == 0:
            return False
        bins = check.options.get("bins", DEFAULT_BINS)
        return self.reference.distinct_values(column, bins) <= limit

    def _one(self, check: Check, column: str | None, test: str, as_category: bool = False,
             **thresholds: Any) -> CheckResult:
        warn = thresholds.get("warn", check.warn)
        error = thresholds.get("error", check.error)
        spec = TESTS[test]
        if spec.target == TABLE:
            return self._table_check(check, test, warn, error)
        if spec.target == PERFORMANCE:
            return self._performance(check, test, warn, error)
        assert column is not None
        if test == "unique":
            return self._unique(check, column, warn, error)
        current = self.current.summary(column)
        if current.rows == 0 or current.count == 0:
            reason = ("the current window has no rows" if current.rows == 0
                      else f"{column} is NULL in every row of the current window")
            if test == "null_rate" and current.rows:
                reason = ""
            if reason:
                return self._result(check, column, test, t.NO_DATA, warn=warn, error=error,
                                    n_cur=current.count, message=reason)
        if spec.needs_reference or (test == "range" and not _has_bounds(check)):
            reference = self.reference
            if reference is None:
                return self._result(check, column, test, t.NO_DATA, warn=warn, error=error,
                                    n_cur=current.count, message=self.ref_missing)
            ref = reference.summary(column)
            if ref.count == 0:
                window = self.monitor.reference
                described = window.describe() if window is not None else ""
                return self._result(
                    check, column, test, t.NO_DATA, warn=warn, error=error, n_ref=0,
                    n_cur=current.count,
                    message=f"the reference window ({described}) has no values of {column}",
                )
        judge = {"warn": warn, "error": error}
        if test in ("psi", "jensen_shannon", "chi2", "l_infinity"):
            return self._distribution(check, column, test, as_category=as_category, **judge)
        if test in ("ks", "wasserstein"):
            return self._ecdf(check, column, test, **judge)
        if test == "null_rate":
            rate = current.nulls / current.rows
            return self._result(check, column, test, t.status(rate, warn, error, HIGHER),
                                statistic=rate, n_cur=current.rows, warn=warn, error=error,
                                message=f"{current.nulls} of {current.rows} rows NULL")
        if test == "range":
            return self._range(check, column, **judge)
        if test == "accepted_values":
            bad, count = stats.not_accepted(self.engine, self.current.sql, column,
                                            check.options["values"])
            share = bad / count
            return self._result(check, column, test, t.status(share, warn, error, HIGHER),
                                statistic=share, n_cur=count, warn=warn, error=error,
                                message=f"{bad} of {count} values not accepted")
        raise AssertionError(test)  # pragma: no cover - every test is dispatched above

    def _distribution(self, check: Check, column: str, test: str, warn: Any,
                      error: Any, as_category: bool = False) -> CheckResult:
        assert self.reference is not None
        message = ""
        if as_category:
            distinct = self.reference.distinct_values(column, check.options.get("bins",
                                                                               DEFAULT_BINS))
            message = f"{distinct} distinct values in the reference: compared as categories"
        if (self.source.columns[column] == NUMERIC and test in ("psi", "jensen_shannon")
                and not as_category):
            bins = check.options.get("bins", DEFAULT_BINS)
            edges = self.reference.edges(column, bins)
            ref_counts = self.reference.bins(column, edges)
            cur_counts = self.current.bins(column, edges)
            labels = _bin_labels(edges)
        else:
            labels, ref_counts, cur_counts = t.aligned(self.reference.categories(column),
                                                       self.current.categories(column))
        p_value = None
        if test == "psi":
            value = t.psi(ref_counts, cur_counts)
        elif test == "jensen_shannon":
            value = t.jensen_shannon(ref_counts, cur_counts)
        elif test == "l_infinity":
            value = t.l_infinity(ref_counts, cur_counts)
        else:
            value, p_value = t.chi2(ref_counts, cur_counts)
        judged = p_value if test in P_VALUE_TESTS else value
        direction = LOWER if test in P_VALUE_TESTS else HIGHER
        return self._result(
            check, column, test, t.status(judged, warn, error, direction), statistic=value,
            p_value=p_value, n_ref=sum(ref_counts), n_cur=sum(cur_counts), warn=warn,
            error=error, plot=_plot(labels, ref_counts, cur_counts), message=message,
        )

    def _ecdf(self, check: Check, column: str, test: str, warn: Any, error: Any) -> CheckResult:
        assert self.reference is not None
        if column not in self._ecdfs:
            self._compare([column])
        distance = self._ecdfs[column]
        p_value, message = None, ""
        if test == "ks":
            value = distance.ks
            if column in self._small:
                value, p_value = t.ks_exact(*self._small[column])
            else:
                p_value = t.ks_asymptotic_pvalue(value, distance.n_ref, distance.n_cur)
            status = t.status(p_value, warn, error, LOWER)
        else:
            value = t.normed_wasserstein(distance.wasserstein, distance.ref_std)
            status = t.status(value, warn, error, HIGHER)
            left_ref, left_cur = distance.left_out
            if left_ref or left_cur:
                message = (f"{left_ref} reference and {left_cur} current values infinite or "
                           "NaN, left out of the distance and the standard deviation")
            if status == t.NO_DATA:
                value, message = None, "a window has no finite values; " + message
        plot = None
        ref, cur = self.reference.summary(column), self.current.summary(column)
        if ref.min is not None and cur.min is not None:
            edges = self.reference.edges(column, DEFAULT_BINS)
            plot = _plot(_bin_labels(edges), self.reference.bins(column, edges),
                         self.current.bins(column, edges))
        return self._result(check, column, test, status, statistic=value, p_value=p_value,
                            n_ref=distance.n_ref, n_cur=distance.n_cur, warn=warn, error=error,
                            plot=plot, message=message)

    def _range(self, check: Check, column: str, warn: Any, error: Any) -> CheckResult:
        low, high = check.options.get("min"), check.options.get("max")
        if not _has_bounds(check):
            assert self.reference is not None
            ref = self.reference.summary(column)
            low, high = ref.min, ref.max
        outside, count = stats.outside_share(self.engine, self.current.sql, column, low, high)
        share = outside / count
        return self._result(check, column, "range", t.status(share, warn, error, HIGHER),
                            statistic=share, n_cur=count, warn=warn, error=error,
                            message=f"{outside} of {count} values outside [{low}, {high}]")

    def _unique(self, check: Check, key: str, warn: Any, error: Any) -> CheckResult:
        # ``key`` only labels the result; a column name may itself contain a comma
        columns = [key] if check.columns == ["*"] else list(check.columns or [])
        extra, total = stats.duplicates(self.engine, self.current.sql, columns)
        if total == 0:
            return self._result(check, key, "unique", t.NO_DATA, warn=warn, error=error,
                                n_cur=0, message="the current window has no keys")
        return self._result(check, key, "unique", t.status(extra, warn, error, HIGHER),
                            statistic=float(extra), n_cur=total, warn=warn, error=error,
                            message=f"{extra} rows repeat a key")

    def _table_check(self, check: Check, test: str, warn: Any, error: Any) -> CheckResult:
        if test == "row_count":
            rows = self.current.rows
            low, high = check.options.get("min"), check.options.get("max")
            outside = (low is not None and rows < low) or (high is not None and rows > high)
            severity = check.options.get("severity", t.ERROR)
            return self._result(
                check, None, test, severity if outside else t.OK, statistic=float(rows),
                n_cur=rows, warn=low if severity == t.WARN else None,
                error=low if severity == t.ERROR else None,
                message=f"{rows} rows; expected {_between(low, high)}",
            )
        return self._freshness(check, warn, error)

    def _freshness(self, check: Check, warn: Any, error: Any) -> CheckResult:
        from featurekit.freshness import monitor_thresholds

        assert self.monitor.timestamp is not None and self.source.sql is not None
        warn, error = monitor_thresholds(self.project, self.monitor.source, warn, error)
        upto = window_sql(self.engine, self.source.sql, self.monitor.timestamp,
                          _ALL, self.as_of)
        newest = stats.newest(self.engine, upto, self.monitor.timestamp)
        warn_s = warn.total_seconds() if warn is not None else None
        error_s = error.total_seconds() if error is not None else None
        if newest is None:
            return self._result(check, None, "freshness", t.NO_DATA, warn=warn_s, error=error_s,
                                message=f"no rows in {self.source.label} before {self.as_of}")
        age = (self.as_of - newest).total_seconds()
        message = f"newest row {newest:%Y-%m-%d %H:%M:%S}"
        lag = self._refresh_lag()
        if lag is not None:
            message += f"; last successful refresh {lag / 3600:.1f}h before {self.as_of}"
            age = max(age, lag)
        return self._result(check, None, "freshness", t.status(age, warn_s, error_s, HIGHER),
                            statistic=age, warn=warn_s, error=error_s, message=message)

    def _refresh_lag(self) -> float | None:
        """Seconds between the last successful refresh of a model source and ``as_of``."""
        model = self.source.model
        state = self.project.state_store.state
        if model is None or not state.exists():
            return None
        last = state.last_runs().get(model)
        if last is None or last.last_success is None:
            return None
        return max(0.0, (self.as_of - last.last_success).total_seconds())

    def _skew(self, check: Check) -> list[CheckResult]:
        """Per served feature, the share of the window's predictions whose logged value
        differs from the point-in-time value recomputed in the engine (``skew.py``)."""
        from featurekit.monitoring.skew import plan, skew_counts

        at, requests, compared = plan(self.project, self.monitor, check, self.source.columns,
                                      self.source.label)
        try:
            rows, differing = skew_counts(self.project, self.current.sql, at, requests,
                                          compared, check.options.get("tolerance", 0))
        except _query_errors(self.engine) as exc:
            if isinstance(exc, MonitorError):
                raise
            return [self._result(check, c.column, "skew", t.ERROR,
                                 message=f"check failed: {_cause(exc)}") for c in compared]
        if rows == 0:
            return [self._result(check, c.column, "skew", t.NO_DATA, n_cur=0,
                                 message="the current window has no predictions")
                    for c in compared]
        return [self._result(check, c.column, "skew",
                             t.status(n / rows, check.warn, check.error, HIGHER),
                             statistic=n / rows, n_cur=rows,
                             message=f"{n} of {rows} served values differ from "
                                     f"{c.view}.{c.view_column} at {at}")
                for c, n in zip(compared, differing, strict=True)]

    def _performance(self, check: Check, test: str, warn: Any, error: Any) -> CheckResult:
        label = check.options["label"]
        scored = "score" in check.options
        score = check.options["score"] if scored else check.options["prediction"]
        labels, scores, weights = stats.outcome_pairs(self.engine, self.current.sql, label,
                                                      score)
        rows = sum(weights)
        if rows == 0:
            return self._result(check, None, test, t.NO_DATA, warn=warn, error=error, n_cur=0,
                                message="no rows with an outcome in the current window")
        value = t.performance(test, labels, scores, weights,
                              float(check.options.get("threshold", 0.5)), scored)
        if value is None:
            return self._result(check, None, test, t.NO_DATA, warn=warn, error=error,
                                n_cur=rows, message="only one class among the outcomes")
        plot = None
        if scored and test in CLASS_METRICS:
            threshold = float(check.options.get("threshold", 0.5))
            plot = performance_plot(stats.score_counts(self.engine, self.current.sql, label,
                                                       score, threshold), threshold)
        return self._result(check, None, test, t.status(value, warn, error, TESTS[test].direction),
                            statistic=value, n_cur=rows, warn=warn, error=error, plot=plot)


#: performance tests on a probability score and a 0/1 label: the report draws their ROC
#: curve and confusion matrix
CLASS_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss")


def performance_plot(counts: list[tuple[int, bool, bool, int]],
                     threshold: float) -> dict[str, Any]:
    """The ROC curve (one point per score group) and the confusion matrix at ``threshold``
    from ``stats.score_counts``.

    >>> performance_plot([(9, True, True, 3), (2, False, False, 4), (6, True, False, 1)], 0.5)
    {'kind': 'performance', 'threshold': 0.5, 'roc': [[0.0, 0.0], [0.0, 1.0], [0.2, 1.0], \
[1.0, 1.0]], 'confusion': [[4, 1], [0, 3]]}
    """
    by_bucket: dict[int, list[int]] = {}
    confusion = [[0, 0], [0, 0]]  # rows: actual 0/1; columns: predicted 0/1
    for bucket, predicted, actual, n in counts:
        by_bucket.setdefault(bucket, [0, 0])[int(actual)] += n
        confusion[int(actual)][int(predicted)] += n
    negatives = sum(neg for neg, _ in by_bucket.values()) or 1
    positives = sum(pos for _, pos in by_bucket.values()) or 1
    roc, fp, tp = [[0.0, 0.0]], 0, 0
    for bucket in sorted(by_bucket, reverse=True):  # lowering the threshold group by group
        fp, tp = fp + by_bucket[bucket][0], tp + by_bucket[bucket][1]
        roc.append([fp / negatives, tp / positives])
    return {"kind": "performance", "threshold": threshold, "roc": roc, "confusion": confusion}


def _numeric_test(check: Check) -> str:
    """The test a check runs on numeric columns (a drift group's ``numeric_test``)."""
    if check.test != "drift":
        return check.test
    return check.options.get("numeric_test") or DEFAULT_DRIFT[NUMERIC]


def _distinct_limit(check: Check) -> int:
    """A drift group's ``categorical_max_distinct`` (0: numbers are never categories)."""
    return check.options.get("categorical_max_distinct", CATEGORICAL_MAX_DISTINCT)


def _has_bounds(check: Check) -> bool:
    return "min" in check.options or "max" in check.options


def _between(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    return f">= {low}" if low is not None else f"<= {high}"


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    return float(value)


def _bin_labels(edges: list[float]) -> list[str]:
    bounds_ = [None, *edges, None]
    labels = []
    for low, high in zip(bounds_[:-1], bounds_[1:]):
        if low is None and high is None:
            labels.append("all values")  # no finite reference value: no edges
        elif low is None:
            labels.append(f"< {high:.4g}")
        elif high is None:
            labels.append(f">= {low:.4g}")
        elif low == high:
            labels.append("")  # repeated edges: an empty bin, left out of the plot
        else:
            labels.append(f"[{low:.4g}, {high:.4g})")
    return labels


def _plot(labels: list[str], reference: list[int], current: list[int]) -> dict[str, Any]:
    """Proportions per bin or category, at most 30 (the largest), for the report."""
    ref, cur = t.proportions(reference), t.proportions(current)
    items = [item for item in zip(labels, ref, cur) if item[0] != ""]
    if len(items) > 30:
        items = sorted(items, key=lambda x: -max(x[1], x[2]))[:30]
    return {"labels": [i[0] for i in items], "reference": [i[1] for i in items],
            "current": [i[2] for i in items]}


_ALL = Window("all")


def _cause(exc: BaseException) -> str:
    """The first line of a database error (psycopg adds the SQL and a caret below it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


def _query_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """What a failed query raises: featurekit's own errors and the engine's driver's."""
    return (FeaturekitError, *engine.errors)
