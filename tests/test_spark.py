"""Spark: refreshes, point-in-time joins and errors against a real Spark.

In-process Spark (one local session for the whole run, see conftest) and a real Spark Connect
server started from the pyspark install. Without pyspark or Java 17 these tests skip, unless
FEATUREKIT_REQUIRE_SPARK=1, where they fail. The engine-facing tests marked ``@spark_too``
(conftest) run on Spark as well.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import ProjectFactory, profiles_yaml, project_factories, require_engine

from featurekit.engines.spark import VERSION, java_problem, stop_remote_session
from featurekit.errors import CompileError, ConfigError, ConnectionFailed
from tests.server_process import background_process, free_port, port_open


@pytest.fixture
def spark_project(tmp_path):
    """``spark_project()`` -> a ProjectFactory on its own Spark databases."""
    require_engine("spark")
    with project_factories("spark", tmp_path) as make:
        yield make


def table_rows(project, name: str) -> list[tuple]:
    engine = project.engine
    return sorted(engine.fetchall(f"SELECT * FROM {engine.relation(name)}"))


def versions(project, name: str) -> list[str]:
    engine = project.engine
    return [row[1] for row in engine.fetchall(f"SHOW TABLES IN `{engine.schema}`")
            if row[1].startswith(name + VERSION)]


def csv_text(rows: list[tuple[int, str, float]]) -> str:
    return "customer_id,ts,amount\n" + "".join(f"{c},{t},{a}\n" for c, t, a in rows)


def daily_totals(rows: list[tuple[int, str, float]]) -> list[tuple]:
    """What the daily model holds: spend and count per customer and day."""
    totals: dict[tuple[int, datetime], list[float]] = {}
    for customer, ts, amount in rows:
        day = datetime.fromisoformat(ts).replace(hour=0, minute=0, second=0)
        totals.setdefault((customer, day), []).append(amount)
    return sorted((c, d, sum(a), len(a)) for (c, d), a in totals.items())


def write_models(p: ProjectFactory) -> None:
    p.model("daily", """
        SELECT customer_id, CAST(date_trunc('day', ts) AS TIMESTAMP) AS day,
               sum(amount) AS spend, count(*) AS n
        FROM txn GROUP BY 1, 2
    """, header="entity: customer_id\ntimestamp: day\nmaterialized: incremental")
    p.model("daily_table", "SELECT * FROM daily",
            header="entity: customer_id\ntimestamp: day\nmaterialized: table")
    p.model("daily_mv", "SELECT * FROM daily",
            header="entity: customer_id\ntimestamp: day\nmaterialized: materialized_view")
    p.model("big_days", "SELECT customer_id, day FROM daily WHERE spend > 5",
            header="materialized: view")


def test_every_materialization_refreshes_and_incremental_appends_equal_a_rebuild(spark_project):
    p = spark_project()
    first = [(1, "2024-01-01 10:00:00", 5.0), (1, "2024-01-02 09:00:00", 7.0),
             (2, "2024-01-01 11:00:00", 3.0)]
    p.seed("txn", csv_text(first), timestamp="ts")
    write_models(p)
    project = p.open()
    results = {r.model: r for r in project.refresh()}
    assert {m: r.status for m, r in results.items()} == dict.fromkeys(results, "success")
    expected = daily_totals(first)
    for name in ("daily", "daily_table", "daily_mv"):
        assert table_rows(project, name) == expected, name
        assert project.engine.relation_kind(name) == "view"  # over its one version
        assert len(versions(project, name)) == 1, name
    assert table_rows(project, "big_days") == [(1, datetime(2024, 1, 2))]
    assert table_rows(project, "txn") == sorted(
        (c, datetime.fromisoformat(t), a) for c, t, a in first)

    # A late row of the newest day and a new day: the incremental window takes both.
    later = [*first, (1, "2024-01-02 23:00:00", 1.5), (2, "2024-01-03 08:00:00", 9.0)]
    p.seed("txn", csv_text(later), timestamp="ts")
    results = {r.model: r for r in project.refresh()}
    assert results["daily"].action.startswith("incremental from 2024-01-02")
    assert results["daily"].rows == 2
    for name in ("daily", "daily_table", "daily_mv"):
        assert table_rows(project, name) == daily_totals(later), name
        assert len(versions(project, name)) == 1, name
    assert table_rows(project, "big_days") == [(1, datetime(2024, 1, 2)),
                                               (2, datetime(2024, 1, 3))]

    project.refresh(full_refresh=True)
    assert table_rows(project, "daily") == daily_totals(later)
    # Training sets read the versions the swaps recorded, then the view that replaces them.
    assert latest(project, "daily.spend") == latest(project, "daily_table.spend") == [8.5, 9.0]
    p.model("daily_table", "SELECT * FROM daily WHERE customer_id = 2",
            header="entity: customer_id\ntimestamp: day\nmaterialized: view")
    project.close()
    project = p.open()
    assert {r.model: r.status for r in project.refresh()}["daily_table"] == "success"
    assert latest(project, "daily_table.spend") == [None, 9.0]


def latest(project, feature: str) -> list[float | None]:
    """``feature`` ("view.column") of customers 1 and 2 on 2024-01-05, point-in-time."""
    import pandas as pd

    labels = pd.DataFrame({"customer_id": [1, 2],
                           "event_timestamp": pd.to_datetime(["2024-01-05"] * 2)})
    values = project.training_set(labels, [feature], full_names=True).iloc[:, -1]
    return [None if pd.isna(v) else float(v) for v in values]


def test_duplicate_keys_are_refused_before_the_swap(spark_project):
    p = spark_project()
    rows = [(1, "2024-01-01 10:00:00", 5.0), (2, "2024-01-01 11:00:00", 3.0)]
    p.seed("txn", csv_text(rows), timestamp="ts")
    p.model("txn_table", "SELECT customer_id, ts, amount FROM txn",
            header="entity: customer_id\ntimestamp: ts\nmaterialized: table")
    p.model("txn_incremental", "SELECT customer_id, ts, amount FROM txn",
            header="entity: customer_id\ntimestamp: ts\nmaterialized: incremental")
    project = p.open()
    project.refresh()
    before = {name: table_rows(project, name) for name in ("txn_table", "txn_incremental")}

    # The same (customer_id, ts) twice: neither the rebuilt table nor the window may land.
    p.seed("txn", csv_text([*rows, (2, "2024-01-01 11:00:00", 4.0)]), timestamp="ts")
    results = {r.model: r for r in project.refresh()}
    for name in ("txn_table", "txn_incremental"):
        assert results[name].status == "failed", name
        assert "(customer_id, ts) must be unique in a feature view" in results[name].message
        assert "customer_id=2, ts=2024-01-01 11:00:00 (2 rows)" in results[name].message
        assert "the previous data is unchanged" in results[name].message
        assert table_rows(project, name) == before[name]
        assert len(versions(project, name)) == 1, name
        assert latest(project, f"{name}.amount") == [5.0, 3.0]  # the version kept, read direct


def test_table_sources_must_exist_in_the_target(spark_project):
    p = spark_project()
    events = f"{p.schema}_raw.events"
    p.write("models_sql/sources.yml", f"sources:\n  events: {{table: {events}}}\n")
    p.model("event_count", "SELECT count(*) AS n FROM events", header="materialized: table")
    project = p.open()
    with pytest.raises(ConfigError, match=rf'source "events": table {events} does not exist'):
        project.refresh()
    engine = project.engine
    engine.execute(f"CREATE DATABASE `{p.schema}_raw`")
    try:
        engine.execute(f"CREATE TABLE `{p.schema}_raw`.events USING parquet AS SELECT 1 AS id")
        assert [r.status for r in project.refresh()] == ["success"]
        assert table_rows(project, "event_count") == [(1,)]
    finally:
        engine.execute(f"DROP DATABASE `{p.schema}_raw` CASCADE")


def brute_force(features: list[tuple[int, datetime, float]], labels: list[tuple[int, datetime]],
                ttl: timedelta) -> list[float | None]:
    """For each label, the value of its entity's latest row at or before t, within the ttl."""
    found = []
    for entity, t in labels:
        rows = [(ts, v) for e, ts, v in features if e == entity and t - ttl <= ts <= t]
        found.append(max(rows)[1] if rows else None)
    return found


