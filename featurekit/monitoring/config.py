"""Loading and validating ``monitors/*.yml``: every mistake names ``file:line`` and what to do.

Only the file is checked here; whether a column exists and has the right type is checked
against the database when the monitor runs (``runner.py``), with the same ``file:line``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from featurekit.durations import is_duration, parse_duration
from featurekit.errors import MonitorError, did_you_mean
from featurekit.monitoring.specs import (
    DRIFT_CATEGORICAL,
    DRIFT_NUMERIC,
    GROUP,
    HIGHER,
    PERFORMANCE,
    TABLE,
    TESTS,
    TestSpec,
)
from featurekit.state import as_naive_utc

MONITOR_KEYS = ("source", "sql", "prediction_log", "timestamp", "reference", "current",
                "schedule", "checks", "alerts", "description")
#: a prediction log's table and the view joining it with outcomes (see ``featurekit.logs``)
LOG_TABLES = ("predictions_{model}", "predictions_{model}_labeled")
WINDOW_KEYS = ("start", "end", "last", "offset", "rows", "table")
CHECK_KEYS = ("test", "column", "columns", "name", "warn", "error", "severity")
ALERT_KEYS = ("webhook", "timeout", "retries", "max_attempts")


class _LineDict(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 1
    lines: dict[Any, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    mapping = _LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class Window:
    """Which rows a window holds.

    kind: ``fixed`` {start, end} | ``relative`` {last, offset} | ``rows`` {rows: N} |
    ``table`` {table: name} | ``all`` (every row up to the evaluation time).
    """

    kind: str
    start: datetime | None = None
    end: datetime | None = None
    last: timedelta | None = None
    offset: timedelta = timedelta(0)
    rows: int | None = None
    table: str | None = None
    line: int = 0

    @property
    def is_fixed(self) -> bool:
        """A fixed window's rows do not depend on the evaluation time (stats can be stored)."""
        return self.kind in ("fixed", "table")

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"{self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M}"
        if self.kind == "relative":
            offset = f" offset {self.offset}" if self.offset else ""
            return f"last {self.last}{offset}"
        if self.kind == "rows":
            return f"last {self.rows} rows"
        if self.kind == "table":
            return f"table {self.table}"
        return "all rows"


@dataclass
class Check:
    """One entry of ``checks:``; a ``drift`` group is expanded per column when it runs."""

    test: str
    columns: list[str] | None  # None: a table-level test; ["*"]: columns: all
    name: str
    warn: Any = None
    error: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def spec(self) -> TestSpec:
        return TESTS[self.test]


@dataclass
class Monitor:
    """A parsed ``monitors/<name>.yml``."""

    name: str
    path: Path
    source: str | None
    sql: str | None
    timestamp: str | None
    reference: Window | None
    current: Window
    schedule: str | None
    checks: list[Check]
    webhook: str | None = field(default=None, repr=False)  # may carry a password or token
    alert_timeout: float = 5.0
    alert_retries: int = 2
    #: posts of one undelivered alert, over all runs, before it is given up
    alert_max_attempts: int = 10
    lines: dict[str, int] = field(default_factory=dict)
    #: the model whose prediction log is the source: until it logs, checks are no_data
    prediction_log: str | None = None
    description: str = ""

    def where(self, line: int | None = None) -> str:
        """``path:line`` for messages."""
        return f"{self.path}:{line}" if line else str(self.path)


def load_monitors(folder: Path, root: Path | None = None) -> dict[str, Monitor]:
    """Every ``*.yml`` / ``*.yaml`` in ``folder``, by name (the file name)."""
    monitors: dict[str, Monitor] = {}
    if not folder.is_dir():
        return monitors
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        shown = path.relative_to(root) if root is not None else path
        monitor = parse_monitor(shown, path.read_text())
        if monitor.name in monitors:
            raise MonitorError(f"{shown}: a monitor named {monitor.name} already exists")
        monitors[monitor.name] = monitor
    return monitors


