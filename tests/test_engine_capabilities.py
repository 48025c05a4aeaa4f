"""Each engine's capability flags checked against what its database actually does.

Shared code chooses by these flags (never by the engine's name), so a flag that claims too
much or too little is a bug of the engine; a new engine's flags are checked here too.
"""

from __future__ import annotations

import contextlib

import pyarrow as pa
import pytest

from featurekit.engines import engine_class
from featurekit.errors import CompileError, FeaturekitError

FLAGS = ("transactional_ddl", "native_materialized_views", "unique_indexes", "advisory_locks",
         "concurrent_writers", "temporary_tables", "asof_join", "lateral_join", "holds_state")


@pytest.fixture
def engine(make_project):
    return make_project().open().engine


@pytest.fixture
def other(engine):
    """A second connection to the same database."""
    second = engine.clone()
    yield second
    second.close()


def test_every_flag_is_declared(engine_name):
    cls = engine_class(engine_name)
    assert {flag: type(getattr(cls, flag)) for flag in FLAGS} == dict.fromkeys(FLAGS, bool)


def test_failed_query_raises_one_of_the_engines_errors(engine):
    with pytest.raises(engine.errors) as info:
        engine.fetchall("SELECT * FROM fk_no_such_table")
    assert not isinstance(info.value, FeaturekitError)


def test_transactional_ddl(engine):
    with contextlib.suppress(RuntimeError), engine.transaction():
        engine.execute(f"CREATE TABLE {engine.relation('fk_ddl')} (x INTEGER)")
        raise RuntimeError("roll back")
    assert (engine.relation_kind("fk_ddl") is None) == engine.transactional_ddl


def test_native_materialized_views(engine):
    engine.materialized_view("fk_mv", "SELECT 1 AS x", ["x"], rebuild=True)
    native = engine.relation_kind("fk_mv") == "materialized_view"
    assert native == engine.native_materialized_views


def test_unique_indexes_are_enforced_against_another_connection(engine, other):
    if not engine.unique_indexes:
        return  # featurekit then keeps none: nothing to check
    table = engine.relation("fk_unique")
    engine.execute(f"CREATE TABLE {table} (k INTEGER)")
    engine.execute(f"CREATE UNIQUE INDEX ON {table} (k)")
    engine.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(other.errors):
        other.execute(f"INSERT INTO {table} VALUES (1)")


def test_advisory_locks_exclude_another_connection(engine, other):
    with engine.lock("fk capability") as mine, other.lock("fk capability") as theirs:
        assert mine and theirs == (not engine.advisory_locks)


def test_holds_state_records_runs_and_seeds_in_the_target(engine):
    """Run state needs UPDATE and DELETE on plain tables and a transaction."""
    from featurekit.state import SUCCESS, State

    if not engine.holds_state:
        return  # featurekit keeps the state in a separate store: tests/test_state_store.py
    state = State(engine)
    state.ensure()
    run_id = state.start_run("m", "table", "f1", "inv")
    state.finish_run(run_id, SUCCESS, rows=3)
    state.record_seed("s", "h1", 1)
    state.record_seed("s", "h2", 2)
    last = state.last_runs()["m"]
    assert (last.status, last.rows, last.fingerprint) == ("success", 3, "f1")
    assert {name: digest for name, (digest, _) in state.seeds().items()} == {"s": "h2"}


def test_concurrent_writers(engine, other):
    if not engine.concurrent_writers:
        return  # one writer per database: tests/test_concurrent_writers.py shows the lock
    engine.execute(f"CREATE TABLE {engine.relation('fk_a')} (x INTEGER)")
    engine.execute(f"CREATE TABLE {engine.relation('fk_b')} (x INTEGER)")
    with engine.transaction():
        engine.execute(f"INSERT INTO {engine.relation('fk_a')} VALUES (1)")
        other.execute(f"INSERT INTO {other.relation('fk_b')} VALUES (2)")  # not blocked
    assert engine.fetchall(f"SELECT x FROM {engine.relation('fk_b')}") == [(2,)]


def test_temporary_tables_are_private_to_their_session(engine, other):
    if not engine.temporary_tables:
        return
    engine.load_arrow(pa.table({"x": [1, 2]}), "fk_temp", temporary=True)
    assert engine.count_rows(engine.quote("fk_temp")) == 2
    with pytest.raises(other.errors):
        other.count_rows(other.quote("fk_temp"))


def _runs(engine, sql: str) -> list[tuple] | None:
    try:
        return engine.fetchall(sql)
    except engine.errors:
        return None


def test_asof_join(engine):
    got = _runs(engine, "SELECT l.k, r.v FROM (VALUES (1, 10)) AS l(k, t) ASOF LEFT JOIN "
                        "(VALUES (1, 5, 'a'), (1, 20, 'b')) AS r(k, t, v) "
                        "ON l.k = r.k AND l.t >= r.t")
    assert got == ([(1, "a")] if engine.asof_join else None)


def test_lateral_join(engine):
    got = _runs(engine, "SELECT l.k, r.v FROM (VALUES (1)) AS l(k), "
                        "LATERAL (SELECT l.k * 2 AS v) AS r")
    assert got == ([(1, 2)] if engine.lateral_join else None)


def test_asof_join_in_a_model_compiles_only_where_it_runs(make_project):
    p = make_project()
    p.model("a", "SELECT 1 AS k, TIMESTAMP '2024-01-02' AS t")
    p.model("b", "SELECT 1 AS k, TIMESTAMP '2024-01-01' AS t, 'x' AS v")
    p.model("joined", "SELECT a.k, b.v FROM a ASOF LEFT JOIN b ON a.k = b.k AND a.t >= b.t")
    project = p.open()
    if project.engine.asof_join:
        assert "ASOF" in project.compile_model("joined").upper()
        return
    with pytest.raises(CompileError, match=r"models_sql/joined.sql: model joined: cannot run on "
                                           r"\w+: ASOF JOIN \(use a LATERAL subquery\)"):
        project.compile_model("joined")


def test_an_engine_without_asof_or_lateral_names_both_at_compile_time():
    from sqlglot import parse_one

    from featurekit.engines.duckdb import DuckDBEngine

    plain = type("PlainEngine", (DuckDBEngine,), {"asof_join": False, "lateral_join": False})
    query = parse_one("SELECT * FROM a ASOF JOIN b ON a.k = b.k AND a.t >= b.t, "
                      "LATERAL (SELECT a.k) AS l", read="duckdb")
    assert plain.unsupported(query) == ["ASOF JOIN (use a window over the union of both sides)",
                                        "LATERAL (use a join on a grouped subquery)"]
    assert DuckDBEngine.unsupported(query) == []
