"""``featurekit monitor``: pick the due monitors, evaluate them, record results, alert.

A monitor is due when its ``schedule`` (a duration or a cron expression) has elapsed since its
last scheduled run, or when it has never run; cron calling ``featurekit monitor`` every few
minutes is a complete scheduler. ``as_of`` evaluates every selected monitor as if at that
time; a backfill evaluates them at each step of a range, without alerts.
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from featurekit.errors import MonitorError, did_you_mean
from featurekit.monitoring.evaluate import Evaluation
from featurekit.monitoring.results import CheckResult, Results
from featurekit.state import utcnow

if TYPE_CHECKING:
    from featurekit.monitoring.alerts import Delivery
    from featurekit.monitoring.config import Monitor
    from featurekit.project import Project


@dataclass
class MonitorRun:
    """What one ``featurekit monitor`` invocation did."""

    results: list[CheckResult] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    monitors: list[str] = field(default_factory=list)
    references_reused: int = 0

    def failed(self, fail_on: str = "error") -> bool:
        """True when any check is at ``fail_on`` or worse (the CLI's exit status)."""
        from featurekit.monitoring.checks import SEVERITY

        bar = SEVERITY[fail_on]
        return any(SEVERITY.get(r.status, 0) >= bar for r in self.results)


def select_monitors(monitors: dict[str, Monitor], select: list[str] | None) -> list[Monitor]:
    """Monitors by name or glob (all when ``select`` is empty)."""
    if not select:
        return list(monitors.values())
    chosen: dict[str, Monitor] = {}
    for pattern in select:
        matched = [name for name in monitors if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise MonitorError(f'no monitor named "{pattern}"{did_you_mean(pattern, monitors)}; '
                               f"monitors: {', '.join(monitors) or '(none)'}")
        for name in matched:
            chosen[name] = monitors[name]
    return list(chosen.values())


def is_due(schedule: str | None, last: datetime | None, now: datetime) -> bool:
    """Whether a monitor with this schedule, last run at ``last``, should run at ``now``.

    >>> is_due("1h", datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 10, 30))
    False
    >>> is_due("0 * * * *", datetime(2024, 1, 1, 10, 5), datetime(2024, 1, 1, 11, 0))
    True
    """
    if schedule is None or last is None:
        return True
    from featurekit.durations import is_duration, parse_duration

    if is_duration(schedule):
        return now - last >= parse_duration(schedule)
    from croniter import croniter

    return croniter(schedule, last).get_next(datetime) <= now


def run_monitors(project: Project, select: list[str] | None = None, run_all: bool = False,
                 as_of: datetime | None = None) -> MonitorRun:
    """Evaluate the selected monitors that are due (all of them with ``run_all`` / ``as_of``)."""
    from featurekit.monitoring.alerts import send_alerts

    monitors = select_monitors(project.monitors, select)
    engine = project.engine
    engine.prepare_for_monitoring()
    results = Results(engine)
    results.ensure()
    project.state_store.references.ensure()
    now = utcnow()
    run = MonitorRun()
    if as_of is None and not run_all:
        last = results.last_run([m.name for m in monitors])
        due = [m for m in monitors if is_due(m.schedule, last.get(m.name), now)]
        run.not_due = [m.name for m in monitors if m not in due]
        monitors = due
    previous = results.latest_status([m.name for m in monitors])
    # Runs "as of" another time are manual: they do not count as scheduled runs.
    run_id = f"asof-{uuid.uuid4().hex}" if as_of is not None else uuid.uuid4().hex
    for monitor in monitors:
        evaluation = Evaluation(project, monitor, results, as_of or now, run_id, now)
        found = evaluation.run()
        results.append(found)
        run.results.extend(found)
        run.monitors.append(monitor.name)
        reference = getattr(evaluation, "reference", None)
        run.references_reused += getattr(reference, "reused", 0)
        run.deliveries.extend(send_alerts(monitor, found, previous, results))
    return run


def backfill(project: Project, start: datetime, end: datetime, every: timedelta,
             select: list[str] | None = None) -> MonitorRun:
    """Evaluate the selected monitors at start, start + every, ... up to and including end."""
    if every <= timedelta(0):
        raise MonitorError("--every must be a positive duration such as 1d")
    if end < start:
        raise MonitorError(f"--end ({end}) is before --start ({start})")
    monitors = select_monitors(project.monitors, select)
    engine = project.engine
    engine.prepare_for_monitoring()
    results = Results(engine)
    results.ensure()
    project.state_store.references.ensure()
    run = MonitorRun(monitors=[m.name for m in monitors])
    at = start
    while at <= end:
        run_id = f"backfill-{uuid.uuid4().hex}"
        evaluated = utcnow()
        for monitor in monitors:
            evaluation = Evaluation(project, monitor, results, at, run_id, evaluated)
            found = evaluation.run()
            results.append(found)
            run.results.extend(found)
        at += every
    return run