def test_training_set_matches_a_brute_force_join(spark_project):
    import pandas as pd

    rng = random.Random(7)
    start = datetime(2024, 3, 1)
    stamps = {(rng.randrange(5), start + timedelta(hours=rng.randrange(240)))
              for _ in range(80)}
    features = sorted((e, ts, round(rng.uniform(0, 100), 2)) for e, ts in stamps)
    labels = [(rng.randrange(6), start + timedelta(hours=rng.randrange(-24, 264)))
              for _ in range(60)]
    labels += labels[:5]  # duplicate label rows come back once each
    p = spark_project()
    p.seed("readings", "entity_id,ts,value\n" + "".join(
        f"{e},{ts:%Y-%m-%d %H:%M:%S},{v}\n" for e, ts, v in features))
    p.model("reading_features", "SELECT entity_id, ts AS feature_ts, value FROM readings",
            header="entity: entity_id\ntimestamp: feature_ts\nttl: 2d\nmaterialized: table")
    project = p.open()
    project.refresh()
    frame = pd.DataFrame({"entity_id": [e for e, _ in labels],
                          "event_timestamp": [t for _, t in labels],
                          "label": range(len(labels))})
    result = project.training_set(frame, ["reading_features.value"])
    assert list(result["label"]) == list(range(len(labels)))  # label order kept
    expected = brute_force(features, labels, timedelta(days=2))
    got = [None if pd.isna(v) else v for v in result["value"]]
    assert got == expected
    assert any(v is None for v in expected) and any(v is not None for v in expected)


