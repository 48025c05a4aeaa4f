"""Prometheus metrics of the feature server (``GET /metrics``).

- ``featurekit_request_duration_seconds{method, path, status}``: request latency histogram.
- ``featurekit_feature_view_staleness_seconds{view}``: now minus the newest ``timestamp`` of
  each feature view's last successful refresh; ``featurekit_feature_view_last_refresh_age_seconds``
  the time since that refresh.
- From ``featurekit.monitor_latest``, per ``{monitor, check, column, test}``:
  ``featurekit_check_value`` (the statistic), ``featurekit_check_p_value``,
  ``featurekit_check_status`` (0 ok, 1 warn, 2 error, -1 no_data),
  ``featurekit_check_warn_threshold``, ``featurekit_check_error_threshold``; and
  ``featurekit_monitor_last_run_timestamp_seconds{monitor}``.
- ``featurekit_database_up``: 1 when the last scrape could read the database, else 0.

Latencies are counted per process; with several workers ``featurekit serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a shared folder so any worker's scrape shows all of them.
Staleness and monitor gauges are read from the database at each scrape.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from featurekit.monitoring.prometheus import STATUS_VALUE

if TYPE_CHECKING:
    from featurekit.project import Project

#: latency buckets from half a millisecond: single-entity lookups take a few
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
CHECK_LABELS = ("monitor", "check", "column", "test")


@dataclass
class Snapshot:
    """What a scrape read from the database."""

    up: bool = True
    error: str = ""
    views: list[tuple[str, datetime | None, datetime | None]] = field(default_factory=list)
    checks: list[tuple[Any, ...]] = field(default_factory=list)


class Metrics:
    """The request histogram, and the gauges built from a database snapshot at each scrape."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "featurekit_request_duration_seconds", "HTTP request latency",
            ["method", "path", "status"], buckets=BUCKETS, registry=self.registry,
        )
        self.middleware = _middleware(self.latency)

    def snapshot(self, project: Project) -> Snapshot:
        """Read staleness and the latest monitor results (runs on the database thread)."""
        from featurekit.monitoring.results import Results

        engine = project.engine
        snap = Snapshot()
        state = project.state_store.state
        if state.exists():
            runs = state.last_runs()
            for name, model in project.models.items():
                if model.entity and model.timestamp and name in runs:
                    last = runs[name]
                    snap.views.append((name, last.high_water_mark, last.last_success))
        if engine.relation_kind("monitor_latest", engine.metadata_schema) is not None:
            snap.checks = engine.rows(
                f"SELECT monitor, check_name, column_name, test, status, statistic, p_value, "
                f"warn_threshold, error_threshold, as_of "
                f"FROM {Results(engine).table('monitor_latest')} "
                f"WHERE target_schema = :target_schema",
                {"target_schema": engine.schema},
            )
        return snap

    @staticmethod
    def unavailable(error: str) -> Snapshot:
        return Snapshot(up=False, error=error)

    def render(self, snapshot: Snapshot) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            requests = CollectorRegistry()
            multiprocess.MultiProcessCollector(requests)
        else:
            requests = self.registry
        gauges = CollectorRegistry()
        gauges.register(_SnapshotCollector(snapshot))
        return generate_latest(requests) + generate_latest(gauges), CONTENT_TYPE_LATEST


class _SnapshotCollector:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        snap = self.snapshot
        up = GaugeMetricFamily("featurekit_database_up",
                               "1 when this scrape could read the database")
        up.add_metric([], 1.0 if snap.up else 0.0)
        yield up
        now = datetime.now(UTC)
        stale = GaugeMetricFamily("featurekit_feature_view_staleness_seconds",
                                  "Now minus the newest timestamp of the view's last refresh",
                                  labels=["view"])
        age = GaugeMetricFamily("featurekit_feature_view_last_refresh_age_seconds",
                                "Seconds since the view's last successful refresh",
                                labels=["view"])
        for view, newest, refreshed in snap.views:
            if newest is not None:
                stale.add_metric([view], _seconds(now, newest))
            if refreshed is not None:
                age.add_metric([view], _seconds(now, refreshed))
        yield stale
        yield age
        families = {
            "value": GaugeMetricFamily("featurekit_check_value", "Statistic of a monitor check",
                                       labels=CHECK_LABELS),
            "p_value": GaugeMetricFamily("featurekit_check_p_value",
                                         "p-value of a monitor check (ks, chi2)",
                                         labels=CHECK_LABELS),
            "status": GaugeMetricFamily("featurekit_check_status",
                                        "0 ok, 1 warn, 2 error, -1 no_data", labels=CHECK_LABELS),
            "warn": GaugeMetricFamily("featurekit_check_warn_threshold",
                                      "The check's warn threshold", labels=CHECK_LABELS),
            "error": GaugeMetricFamily("featurekit_check_error_threshold",
                                       "The check's error threshold", labels=CHECK_LABELS),
        }
        last_run = GaugeMetricFamily("featurekit_monitor_last_run_timestamp_seconds",
                                     "When the monitor was last evaluated (its as-of time)",
                                     labels=["monitor"])
        newest: dict[str, float] = {}
        for (monitor, check, column, test, status, statistic, p_value, warn, error,
             as_of) in snap.checks:
            labels = [monitor, check, column or "", test or ""]
            families["status"].add_metric(labels, STATUS_VALUE.get(status, -1))
            for key, value in (("value", statistic), ("p_value", p_value), ("warn", warn),
                               ("error", error)):
                if value is not None:
                    families[key].add_metric(labels, float(value))
            if as_of is not None:
                stamp = _aware(as_of).timestamp()
                newest[monitor] = max(stamp, newest.get(monitor, stamp))
        for monitor, stamp in newest.items():
            last_run.add_metric([monitor], stamp)
        yield from families.values()
        yield last_run


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(now: datetime, then: datetime) -> float:
    return (now - _aware(then)).total_seconds()


def _middleware(latency: Any) -> Any:
    """A plain ASGI middleware timing each HTTP request by route (cheaper than Starlette's
    BaseHTTPMiddleware); unknown paths count as ``other`` so labels stay few."""

    class Timing:
        def __init__(self, app: Any):
            self.app = app

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            start = time.perf_counter()
            status = [500]

            async def sending(message: dict) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = scope.get("route")
                path = getattr(route, "path", None) or "other"
                latency.labels(scope["method"], path, str(status[0])).observe(
                    time.perf_counter() - start)

    return Timing
