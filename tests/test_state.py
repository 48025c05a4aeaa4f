"""Run state: ``latest_runs`` always says what the whole ``runs`` history says.

Random histories (several targets sharing one store, definitions changed and changed back,
failed, interrupted and unfinished runs) are written through ``State``; what it answers is
compared with a plain Python reading of the ``runs`` rows. The same answer must come from a
store written before ``latest_runs`` existed: read without writing (a dry run), and after
``ensure`` fills the table from the history.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from featurekit.state import FAILED, INTERRUPTED, RUNNING, SUCCESS, LastRun, State

TARGETS = ("main", "other")
MODELS = ("a", "b")
OUTCOMES = (SUCCESS, FAILED, INTERRUPTED, RUNNING)

steps = st.lists(st.tuples(st.sampled_from(TARGETS), st.sampled_from(MODELS),
                           st.sampled_from(("f1", "f2")), st.sampled_from(OUTCOMES)),
                 min_size=1, max_size=12)


def expected(history: list[tuple], target: str) -> dict[str, LastRun]:
    """Each model's latest run and latest success, read from the ``runs`` rows as written."""
    answer = {}
    for model in {row[1] for row in history if row[0] == target}:
        runs = sorted((r for r in history if r[:2] == (target, model)), key=lambda r: r[2])
        latest = runs[-1]
        successes = [r for r in runs if r[4] == SUCCESS]
        ok = successes[-1] if successes else None
        since = None
        if ok:  # the current definition's first success since another one last succeeded
            for run in reversed(successes):
                if run[6] != ok[6]:
                    break
                since = run[3]
        answer[model] = LastRun(
            model, latest[4], latest[2], latest[3], latest[5],
            ok and ok[3], ok and ok[7], ok and ok[6], ok and ok[8], ok and ok[9], since,
            latest[10])
    return answer


def run_history(state: State) -> list[tuple]:
    """The ``runs`` rows, in ``expected``'s column order."""
    return state.engine.rows(
        f"SELECT target_schema, model, started_at, finished_at, status, error, fingerprint, "
        f"rows, high_water_mark, window_end, run_id FROM {state._table('runs')}")


@pytest.fixture
def store(make_project):
    """A state store (each engine that holds state: ENGINES) and a fresh schema per example."""
    engine = make_project().open().engine
    schemas = []

    def fresh() -> dict[str, State]:
        schemas.append(f"fk_state_{uuid.uuid4().hex[:10]}")
        return {t: State(engine, schema=schemas[-1], target_schema=t) for t in TARGETS}

    yield fresh
    for schema in schemas:
        engine.execute(f"DROP SCHEMA IF EXISTS {engine.quote(schema)} CASCADE")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=steps)
@example(history=[("main", "a", "f1", SUCCESS), ("main", "a", "f2", SUCCESS),
                  ("main", "a", "f1", FAILED), ("main", "a", "f1", SUCCESS)])  # changed back
def test_latest_runs_agree_with_the_history(store, history):
    states = store()
    for state in states.values():
        state.ensure()
    running: dict[tuple[str, str], str] = {}
    for number, (target, model, fingerprint, outcome) in enumerate(history):
        state = states[target]
        if (target, model) in running:  # what a refresh does first with a dead run
            state.mark_interrupted(running.pop((target, model)))
        run_id = state.start_run(model, "incremental", fingerprint, "inv")
        if outcome == SUCCESS:
            state.finish_run(run_id, SUCCESS, rows=number, high_water_mark=None,
                             window=(None, None))
        elif outcome == FAILED:
            state.finish_run(run_id, FAILED, error=f"failure {number}")
        elif outcome == INTERRUPTED:
            state.mark_interrupted(run_id)
        else:
            running[(target, model)] = run_id
    written = run_history(states["main"])
    for target, state in states.items():
        assert state.last_runs() == expected(written, target)

    # A store written before latest_runs existed: the history alone gives the same answer.
    any_state = states["main"]
    any_state.engine.execute(f"DROP TABLE {any_state._table('latest_runs')}")
    older = {t: State(s.engine, schema=s.schema, target_schema=t) for t, s in states.items()}
    for target, state in older.items():
        assert state.last_runs() == expected(written, target)  # read without writing
    older["other"].ensure()  # fills latest_runs for every target of the store
    for target in TARGETS:
        again = State(any_state.engine, schema=any_state.schema, target_schema=target)
        assert again.last_runs() == expected(written, target)