def test_prediction_logs_write_each_row_once(spark_project):
    import pandas as pd

    project = spark_project().open()
    frame = pd.DataFrame({"prediction_id": ["a", "b"], "customer_id": [1, 2],
                          "predicted_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                          "score": [0.5, 0.25]})
    assert int(project.log_predictions("fraud", frame, version="v1")) == 2
    new = pd.DataFrame({"prediction_id": ["c"], "customer_id": [3],
                        "predicted_at": pd.to_datetime(["2024-01-03"]), "score": [0.75]})
    retry = project.log_predictions("fraud", pd.concat([frame, new]), version="v1")
    assert (int(retry), retry.skipped) == (1, 2)
    engine = project.engine
    assert sorted(engine.fetchall(
        f"SELECT prediction_id, score FROM {engine.relation('predictions_fraud')}"
    )) == [("a", 0.5), ("b", 0.25), ("c", 0.75)]


def test_compile_refuses_sql_spark_cannot_run(spark_project):
    p = spark_project()
    p.seed("txn", csv_text([(1, "2024-01-01 10:00:00", 5.0)]), timestamp="ts")
    p.model("prices", "SELECT customer_id, ts, amount FROM txn",
            header="entity: customer_id\ntimestamp: ts\nmaterialized: table")
    p.model("matched", """
        SELECT t.customer_id, t.ts, p.amount
        FROM txn AS t ASOF JOIN prices AS p ON t.customer_id = p.customer_id AND t.ts >= p.ts
    """)
    project = p.open()
    with pytest.raises(CompileError) as caught:
        project.compile()
    assert str(caught.value).startswith("models_sql/matched.sql: model matched: cannot run on "
                                        "spark: ASOF JOIN")


# -- errors that must be clear before any JVM starts ---------------------------------------
def test_missing_pyspark_says_how_to_install_it(tmp_path):
    script = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from featurekit.engines.spark import spark_session\n"
        f"spark_session({{'warehouse': {str(tmp_path)!r}}})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode != 0
    assert "the spark engine needs pyspark, which is not installed: " \
           "pip install 'featurekit[spark]'" in done.stderr


def test_missing_java_is_named_before_spark_starts(tmp_path):
    problem = java_problem({"PATH": str(tmp_path)})
    assert problem is not None
    assert "Spark needs Java 17 or newer, and no `java` was found on PATH or in JAVA_HOME" \
        in problem


def test_java_older_than_17_is_refused(tmp_path):
    java = tmp_path / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    java.chmod(0o755)
    problem = java_problem({"PATH": str(tmp_path)})
    assert problem is not None
    assert f"Spark needs Java 17 or newer, but {java} is Java 11" in problem


def test_missing_java_stops_refresh_with_the_reason(tmp_path):
    require_engine("spark")
    (tmp_path / "models_sql").mkdir()
    (tmp_path / "models_sql" / "one.sql").write_text("SELECT 1 AS x\n")
    (tmp_path / "profiles.yml").write_text(profiles_yaml("spark", "fk_nojava", "fk_nojava_m"))
    python = Path(sys.executable)
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([str(python), "-m", "featurekit", "refresh"], capture_output=True,
                          text=True, cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert "Spark needs Java 17 or newer, and no `java` was found" in output
    assert "Traceback" not in output


def test_unreachable_spark_connect_names_host_and_port(tmp_path):
    port = free_port()
    (tmp_path / "models_sql").mkdir()
    (tmp_path / "profiles.yml").write_text(
        "featurekit:\n  outputs:\n    c:\n      type: spark\n"
        f"      remote: sc://127.0.0.1:{port}\n      schema: fk_nowhere\n")
    from featurekit.project import Project

    require_engine("spark")
    with Project(tmp_path) as project, pytest.raises(ConnectionFailed) as caught:
        project.engine  # noqa: B018 - connects
    message = str(caught.value)
    assert f"cannot reach the Spark Connect server at 127.0.0.1:{port}" in message
    assert "remote:" in message and "java" not in message.lower()


# -- a real Spark Connect server ---------------------------------------------------------
@pytest.fixture(scope="session")
def spark_connect_server(tmp_path_factory):
    """A Spark Connect server from the pyspark install on 127.0.0.1 (15002 when free)."""
    require_engine("spark")
    import pyspark

    home = Path(pyspark.__file__).parent
    port = 15002
    if port_open(port):
        port = free_port()  # someone else's server: do not talk to it
    work = tmp_path_factory.mktemp("spark_connect")
    command = [
        str(home / "bin" / "spark-submit"), "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master", "local[2]",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", f"spark.sql.warehouse.dir={work / 'warehouse'}",
        "--conf", "spark.ui.enabled=false", "spark-internal",
    ]
    with background_process(command, lambda: port_open(port), work / "server.log",
                            "Spark Connect server", timeout=180, cwd=work,
                            env={**os.environ, "SPARK_HOME": str(home)}):
        url = f"sc://127.0.0.1:{port}"
        yield url
        stop_remote_session(url)


def test_refresh_and_training_set_through_spark_connect(spark_connect_server, tmp_path):
    import pandas as pd

    p = ProjectFactory("spark", tmp_path / "proj")
    p._sources = {}
    (p.root / "profiles.yml").write_text(
        "featurekit:\n  outputs:\n    cluster:\n      type: spark\n"
        f"      remote: \"{spark_connect_server}\"\n      schema: {p.schema}\n"
        f"      metadata_schema: {p.metadata}\n")
    rows = [(1, "2024-01-01 10:00:00", 5.0), (1, "2024-01-02 09:00:00", 7.0),
            (2, "2024-01-01 11:00:00", 3.0)]
    p.seed("txn", csv_text(rows), timestamp="ts")
    write_models(p)
    with p.open() as project:
        try:
            results = project.refresh()
            assert [r.status for r in results] == ["success"] * 4
            assert table_rows(project, "daily_mv") == daily_totals(rows)
            labels = pd.DataFrame({
                "customer_id": [1, 2, 1, 3],
                "event_timestamp": pd.to_datetime(["2024-01-02 12:00", "2024-01-01 00:00",
                                                   "2024-01-01 23:59", "2024-01-05 00:00"]),
            })
            result = project.training_set(labels, ["daily_table.spend"])
            assert [None if pd.isna(v) else v for v in result["spend"]] == [7.0, 3.0, 5.0, None]
        finally:
            for schema in (p.schema, p.metadata):
                project.engine.execute(f"DROP DATABASE IF EXISTS `{schema}` CASCADE")


# A training set, which needs no catalog, then `featurekit refresh`, which does.
SECOND_PROCESS = """
import os, sys
import pandas as pd
from featurekit.cli import main
from featurekit.project import Project

labels = pd.DataFrame({"customer_id": [1, 2, 3],
                       "event_timestamp": pd.to_datetime(["2024-01-02 12:00"] * 3)})
with Project(sys.argv[1]) as project:
    print(project.training_set(labels, ["daily_table.spend"])["spend"].tolist(), flush=True)
os.chdir(sys.argv[2])
main(["refresh"], prog_name="featurekit")
"""


def test_a_second_process_on_the_same_warehouse_is_told_it_is_in_use_yet_reads(spark_project):
    features = spark_project("features")
    features.seed("txn", csv_text([(1, "2024-01-01 10:00:00", 5.0),
                                   (1, "2024-01-02 09:00:00", 7.0)]), timestamp="ts")
    features.model("daily_table", "SELECT customer_id, ts AS day, amount AS spend FROM txn",
                   header="entity: customer_id\ntimestamp: day\nmaterialized: table")
    features.open().refresh()  # this process now holds the warehouse's metastore
    other = spark_project("other")  # its own state store, the same warehouse
    other.model("one", "SELECT 1 AS x", header="materialized: table")
    done = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(features.root), str(other.root)],
        capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[0] == "[7.0, nan, nan]"  # read from the files
    output = done.stdout + done.stderr
    assert "metastore_db is in use by another process" in output
    assert "point `remote:` at it" in output and "Traceback" not in output


# -- kill -9 in the middle of a refresh --------------------------------------------------
# The refreshes run in processes of their own, on a warehouse this process never opens:
# embedded Derby admits one process per metastore, and a killed one leaves its lock files.
AFTER_KILL = """
import json, sys
from pathlib import Path
from featurekit.engines.spark import VERSION
from featurekit.project import Project

root, model_file, new_sql = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
lock = root / "warehouse" / "metastore_db" / "db.lck"
out = {"stale_lock": lock.exists()}

def versions(engine):
    found = engine.fetchall(f"SHOW TABLES IN `{engine.schema}` LIKE 'spend{VERSION}*'")
    return sorted(row[1] for row in found)

with Project(root) as project:
    engine = project.engine
    out["before"] = sorted(engine.fetchall(f"SELECT * FROM {engine.relation('spend')}"))
    out["versions_before"] = versions(engine)
    out["status"] = project.ls()[0].status
    plan = {r.model: r for r in project.refresh(dry_run=True)}["spend"]
    out["plan"] = [plan.status, plan.reason]
    model_file.write_text(new_sql)
with Project(root) as project:
    engine = project.engine
    out["refresh"] = {r.model: r.status for r in project.refresh()}["spend"]
    out["after"] = sorted(engine.fetchall(f"SELECT * FROM {engine.relation('spend')}"))
    out["versions_after"] = versions(engine)
    store = project.state_store
    runs = store.engine.fetchall(
        f"SELECT status FROM {store.engine.relation('runs', store.schema)} ORDER BY started_at")
    out["runs"] = [status for (status,) in runs]
print("RESULT " + json.dumps(out, default=str))
"""
# Sleeps in the JVM for 30 s: reflect() runs on every evaluation (it is nondeterministic).
SLOW_SPARK = ("(SELECT length(reflect('java.lang.Thread', 'sleep', CAST(30000 AS BIGINT))) * 0"
              " AS h)")
# Refreshes the project with the view swap of model ``spend`` held: once the new version is
# written (and checked) it names that version in the ready file and waits to be killed.
SWAP_HELD = """
import sys, time
from pathlib import Path
from featurekit.engines.spark import SparkEngine
from featurekit.project import Project

root, ready = Path(sys.argv[1]), Path(sys.argv[2])
swap = SparkEngine._swap

def held_swap(self, name, version, schema=None):
    if name == "spend":
        written = ready.with_suffix(".tmp")
        written.write_text(version)
        written.rename(ready)  # whole, or not there
        time.sleep(600)
    return swap(self, name, version, schema)

SparkEngine._swap = held_swap
with Project(root) as project:
    project.refresh()
"""


def descendants(pid: int) -> list[int]:
    """The processes started by ``pid`` and by those, from /proc (Linux)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            kids = [int(child) for child in children.read_text().split()]
            found += kids
            todo += kids
    return found


def own_warehouse_project(tmp_path: Path, kind: str) -> ProjectFactory:
    """Model ``spend`` of ``kind`` over seed ``events``, refreshed once by another process, on
    a Spark warehouse of its own."""
    from test_crash import EVENTS, FAST, HEADERS, refresh_process

    p = ProjectFactory("spark", tmp_path / "proj")
    p._sources = {}
    (p.root / "profiles.yml").write_text(
        "featurekit:\n  outputs:\n    local:\n      type: spark\n      master: local[2]\n"
        f"      warehouse: warehouse\n      schema: {p.schema}\n"
        "      conf: {spark.sql.shuffle.partitions: 2}\n")
    p.seed("events", EVENTS, timestamp="ts")
    p.model("spend", FAST, HEADERS[kind])
    first = refresh_process(p, "--all")
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output
    return p


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL ``process``, then wait for its JVM, which sees its parent gone and exits on its
    own (until then it holds the metastore)."""
    jvm = descendants(process.pid)
    try:
        process.kill()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in jvm):
        assert time.monotonic() < deadline, "the killed refresh's JVM never exited"
        time.sleep(0.5)


def after_kill(p: ProjectFactory, kind: str, killed_sql: str, next_sql: str) -> dict:
    """Inspect the project a killed refresh of ``killed_sql`` left, then refresh it with
    ``next_sql`` as the model (in another process): what AFTER_KILL reports."""
    import json

    from test_crash import HEADERS

    model_file = p.model("spend", next_sql, HEADERS[kind])
    next_text = model_file.read_text()
    p.model("spend", killed_sql, HEADERS[kind])  # what the killed run was refreshing
    done = subprocess.run([sys.executable, "-c", AFTER_KILL, str(p.root), str(model_file),
                           next_text], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    out = json.loads(lines[0].removeprefix("RESULT "))
    assert out["stale_lock"], "the killed process left no Derby lock: the test proves less"
    assert out["before"] == [[1, "2024-01-01 00:00:00", 5.0], [2, "2024-01-02 00:00:00", 1.0]]
    assert out["status"] == "running"  # as the killed process left it
    assert out["plan"] == ["due", "last run interrupted"]
    assert out["refresh"] == "success"
    assert out["runs"] == ["success", "interrupted", "success"]
    return out


@pytest.mark.parametrize("kind", ["table", "incremental"])
def test_kill_9_mid_refresh_keeps_the_previous_version_and_the_next_run_recovers(tmp_path, kind):
    from test_crash import FAST, HEADERS, refresh_process, wait_for_line

    require_engine("spark")
    p = own_warehouse_project(tmp_path, kind)
    slow_sql = FAST.replace("FROM events", f"FROM events CROSS JOIN {SLOW_SPARK} s")
    slow_sql = slow_sql.replace("sum(amount)", "sum(amount + 0 * s.h)")
    p.model("spend", slow_sql, HEADERS[kind])
    process = refresh_process(p, "--all")
    try:
        wait_for_line(process, "start spend", timeout=300)
        time.sleep(3)
        assert process.poll() is None, "the slow refresh ended before it could be killed"
    finally:
        kill_9(process)
    out = after_kill(p, kind, slow_sql, FAST.replace("sum(amount)", "sum(amount) * 10"))
    assert out["after"] == [[1, "2024-01-01 00:00:00", 50.0], [2, "2024-01-02 00:00:00", 10.0]]
    assert len(out["versions_after"]) == 1


def test_kill_9_between_writing_a_version_and_the_view_swap_leaves_the_old_version(tmp_path):
    from test_crash import EVENTS, FAST

    require_engine("spark")
    # Incremental: its new version is a copy of the current one plus the window (a table's
    # rebuild writes and swaps a version the same way, through _build_version and _swap).
    kind = "incremental"
    p = own_warehouse_project(tmp_path, kind)
    # A new day of source rows: the next refresh writes a version with the window.
    p.seed("events", EVENTS + "1,2024-01-03 08:00:00,4.0\n", timestamp="ts")
    ready = tmp_path / "version_written"
    process = subprocess.Popen(
        [sys.executable, "-c", SWAP_HELD, str(p.root), str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        deadline = time.monotonic() + 300
        while not ready.exists():
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the refresh never reached the view swap"
            time.sleep(0.2)
    finally:
        kill_9(process)
    orphan = ready.read_text()
    out = after_kill(p, kind, FAST, FAST)
    assert out["after"] == [[1, "2024-01-01 00:00:00", 5.0], [1, "2024-01-03 00:00:00", 4.0],
                            [2, "2024-01-02 00:00:00", 1.0]]
    # The written version outlived the kill next to the one the view reads, and the next
    # swap drops it: one version is left, neither of the two before.
    assert orphan.lower() in out["versions_before"] and len(out["versions_before"]) == 2
    assert len(out["versions_after"]) == 1
    assert not set(out["versions_after"]) & set(out["versions_before"])
