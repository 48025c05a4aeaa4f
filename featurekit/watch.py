"""``featurekit refresh --watch``: a scheduler loop for teams without cron.

Each cycle reloads the project (so edited models are picked up), refreshes what is due and
sleeps until the next model comes due — at most ``max_sleep`` seconds, so new data that makes
models due is noticed. A cycle that fails as a whole (a model file with a typo, a database
that restarts) is reported and retried next cycle: a scheduler keeps going. Setting ``stop``
ends the loop after the running model finishes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from featurekit.errors import FeaturekitError
from featurekit.schedule import next_due
from featurekit.state import utcnow

if TYPE_CHECKING:
    from featurekit.project import Project
    from featurekit.refresh import ModelResult


def next_wake(project: Project, select: list[str] | None = None) -> datetime | None:
    """When the next selected model with a schedule comes due (None: none has one)."""
    runs = project.state_store.state.last_runs()
    moments = []
    for name in project.select(select):
        schedule, last = project.models[name].refresh, runs.get(name)
        if schedule and last and last.last_success:
            moments.append(next_due(schedule, last.last_success))
    return min(moments, default=None)


def watch(open_project: Callable[[], Project], stop: threading.Event,
          select: list[str] | None = None,
          on_cycle: Callable[[list[ModelResult], datetime | None], None] | None = None,
          on_error: Callable[[FeaturekitError], None] | None = None,
          on_event: Callable | None = None, max_sleep: float = 60.0) -> int:
    """Refresh what is due until ``stop`` is set; returns the number of cycles run."""
    cycles = 0
    while not stop.is_set():
        wake = None
        try:
            with open_project() as project:
                results = project.refresh(select, on_event=on_event, should_stop=stop.is_set)
                wake = next_wake(project, select)
        except FeaturekitError as exc:
            if on_error:
                on_error(exc)
        else:
            if on_cycle:
                on_cycle(results, wake)
        cycles += 1
        delay = max_sleep if wake is None else (wake - utcnow()).total_seconds()
        stop.wait(min(max(delay, 1.0), max_sleep))
    return cycles
