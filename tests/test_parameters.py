"""Values are bound as real parameters: a `?` in a name, a string literal or a schema is text."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest

from tests.conftest import rows, spark_too


@spark_too
def test_question_mark_in_a_logged_column_name(make_project):
    project = make_project().open()
    frame = pd.DataFrame({"prediction_id": ["a", "b"], "q?mark": [1.5, 2.5]})
    assert project.log_predictions("m", frame, version="v1") == 2
    assert project.log_predictions("m", frame, version="v1") == 0  # the retry binds ids too
    got = rows(project, 'SELECT prediction_id, "q?mark" FROM {schema}.predictions_m ORDER BY 1')
    assert got == [("a", 1.5), ("b", 2.5)]


@spark_too
def test_question_mark_in_a_monitor_sql_literal(make_project):
    factory = make_project()
    factory.write("monitors/q.yml", """
        source:
          sql: "SELECT ts, v FROM events WHERE tag <> '?'"
        timestamp: ts
        checks:
          - {test: row_count, min: 2, max: 2}
          - {column: v, test: null_rate, warn: 0.4, error: 0.6}
    """)
    project = factory.open()
    events = pd.DataFrame({
        "ts": [datetime(2024, 1, 1, h) for h in range(4)],
        "tag": ["?", "a", "b", "?"],
        "v": [None, 1.0, None, 2.0],
    })
    project.engine.load_arrow(pa.Table.from_pandas(events, preserve_index=False), "events")
    found = {r.check: r for r in project.monitor(as_of="2024-01-02").results}
    # Rows tagged "?" are filtered out: 2 rows remain, one of them NULL.
    assert found["row_count"].statistic == 2 and found["row_count"].status == "ok"
    assert found["null_rate"].statistic == pytest.approx(0.5)
    assert found["null_rate"].status == "warn"


@spark_too
def test_question_mark_in_the_metadata_schema(make_project):
    factory = make_project()
    profiles = factory.root / "profiles.yml"
    old, factory.metadata = factory.metadata, factory.metadata + "_x?"
    profiles.write_text(profiles.read_text().replace(
        f"metadata_schema: {old}", f"metadata_schema: '{factory.metadata}'"))
    factory.seed("raw", "id,ts,v\n1,2024-01-01 10:00:00,1.5\n2,2024-01-02 10:00:00,2.5\n",
                 timestamp="ts")
    factory.model("daily", "SELECT id, ts, v * 2 AS v2 FROM raw",
                  "entity: id\ntimestamp: ts\nmaterialized: incremental")
    project = factory.open()
    assert [r.status for r in project.refresh()] == ["success"]
    assert [r.status for r in project.refresh()] == ["up_to_date"]  # state was read back
    got = rows(project, "SELECT id, v2 FROM {schema}.daily ORDER BY id")
    assert got == [(1, 3.0), (2, 5.0)]


# Not on Spark: its table names hold only letters, digits and _ (the columns' odd names
# are bound on Spark by the tests around this one).
def test_statements_bind_named_values_whatever_the_text_around_them(make_project):
    """featurekit's own statements: `?`, `:name` and `$1` inside names and literals are text."""
    project = make_project().open()
    engine = project.engine
    table = engine.relation("odd?:x$1")
    engine.run(f'CREATE TABLE {table} ("a?" TEXT, ":b" DOUBLE PRECISION, "$1" TIMESTAMP)')
    when = datetime(2024, 3, 1, 12, 30)
    for a, b in (("x", 1.5), ("y", 2.5)):
        engine.run(f'INSERT INTO {table} ("a?", ":b", "$1") VALUES (:a, :b, :at)',
                   {"a": a, "b": b, "at": when})
    got = engine.rows(
        f"""SELECT "a?", ":b", '?:x $1 %s' AS lit FROM {table}
            WHERE "$1" = :at AND ":b" > :low AND "a?" <> '?' ORDER BY "a?" """,
        {"at": when, "low": 2.0},
    )
    assert got == [("y", 2.5, "?:x $1 %s")]
    assert engine.run_count(f'DELETE FROM {table} WHERE ":b" < :b', {"b": 2.0}) == 1


