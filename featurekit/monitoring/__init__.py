"""Monitors: drift, data quality, freshness and model performance, computed in the engine.

``monitors/<name>.yml`` files are parsed by ``config``; ``runner`` evaluates them
(``evaluate`` + ``windows`` + ``stats`` + ``checks``), appends to the results table
(``results``), posts alerts (``alerts``), and can write Prometheus metrics (``prometheus``)
and an offline HTML report (``report``).
"""

from __future__ import annotations

from featurekit.monitoring.config import Check, Monitor, Window, load_monitors, parse_monitor
from featurekit.monitoring.results import CheckResult
from featurekit.monitoring.runner import MonitorRun, backfill, run_monitors

__all__ = [
    "Check",
    "CheckResult",
    "Monitor",
    "MonitorRun",
    "Window",
    "backfill",
    "load_monitors",
    "parse_monitor",
    "run_monitors",
]
