"""Prometheus alerting rules from the monitors' thresholds (``monitor --prometheus-rules``).

Each check with a threshold becomes a rule per level on the gauges ``featurekit serve``
exports from ``monitor_latest`` (``featurekit_check_value`` / ``featurekit_check_p_value``,
labelled monitor, check, column, test): ``warning`` while the statistic is past ``warn`` but
not ``error``, ``critical`` past ``error``. Tests judged on a p-value (ks, chi2) compare the
p-value. A ``drift`` group gets a rule per test its columns may use and one for the share of
drifted columns. Rules match the monitor, check and test, not the column, so one rule covers
every column of a check and the summary names the column from the alert's labels.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.errors import ConfigError
from featurekit.monitoring.specs import (
    CATEGORICAL,
    DEFAULT_DRIFT,
    DEFAULT_SHARE_WARN,
    DRIFT_CATEGORICAL,
    DRIFT_NUMERIC,
    HIGHER,
    NUMERIC,
    PERFORMANCE,
    TESTS,
)

if TYPE_CHECKING:
    from featurekit.monitoring.config import Check, Monitor
    from featurekit.project import Project

#: tests whose status is judged on the p-value, not the statistic
P_VALUE_TESTS = frozenset({"ks", "chi2"})
SEVERITY = {"warn": "warning", "error": "critical"}
_PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
ALERT_NAMES = {"drift": "ModelDriftHigh", "quality": "DataQualityDegraded",
               "row_count": "RowCountOutOfRange", "freshness": "DataStale",
               "performance": "ModelPerformanceDegraded"}
_QUALITY = ("null_rate", "range", "accepted_values", "unique")


def alerting_rules(project: Project, monitors: list[Monitor],
                   for_: str = "5m") -> dict[str, Any]:
    """The rules document (``groups: [...]``) for ``monitors``; ``for_`` is each rule's
    ``for:`` (how long a condition must hold before the alert fires)."""
    if not _PROM_DURATION.match(for_):
        raise ConfigError(f"--alert-for {for_!r}: a Prometheus duration such as 30s, 5m or 1h")
    rules: list[dict[str, Any]] = []
    for monitor in monitors:
        for check in monitor.checks:
            if check.test == "row_count":
                rules += _row_count_rule(monitor, check, for_)
                continue
            for test, warn, error, metric, direction in _thresholds(project, monitor, check):
                rules += _rules(monitor, check, test, warn, error, metric, direction, for_)
    return {"groups": [{"name": "featurekit_monitors", "rules": rules}]}


def _thresholds(project: Project, monitor: Monitor,
                check: Check) -> list[tuple[str, float | None, float | None, str, str]]:
    """(test, warn, error, metric, direction) per rule the check needs."""
    spec = check.spec
    if check.test == "drift":
        out = []
        numeric = check.options.get("numeric_test", DEFAULT_DRIFT[NUMERIC])
        categorical = check.options.get("categorical_test", DEFAULT_DRIFT[CATEGORICAL])
        for test in dict.fromkeys([numeric, categorical]):
            assert test in DRIFT_NUMERIC or test in DRIFT_CATEGORICAL
            per = TESTS[test]
            warn = check.warn if check.warn is not None else per.warn
            error = check.error if check.error is not None else per.error
            metric = "p_value" if test in P_VALUE_TESTS else "value"
            out.append((test, warn, error, metric, per.direction))
        share_warn = check.options.get("share_warn", DEFAULT_SHARE_WARN)
        out.append(("drift", share_warn, check.options.get("share_error"), "value", HIGHER))
        return out
    if check.test == "freshness":
        from featurekit.freshness import monitor_thresholds

        warn, error = monitor_thresholds(project, monitor.source, check.warn, check.error)
        return [("freshness", warn.total_seconds() if warn else None,
                 error.total_seconds() if error else None, "value", HIGHER)]
    metric = "p_value" if check.test in P_VALUE_TESTS else "value"
    return [(check.test, check.warn, check.error, metric, spec.direction)]


def _rules(monitor: Monitor, check: Check, test: str, warn: float | None,
           error: float | None, metric: str, direction: str, for_: str) -> list[dict[str, Any]]:
    selector = (f'featurekit_check_{metric}{{monitor="{_escape(monitor.name)}",'
                f'check="{_escape(check.name)}",test="{_escape(test)}"}}')
    worse, better = (">", "<=") if direction == HIGHER else ("<", ">=")
    shown = "p-value" if metric == "p_value" else test
    subject = monitor.prediction_log or monitor.source or "its query"
    out = []
    levels = [("error", error, f"{selector} {worse} {error}"),
              ("warn", warn, f"{selector} {worse} {warn}"
               + (f" {better} {error}" if error is not None else ""))]
    for level, threshold, expr in levels:
        if threshold is None:
            continue
        column = "{{ $labels.column }}"
        summary = (f"{subject}: monitor {monitor.name}, check {check.name}"
                   + (f", column {column}" if test != "drift" else "")
                   + f": {shown} {{{{ $value | printf \"%.4g\" }}}} {worse} {threshold}")
        out.append(_rule(_alert_name(test), expr, for_, level, monitor, check, test, summary))
    return out


def _row_count_rule(monitor: Monitor, check: Check, for_: str) -> list[dict[str, Any]]:
    selector = (f'featurekit_check_value{{monitor="{_escape(monitor.name)}",'
                f'check="{_escape(check.name)}",test="row_count"}}')
    low, high = check.options.get("min"), check.options.get("max")
    bounds = [f"{selector} < {low}" if low is not None else None,
              f"{selector} > {high}" if high is not None else None]
    subject = monitor.prediction_log or monitor.source or "its query"
    summary = (f"{subject}: monitor {monitor.name}, check {check.name}: "
               f"{{{{ $value }}}} rows, expected {low if low is not None else '-inf'}.."
               f"{high if high is not None else 'inf'}")
    if not any(bounds):
        return []
    return [_rule(ALERT_NAMES["row_count"], " or ".join(b for b in bounds if b), for_,
                  check.options.get("severity", "error"), monitor, check, "row_count",
                  summary)]


def _rule(name: str, expr: str, for_: str, level: str, monitor: Monitor, check: Check,
          test: str, summary: str) -> dict[str, Any]:
    return {
        "alert": name, "expr": expr, "for": for_,
        "labels": {"severity": SEVERITY[level], "monitor": monitor.name, "check": check.name,
                   "test": test},
        "annotations": {"summary": summary,
                        "description": f"{monitor.where(check.line)}: {check.test} check "
                                       f"at {level} level"},
    }


def _alert_name(test: str) -> str:
    if test in ("row_count", "freshness"):
        return ALERT_NAMES[test]
    if test in _QUALITY:
        return ALERT_NAMES["quality"]
    if TESTS[test].target == PERFORMANCE:
        return ALERT_NAMES["performance"]
    return ALERT_NAMES["drift"]


def _escape(value: str) -> str:
    r"""A PromQL string literal's content.

    >>> _escape('a"b\\c')
    'a\\"b\\\\c'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"')


def write_rules(path: str | Path, document: dict[str, Any]) -> Path:
    """Write the rules file atomically (a temporary file renamed): never half a file.

    Raises:
        ConfigError: the path cannot be written (its folder is missing or not writable...).
    """
    import yaml

    path = Path(path)
    text = yaml.safe_dump(document, sort_keys=False, width=1000)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"--prometheus-rules {path}: cannot write there "
                          f"({exc.strerror or exc}); pick a writable folder") from None
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # Prometheus may run as another user
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise ConfigError(f"--prometheus-rules {path}: cannot write it "
                          f"({exc.strerror or exc}); pick a writable path") from None
    return path