@spark_too
def test_a_statement_missing_a_value_names_it(make_project):
    from featurekit.engines.statements import StatementError

    engine = make_project().open().engine
    with pytest.raises(StatementError, match=":b"):
        engine.rows("SELECT :a, :b", {"a": 1})
    with pytest.raises(StatementError, match=":b"):  # PostgreSQL writes these values in
        engine.fetch_doubles("SELECT CAST(:a AS DOUBLE PRECISION) AS a, "
                             "CAST(:b AS DOUBLE PRECISION) AS b", {"a": 1.0})
    assert [list(x) for x in engine.fetch_doubles(
        "SELECT CAST(:a AS DOUBLE PRECISION) AS a", {"a": 1.5})] == [[1.5]]


@spark_too
def test_insert_rows_binds_every_value_across_batches(make_project):
    """More rows than one INSERT takes: every row arrives once, NULLs and odd text intact."""
    from featurekit.engines.base import INSERT_BATCH

    engine = make_project().open().engine
    table = engine.relation("many_rows")
    engine.run(f"CREATE TABLE {table} (n BIGINT, label TEXT, at TIMESTAMP, x DOUBLE PRECISION)")
    when = datetime(2024, 3, 1, 12, 30)
    total = 2 * INSERT_BATCH + 7
    engine.insert_rows(table, ["n", "label", "at", "x"],
                       [(i, f"?:{i} $1", when, None if i % 2 else i / 2) for i in range(total)])
    got = engine.rows(f"SELECT count(*), count(DISTINCT n), count(x), min(label), max(at) "
                      f"FROM {table}")
    assert got == [(total, total, (total + 1) // 2, "?:0 $1", when)]


@spark_too
def test_monitor_sql_source_with_markers_in_literals_is_compared_exactly(make_project):
    """A `sql:` source enters the canonical monitor queries as its parsed tree: `:v0`, `$1`
    and `?` in its literals stay text, and the windows' values (bound or, for PostgreSQL's
    COPY, written in) reach the bulk read of a KS test."""
    import numpy as np
    import scipy.stats

    factory = make_project()
    factory.write("monitors/q.yml", """
        source:
          sql: "SELECT ts, v::DOUBLE AS v FROM events WHERE tag NOT IN (':v0', '$1', '?')"
        timestamp: ts
        reference: {start: 2024-01-01, end: 2024-01-03}
        current: {start: 2024-01-03, end: 2024-01-05}
        checks:
          - {column: v, test: ks}
    """)
    project = factory.open()
    rng = np.random.default_rng(3)
    ts = [datetime(2024, 1, 1 + i // 50, i % 24) for i in range(200)]
    tags = [(":v0", "$1", "?", "a", "b")[i % 5] for i in range(200)]
    values = rng.normal(size=200) + np.array([0.0] * 100 + [0.5] * 100)
    events = pd.DataFrame({"ts": ts, "tag": tags, "v": values})
    project.engine.load_arrow(pa.Table.from_pandas(events, preserve_index=False), "events")
    [ks] = project.monitor(as_of="2024-01-06").results
    kept = events[events.tag.isin(["a", "b"])]
    ref = kept[kept.ts < datetime(2024, 1, 3)].v
    cur = kept[kept.ts >= datetime(2024, 1, 3)].v
    expected = scipy.stats.ks_2samp(ref, cur)
    assert (ks.n_ref, ks.n_cur) == (len(ref), len(cur)) == (40, 40)
    assert ks.statistic == expected.statistic
    assert ks.p_value == pytest.approx(expected.pvalue, rel=1e-9)


@spark_too
def test_bulk_reads_take_any_value(make_project):
    """fetch_doubles binds its values (on PostgreSQL, COPY has them written in by psycopg)."""
    from datetime import UTC

    engine = make_project().open().engine
    values = {"text": "a\\b'c %s ?:v0 $1", "neg": -5, "inf": float("-inf"), "none": None,
              "at": datetime(2024, 1, 1, 12, tzinfo=UTC), "flag": True}
    found = engine.fetch_doubles(
        "SELECT CAST(:inf AS DOUBLE PRECISION) AS x, CAST(:neg AS DOUBLE PRECISION) AS y "
        "WHERE :text = 'a\\b''c %s ?:v0 $1' AND :none IS NULL AND :flag "
        "AND CAST(:at AS TIMESTAMPTZ) = CAST('2024-01-01 12:00:00+00' AS TIMESTAMPTZ)", values)
    assert [list(column) for column in found] == [[float("-inf")], [-5.0]]
