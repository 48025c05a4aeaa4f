"""Prometheus textfile-collector output (node_exporter's ``--collector.textfile.directory``).

Gauges, labelled by monitor / check / column:

- ``featurekit_check_value``: the check's statistic (PSI, p-value test's statistic, share...)
- ``featurekit_check_p_value``: the p-value, for ks and chi2
- ``featurekit_check_status``: 0 ok, 1 warn, 2 error, -1 no_data
- ``featurekit_monitor_last_run_timestamp_seconds``: per monitor, the evaluation time

The file is written to a temporary name and renamed, so a scrape never sees half of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featurekit.monitoring.results import CheckResult

STATUS_VALUE = {"ok": 0, "warn": 1, "error": 2, "no_data": -1}


def write_textfile(path: str | Path, results: list[CheckResult]) -> Path:
    """Write the gauges for ``results`` to ``path`` atomically; the path written."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    labels = ["monitor", "check", "column"]
    value = Gauge("featurekit_check_value", "Statistic of a monitor check", labels,
                  registry=registry)
    p_value = Gauge("featurekit_check_p_value", "p-value of a monitor check (ks, chi2)", labels,
                    registry=registry)
    status = Gauge("featurekit_check_status", "0 ok, 1 warn, 2 error, -1 no_data", labels,
                   registry=registry)
    last_run = Gauge("featurekit_monitor_last_run_timestamp_seconds",
                     "When the monitor was last evaluated (its as-of time)", ["monitor"],
                     registry=registry)
    from datetime import UTC

    for result in results:
        key = {"monitor": result.monitor, "check": result.check, "column": result.column or ""}
        status.labels(**key).set(STATUS_VALUE.get(result.status, -1))
        if result.statistic is not None:
            value.labels(**key).set(result.statistic)
        if result.p_value is not None:
            p_value.labels(**key).set(result.p_value)
        if result.as_of is not None:
            last_run.labels(monitor=result.monitor).set(
                result.as_of.replace(tzinfo=UTC).timestamp()
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)  # writes a temp file and renames it
    return path
