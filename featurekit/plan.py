"""Due-ness: which models a refresh must run now, and why (like ``dvc repro``).

A model is due when it was never built (or its relation is gone), its last run failed or was
interrupted, its SQL fingerprint changed, an input has newer data than it, or its ``refresh:``
interval / cron tick has passed since its last success. Views are always current, so only a
changed definition makes them due. ``--all`` and ``--full-refresh`` make everything due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from featurekit.durations import format_duration
from featurekit.schedule import next_due
from featurekit.state import FAILED, INTERRUPTED, RUNNING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from featurekit.project import Project
    from featurekit.state import LastRun


@dataclass(frozen=True)
class PlanItem:
    """One model's verdict: run now or not, with the reason a person can read."""

    model: str
    due: bool
    reason: str
    next_due: datetime | None = None


def plan_refresh(
    project: Project,
    selected: list[str],
    last_runs: Mapping[str, LastRun],
    fingerprints: Mapping[str, str],
    seed_times: Mapping[str, datetime | None],
    exists: Callable[[str], bool],
    now: datetime,
    force: str | None = None,
) -> list[PlanItem]:
    """Decide each selected model, in dependency order.

    Args:
        seed_times: when each seed was last (re)loaded; None for one being reloaded now.
        exists: whether a model's relation is in the database.
        force: "--all" or "--full-refresh" to run everything selected.
    """
    # When each relation last changed, as seen by its readers: a model due now changes now.
    data_time: dict[str, datetime | None] = {
        name: (now if when is None else when) for name, when in seed_times.items()
    }
    chosen = set(selected)
    plan = []
    for name in project.graph.order:
        model = project.models[name]
        last = last_runs.get(name)
        inputs = [*model.depends_on, *model.sources]
        newest_input = max((data_time[i] for i in inputs if data_time.get(i)), default=None)
        if name not in chosen:
            data_time[name] = newest_input if model.materialized == "view" else (
                last.last_success if last else None
            )
            continue
        item = _decide(name, model.materialized, model.refresh, last, fingerprints[name],
                       exists(name), newest_input, inputs, data_time, now, force)
        plan.append(item)
        if item.due:
            data_time[name] = now
        elif model.materialized == "view":
            data_time[name] = newest_input
        else:
            data_time[name] = last.last_success if last else None
    return plan


def _decide(name: str, materialized: str, schedule: str | None, last: LastRun | None,
            fingerprint: str, exists: bool, newest_input: datetime | None, inputs: list[str],
            data_time: Mapping[str, datetime | None], now: datetime,
            force: str | None) -> PlanItem:
    if force:
        return PlanItem(name, True, force)
    if last is None or last.last_success is None:
        return PlanItem(name, True, "never built")
    if not exists:
        return PlanItem(name, True, "relation missing from the database")
    if last.status in (FAILED, INTERRUPTED):
        return PlanItem(name, True, f"last run {last.status}")
    if last.status == RUNNING:  # another process holds it; its lock will make us skip it
        return PlanItem(name, True, "another process is running it")
    if last.fingerprint != fingerprint:
        return PlanItem(name, True, "SQL changed")
    if materialized == "view":
        return PlanItem(name, False, "view is current")
    if newest_input is not None and newest_input > last.last_success:
        newer = [i for i in inputs if (data_time.get(i) or datetime.min) > last.last_success]
        return PlanItem(name, True, f"newer data in {', '.join(newer)}")
    if schedule is None:
        return PlanItem(name, False, "up to date (no schedule, inputs unchanged)")
    due_at = next_due(schedule, last.last_success)
    if due_at <= now:
        return PlanItem(name, True, f"schedule {schedule}: due since {_ago(now - due_at)}")
    return PlanItem(name, False, f"up to date; due in {format_duration(due_at - now)}", due_at)


def _ago(delta) -> str:
    return "now" if delta.total_seconds() < 1 else f"{format_duration(delta)} ago"
