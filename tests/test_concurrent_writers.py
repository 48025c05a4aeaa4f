"""Several processes using one target at once: first-use creation and overlapping log batches.

Each trial forks two workers that wait at a barrier, then do the same thing at the same
moment. PostgreSQL takes many writers: both must succeed and nothing may be written twice.
DuckDB takes one writer per file: a worker may instead get the clear "locked" error.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from featurekit.engines import engine_class
from featurekit.errors import DatabaseLocked
from tests.conftest import rows

TRIALS = 4
EVENTS = "user_id,ts,amount\n1,2024-01-01 10:00:00,5.0\n2,2024-01-02 09:00:00,1.0\n"
SPEND = ("SELECT user_id, CAST(date_trunc('day', ts) AS TIMESTAMP) AS feature_ts, "
         "sum(amount) AS spend FROM events GROUP BY user_id, date_trunc('day', ts)")


def _worker(root: str, barrier: Any, results: Any, task: Callable[[Any], Any]) -> None:
    from featurekit.project import Project

    try:
        barrier.wait(timeout=60)
        with Project(root) as project:
            task(project)
        results.put(("ok", ""))
    except DatabaseLocked as exc:
        results.put(("locked", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put((type(exc).__name__, traceback.format_exc()))


def run_together(root: Path, *tasks: Callable[[Any], Any]) -> list[tuple[str, str]]:
    """Run each task in its own forked process, all released at once; their outcomes."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(tasks)), context.Queue()
    workers = [context.Process(target=_worker, args=(str(root), barrier, results, task))
               for task in tasks]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return outcomes


def assert_all_succeeded(engine_name: str, outcomes: list[tuple[str, str]]) -> None:
    # without concurrent writers a second process may find the database locked, and says so
    allowed = {"ok"} if engine_class(engine_name).concurrent_writers else {"ok", "locked"}
    assert {kind for kind, _ in outcomes} <= allowed, "\n".join(d for _, d in outcomes)
    assert any(kind == "ok" for kind, _ in outcomes)


def query(p, sql: str) -> list[tuple]:
    """Rows of ``sql``, on a connection closed at once (a DuckDB file takes one process)."""
    with p.open() as project:
        return rows(project, sql)


def batch(start: int, stop: int) -> pd.DataFrame:
    ids = range(start, stop)
    return pd.DataFrame({"prediction_id": [f"p{i}" for i in ids], "score": [i / 10 for i in ids]})


def test_concurrent_first_refreshes_of_a_fresh_metadata_schema_both_succeed(
        make_project, engine_name):
    for trial in range(TRIALS):
        p = make_project(f"trial{trial}")
        p.seed("events", EVENTS, timestamp="ts")
        p.model("spend", SPEND, "entity: user_id\ntimestamp: feature_ts\nmaterialized: table")
        outcomes = run_together(p.root, lambda project: project.refresh(),
                                lambda project: project.refresh())
        assert_all_succeeded(engine_name, outcomes)
        got = query(p, "SELECT user_id, spend FROM {schema}.spend ORDER BY user_id")
        assert got == [(1, 5.0), (2, 1.0)]


def test_concurrent_first_logs_of_a_new_model_both_succeed(make_project, engine_name):
    for trial in range(TRIALS):
        p = make_project(f"trial{trial}")
        outcomes = run_together(
            p.root,
            lambda project: project.log_predictions("fraud", batch(0, 50), version="a"),
            lambda project: project.log_predictions("fraud", batch(50, 100), version="b"),
        )
        assert_all_succeeded(engine_name, outcomes)
        logged = query(p, "SELECT prediction_id FROM {schema}.predictions_fraud")
        expected = 100 if all(kind == "ok" for kind, _ in outcomes) else 50
        assert len(logged) == len({r[0] for r in logged}) == expected


def test_concurrent_first_monitor_runs_of_a_fresh_metadata_schema_both_succeed(
        make_project, engine_name):
    monitor = "sql: SELECT 1 AS x\nchecks:\n  - {test: row_count, min: 1}\n"
    for trial in range(TRIALS):
        p = make_project(f"trial{trial}")
        p.write("monitors/one.yml", monitor)
        outcomes = run_together(p.root, lambda project: project.monitor(as_of="2024-01-02"),
                                lambda project: project.monitor(as_of="2024-01-03"))
        assert_all_succeeded(engine_name, outcomes)
        got = query(p, f"SELECT status FROM \"{p.metadata}\".monitor_results")
        assert got and {status for (status,) in got} == {"ok"}


@pytest.mark.parametrize("size", [10, 20_000])
def test_overlapping_batches_from_two_writers_are_written_once(make_project, engine_name, size):
    p = make_project()
    with p.open() as project:  # the table exists already
        project.log_predictions("fraud", batch(0, 1), version="v")
    for trial in range(TRIALS):
        first = batch(1 + trial * 2 * size, 1 + trial * 2 * size + size)
        second = batch(1 + trial * 2 * size + size // 2, 1 + trial * 2 * size + size * 3 // 2)
        outcomes = run_together(
            p.root,
            lambda project, frame=first: project.log_predictions("fraud", frame, version="v"),
            lambda project, frame=second: project.log_predictions("fraud", frame, version="v"),
        )
        assert_all_succeeded(engine_name, outcomes)
    logged = [r[0] for r in query(p, "SELECT prediction_id FROM {schema}.predictions_fraud")]
    assert len(logged) == len(set(logged))
    if engine_class(engine_name).concurrent_writers:  # else a locked batch wrote nothing
        expected = {"p0"} | {f"p{1 + t * 2 * size + i}" for t in range(TRIALS)
                             for i in range(size * 3 // 2)}
        assert set(logged) == expected