def parse_monitor(path: Path | str, text: str) -> Monitor:
    """Parse and validate one monitor file's text; ``path`` is only used in messages."""
    path = Path(path)
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MonitorError(f"{path}{line}: invalid YAML: {problem}") from None
    if not isinstance(document, _LineDict):
        raise MonitorError(f"{path}:1: a monitor file is a mapping with source, checks, ...")
    _unknown_keys(path, document, MONITOR_KEYS, "monitor")

    def at(key: str) -> str:
        return f"{path}:{document.lines.get(key, document.line)}"

    source, sql = document.get("source"), document.get("sql")
    if isinstance(source, dict):  # source: {sql: SELECT ...}
        sql, source = source.get("sql"), None
    prediction_log = _prediction_log(path, document, source, sql)
    if prediction_log is not None and source is None:
        source = LOG_TABLES[0].format(model=prediction_log)
    if (source is None) == (sql is None):
        raise MonitorError(f"{at('source')}: give exactly one of `source: <table or model>` "
                           f"or `sql: SELECT ...`")
    if source is not None and not isinstance(source, str):
        raise MonitorError(f"{at('source')}: source is a table or model name")
    timestamp = document.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        raise MonitorError(f"{at('timestamp')}: timestamp is a column name")
    current = _window(path, document.get("current"), document.lines.get("current", 1),
                      "current", allow_table=False) if "current" in document else Window("all")
    reference = (_window(path, document["reference"], document.lines["reference"], "reference",
                         allow_table=True) if "reference" in document else None)
    for label, window in (("current", current), ("reference", reference)):
        if window is not None and window.kind in ("relative", "rows", "fixed") and not timestamp:
            raise MonitorError(f"{at(label)}: a {window.kind} window needs `timestamp:` "
                               f"(the column that orders the rows)")
    schedule = document.get("schedule")
    if schedule is not None:
        schedule = str(schedule)
        if not is_duration(schedule) and not _is_cron(schedule):
            raise MonitorError(f'{at("schedule")}: schedule "{schedule}" is neither a duration '
                               f"(30m, 1h, 1d) nor a cron expression")
    raw_checks = document.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise MonitorError(f"{at('checks')}: `checks:` must be a non-empty list of "
                           f"{{test: ..., column: ...}}")
    checks = [_check(path, raw, document.lines.get("checks", 1)) for raw in raw_checks]
    _unique_names(path, checks)
    for check in checks:
        if check.spec.needs_reference and reference is None:
            raise MonitorError(f"{path}:{check.line}: test {check.test} compares with a "
                               f"reference window; add `reference: {{start: ..., end: ...}}`")
        if check.test == "freshness" and not timestamp:
            raise MonitorError(f"{path}:{check.line}: freshness needs `timestamp:`")
        if check.test == "skew" and not (timestamp or check.options.get("at")):
            raise MonitorError(f"{path}:{check.line}: skew needs `timestamp:` (or `at:`), the "
                               f"log column holding when each prediction was served")
    webhook, timeout, retries, max_attempts = _alerts(path, document)
    return Monitor(
        name=path.stem, path=path, source=source, sql=sql, timestamp=timestamp,
        reference=reference, current=current, schedule=schedule, checks=checks,
        webhook=webhook, alert_timeout=timeout, alert_retries=retries,
        alert_max_attempts=max_attempts,
        lines=dict(document.lines), prediction_log=prediction_log,
        description=str(document.get("description") or "").strip(),
    )


def _prediction_log(path: Path, document: _LineDict, source: Any, sql: Any) -> str | None:
    """``prediction_log: <model>``: the source is that model's log, which may not exist yet."""
    model = document.get("prediction_log")
    if model is None:
        return None
    line = document.lines["prediction_log"]
    if not isinstance(model, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", model):
        raise MonitorError(f"{path}:{line}: prediction_log is a model name (the `model` of "
                           f"log_predictions), such as fraud")
    if sql is not None:
        raise MonitorError(f"{path}:{line}: prediction_log names the model whose log is the "
                           f"source; with `sql:` leave it out")
    logs = [table.format(model=model) for table in LOG_TABLES]
    if source is not None and source not in logs:
        raise MonitorError(f'{path}:{document.lines["source"]}: source "{source}" is not the '
                           f'prediction log of model "{model}": use {" or ".join(logs)}')
    return model


def _unknown_keys(path: Path, mapping: _LineDict, known: tuple[str, ...] | list[str],
                  what: str) -> None:
    for key in mapping:
        if key not in known:
            raise MonitorError(
                f'{path}:{mapping.lines.get(key, mapping.line)}: unknown {what} key "{key}"'
                f"{did_you_mean(str(key), known)}; known: {', '.join(known)}"
            )


def _is_cron(text: str) -> bool:
    from croniter import croniter

    return len(text.split()) in (5, 6) and croniter.is_valid(text)


def parse_time(value: Any, where: str) -> datetime:
    """A YAML date/datetime/ISO string as a naive UTC datetime."""
    if isinstance(value, date):  # a datetime too
        return as_naive_utc(value)
    try:
        return parse_time(datetime.fromisoformat(str(value)), where)
    except ValueError:
        raise MonitorError(f'{where}: "{value}" is not a date or timestamp; '
                           f"write e.g. 2024-01-31 or 2024-01-31T12:00") from None


def _duration(value: Any, where: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise MonitorError(f"{where}: {exc}") from None


def _window(path: Path, raw: Any, line: int, label: str, allow_table: bool) -> Window:
    if not isinstance(raw, _LineDict):
        raise MonitorError(f"{path}:{line}: {label} is a mapping such as {{last: 1d}}, "
                           f"{{start: 2024-01-01, end: 2024-02-01}} or {{rows: 10000}}")
    _unknown_keys(path, raw, WINDOW_KEYS if allow_table else WINDOW_KEYS[:-1], f"{label} window")

    def at(key: str) -> str:
        return f"{path}:{raw.lines.get(key, raw.line)}"

    keys = set(raw)
    if keys == {"table"}:
        if not isinstance(raw["table"], str):
            raise MonitorError(f"{at('table')}: table is a table name")
        return Window("table", table=raw["table"], line=raw.line)
    if keys == {"rows"}:
        rows = raw["rows"]
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise MonitorError(f"{at('rows')}: rows is a positive whole number")
        return Window("rows", rows=rows, line=raw.line)
    if keys <= {"last", "offset"} and "last" in keys:
        last = _duration(raw["last"], at("last"))
        offset = _duration(raw["offset"], at("offset")) if "offset" in raw else timedelta(0)
        return Window("relative", last=last, offset=offset, line=raw.line)
    if keys == {"start", "end"}:
        start, end = parse_time(raw["start"], at("start")), parse_time(raw["end"], at("end"))
        if start >= end:
            raise MonitorError(f"{at('end')}: {label} window ends ({end}) before it starts "
                               f"({start})")
        return Window("fixed", start=start, end=end, line=raw.line)
    raise MonitorError(f"{path}:{raw.line}: {label} window: give {{start, end}}, "
                       f"{{last[, offset]}}, {{rows}}" + (" or {table}" if allow_table else ""))


def _check(path: Path, raw: Any, checks_line: int) -> Check:
    if not isinstance(raw, _LineDict):
        raise MonitorError(f"{path}:{checks_line}: each check is a mapping such as "
                           f"{{column: amount, test: psi}}")
    line = raw.line
    test = raw.get("test")
    if test is None:
        raise MonitorError(f"{path}:{line}: check without `test:`; one of {', '.join(TESTS)}")
    if test not in TESTS:
        raise MonitorError(f'{path}:{raw.lines["test"]}: unknown test "{test}"'
                           f"{did_you_mean(str(test), TESTS)}; known: {', '.join(TESTS)}")
    spec = TESTS[test]
    _unknown_keys(path, raw, [*CHECK_KEYS, *sorted(spec.options)], f"{test} check")

    def at(key: str) -> str:
        return f"{path}:{raw.lines.get(key, line)}"

    columns = _columns(raw, spec, at)
    options = {k: v for k, v in raw.items() if k in spec.options}
    warn, error = raw.get("warn", spec.warn), raw.get("error", spec.error)
    if raw.get("severity") not in (None, "warn", "error"):
        raise MonitorError(f"{at('severity')}: severity is warn or error")
    if "severity" in raw:
        options["severity"] = raw["severity"]
    if test == "freshness":  # unset thresholds may come from the source (freshness.py)
        warn = _duration(raw["warn"], at("warn")) if raw.get("warn") is not None else None
        error = _duration(raw["error"], at("error")) if raw.get("error") is not None else None
    else:
        for key, value in (("warn", warn), ("error", error)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise MonitorError(f"{at(key)}: {key} threshold must be a number, not {value!r}")
    if warn is not None and error is not None:
        wrong = warn > error if spec.direction == HIGHER else warn < error
        if wrong:
            relation = "at most" if spec.direction == HIGHER else "at least"
            raise MonitorError(
                f"{at('warn' if 'warn' in raw else 'error')}: thresholds in the wrong order for "
                f"{test}: warn ({warn}) must be {relation} error ({error}), because "
                f"{'larger' if spec.direction == HIGHER else 'smaller'} values are worse"
            )
    _check_options(test, options, at)
    name = raw.get("name") or test
    return Check(test=test, columns=columns, name=str(name), warn=warn, error=error,
                 options=options, line=line)


def _columns(raw: _LineDict, spec: TestSpec, at: Any) -> list[str] | None:
    if "column" in raw and "columns" in raw:
        raise MonitorError(f"{at('columns')}: give `column:` or `columns:`, not both")
    if spec.target in (TABLE, PERFORMANCE):
        if "column" in raw or "columns" in raw:
            key = "column" if "column" in raw else "columns"
            raise MonitorError(f"{at(key)}: test {spec.name} applies to the whole window; "
                               f"remove `{key}:`")
        return None
    value = raw.get("column", raw.get("columns"))
    if value is None:
        raise MonitorError(f"{at('test')}: test {spec.name} needs `column:` "
                           f"(or `columns: [...]` / `columns: all`)")
    if value == "all":
        return ["*"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    key = "column" if "column" in raw else "columns"
    raise MonitorError(f"{at(key)}: {key} is a column name, a list of names, or `all`")


def _check_options(test: str, options: dict[str, Any], at: Any) -> None:
    bins = options.get("bins")
    if bins is not None and (not isinstance(bins, int) or isinstance(bins, bool) or bins < 2):
        raise MonitorError(f"{at('bins')}: bins is a whole number >= 2")
    if test == "accepted_values":
        values = options.get("values")
        if not isinstance(values, list) or not values:
            raise MonitorError(f"{at('values')}: accepted_values needs `values: [a, b, ...]`")
    if test in ("row_count", "range"):
        for key in ("min", "max"):
            value = options.get(key)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise MonitorError(f"{at(key)}: {key} must be a number")
        if test == "row_count" and "min" not in options and "max" not in options:
            raise MonitorError(f"{at('test')}: row_count needs `min:` and/or `max:`")
    if test == "skew":
        _check_skew(options, at)
    if TESTS[test].target == PERFORMANCE:
        if "label" not in options:
            raise MonitorError(f"{at('test')}: {test} needs `label:` (the outcome column)")
        if "score" not in options and "prediction" not in options:
            raise MonitorError(f"{at('test')}: {test} needs `score:` (or `prediction:`)")
        if test in ("roc_auc", "log_loss") and "score" not in options:
            raise MonitorError(f"{at('test')}: {test} needs `score:` (a probability column)")
    if TESTS[test].target == GROUP:
        for key, allowed in (("numeric_test", DRIFT_NUMERIC),
                             ("categorical_test", DRIFT_CATEGORICAL)):
            value = options.get(key)
            if value is not None and value not in allowed:
                raise MonitorError(f'{at(key)}: {key} "{value}" is not a drift test for that '
                                   f"kind{did_you_mean(str(value), allowed)}; "
                                   f"one of {', '.join(allowed)}")
        limit = options.get("categorical_max_distinct")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 0):
            raise MonitorError(f"{at('categorical_max_distinct')}: categorical_max_distinct is "
                               f"a whole number >= 0 (0: never compare numbers as categories)")
        exclude = options.get("exclude", [])
        if not isinstance(exclude, list):
            raise MonitorError(f"{at('exclude')}: exclude is a list of column names")


def _check_skew(options: dict[str, Any], at: Any) -> None:
    """``skew`` names a feature service or lists features; the rest has simple types."""
    if ("service" in options) == ("features" in options):
        raise MonitorError(f"{at('test')}: skew needs `service: <feature service>` or "
                           f"`features: [view.column, ...]` (one of them)")
    if "service" in options and not isinstance(options["service"], str):
        raise MonitorError(f"{at('service')}: service is the name of a feature service")
    features = options.get("features")
    if "features" in options and (not isinstance(features, list) or not features
                                  or not all(isinstance(f, str) for f in features)):
        raise MonitorError(f"{at('features')}: features is a list of view.column / view.*")
    tolerance = options.get("tolerance", 0)
    if isinstance(tolerance, str):  # YAML 1.1 reads 1e-6 (no dot) as text
        try:
            tolerance = options["tolerance"] = float(tolerance)
        except ValueError:
            pass
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        raise MonitorError(f"{at('tolerance')}: tolerance is a number >= 0 (how far a served "
                           f"number may be from the recomputed one)")
    mapping = options.get("entity_columns", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise MonitorError(f"{at('entity_columns')}: entity_columns maps entity columns to log "
                           f"columns, e.g. {{customer_id: buyer_id}}")
    if not isinstance(options.get("at", ""), str):
        raise MonitorError(f"{at('at')}: at is the log column holding each prediction's time")


def _unique_names(path: Path, checks: list[Check]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for check in checks:
        for column in check.columns or [""]:
            key = (check.name, column)
            if key in seen:
                raise MonitorError(
                    f"{path}:{check.line}: a second {check.name} check on "
                    f"{column or 'the window'} (first at line {seen[key]}); give it `name:`"
                )
            seen[key] = check.line


def _alerts(path: Path, document: _LineDict) -> tuple[str | None, float, int, int]:
    raw = document.get("alerts")
    if raw is None:
        return None, 5.0, 2, 10
    if not isinstance(raw, _LineDict):
        raise MonitorError(f"{path}:{document.lines['alerts']}: alerts is a mapping "
                           f"such as {{webhook: https://...}}")
    _unknown_keys(path, raw, ALERT_KEYS, "alerts")
    from featurekit.profiles import render_env_vars

    webhook = raw.get("webhook")
    if webhook is not None:
        webhook = render_env_vars(str(webhook), f"{path}:{raw.lines['webhook']}") or None
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise MonitorError(f"{path}:{raw.lines['webhook']}: webhook must be an http(s) URL")
    timeout = float(raw.get("timeout", 5.0))
    retries = int(raw.get("retries", 2))
    max_attempts = int(raw.get("max_attempts", 10))
    if max_attempts < 1:
        raise MonitorError(f"{path}:{raw.lines['max_attempts']}: max_attempts must be at least 1")
    return webhook, timeout, retries, max_attempts
