"""``featurekit serve`` as a real uvicorn process on 127.0.0.1, on DuckDB and PostgreSQL.

Expected values come from the seed rows written here (the latest row per driver, by hand),
never from ``online_features``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import PG_DSN, ProjectFactory, pg_params, require_engine
from tests.server_process import running_server

# Feast's quick-start data: the latest row of each driver is the 2021-12-31 23:00 one.
DRIVER_STATS = """\
driver_id,event_timestamp,conv_rate,acc_rate,avg_daily_trips
1001,2021-12-30 23:00:00,0.1,0.2,100
1001,2021-12-31 23:00:00,0.7037263512611389,0.8724706768989563,308
1002,2021-12-31 23:00:00,0.038169607520103455,0.48534533381462097,332
1003,2021-12-31 23:00:00,0.9665873050689697,0.7793770432472229,779
1003,2021-12-29 23:00:00,0.5,0.5,1
"""
LATEST = {1001: (0.7037263512611389, 0.8724706768989563, 308),
          1002: (0.038169607520103455, 0.48534533381462097, 332),
          1003: (0.9665873050689697, 0.7793770432472229, 779)}
#: the request body of Feast's feature-server documentation, verbatim
FEAST_DOCS_REQUEST = """{
    "features": [
      "driver_hourly_stats:conv_rate",
      "driver_hourly_stats:acc_rate",
      "driver_hourly_stats:avg_daily_trips"
    ],
    "entities": {
      "driver_id": [1001, 1002, 1003]
    }
  }"""


def build_project(factory: ProjectFactory) -> None:
    """The driver example: a view without ttl and one with a 1-day ttl, both refreshed."""
    recent = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    factory.seed("driver_stats", DRIVER_STATS, timestamp="event_timestamp")
    factory.seed("driver_today", f"driver_id,event_timestamp,trips_today\n"
                                 f"1001,{recent},7\n1002,2021-12-31 23:00:00,9\n")
    factory.model("driver_hourly_stats", """
        SELECT driver_id, CAST(event_timestamp AS TIMESTAMP) AS event_timestamp, conv_rate,
               acc_rate, avg_daily_trips FROM driver_stats
    """, header="entity: driver_id\ntimestamp: event_timestamp")
    factory.model("driver_activity", """
        SELECT driver_id, CAST(event_timestamp AS TIMESTAMP) AS event_timestamp, trips_today
        FROM driver_today
    """, header="entity: driver_id\ntimestamp: event_timestamp\nttl: 1d")
    factory.write("models_sql/feature_services.yml", """
        feature_services:
          driver_v1:
            features: [driver_hourly_stats.acc_rate, driver_activity.trips_today]
    """)
    factory.write("monitors/drivers.yml", """
        source: driver_hourly_stats
        checks:
          - {test: row_count, min: 1}
    """)
    project = factory.open()
    assert all(r.status == "success" for r in project.refresh())
    # monitored before serving: a served DuckDB file admits no other process
    assert [r.status for r in project.monitor(run_all=True).results] == ["ok"]
    project.close()
    factory.recent = recent


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def server(request, tmp_path_factory):
    """One running server per engine for this module's tests: (url, factory)."""
    require_engine(request.param)
    factory = ProjectFactory(request.param, tmp_path_factory.mktemp(request.param) / "proj")
    factory._sources = {}
    build_project(factory)
    try:
        with running_server(factory.root) as url:
            yield url, factory
    finally:
        factory.cleanup()


def post(url: str, path: str, body, content_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(url + path, content=content, timeout=30,
                      headers={"content-type": content_type})


@pytest.mark.parametrize("content_type", [
    "application/json",
    "application/x-www-form-urlencoded",  # what the docs' `curl -d` sends
])
def test_feast_docs_request_gets_feast_shaped_answer(server, content_type):
    url, _ = server
    answer = post(url, "/get-online-features", FEAST_DOCS_REQUEST, content_type)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    names = ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert body["metadata"] == {"feature_names": names}
    assert len(body["results"]) == 4
    by_name = dict(zip(names, body["results"]))
    assert by_name["driver_id"] == {"values": [1001, 1002, 1003], "statuses": ["PRESENT"] * 3,
                                    "event_timestamps": ["1970-01-01T00:00:00Z"] * 3}
    for i, name in enumerate(names[1:]):
        vector = by_name[name]
        assert vector["values"] == [LATEST[d][i] for d in (1001, 1002, 1003)]
        assert vector["statuses"] == ["PRESENT"] * 3
        assert vector["event_timestamps"] == ["2021-12-31T23:00:00Z"] * 3


def test_missing_and_stale_entities_and_full_names(server):
    url, factory = server
    answer = post(url, "/get-online-features", {
        "features": ["driver_activity:trips_today", "driver_hourly_stats.conv_rate"],
        "entities": {"driver_id": [1001, 1002, 9999]}, "full_feature_names": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["metadata"]["feature_names"] == [
        "driver_id", "driver_activity__trips_today", "driver_hourly_stats__conv_rate"]
    trips, conv = body["results"][1], body["results"][2]
    # 1001's row is an hour old (ttl 1d): present; 1002's is from 2021: outside max age
    assert trips["values"] == [7, None, None]
    assert trips["statuses"] == ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert trips["event_timestamps"] == [factory.recent.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                         "2021-12-31T23:00:00Z", "1970-01-01T00:00:00Z"]
    assert conv["values"] == [LATEST[1001][0], LATEST[1002][0], None]
    assert conv["statuses"] == ["PRESENT", "PRESENT", "NOT_FOUND"]


def test_a_feature_service_names_the_features(server):
    url, _ = server
    answer = post(url, "/get-online-features", {"feature_service": "driver_v1",
                                                "entities": {"driver_id": [1003, 1001]}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["metadata"]["feature_names"] == ["driver_id", "acc_rate", "trips_today"]
    assert body["results"][1]["values"] == [LATEST[1003][1], LATEST[1001][1]]
    assert body["results"][2]["values"] == [None, 7]
    assert body["results"][2]["statuses"] == ["NOT_FOUND", "PRESENT"]


@pytest.mark.parametrize("body, says", [
    ("{not json", "invalid request"),
    ('{"features": ["driver_hourly_stats:conv_rate"]}', "entities"),
    ('{"features": ["driver_hourly_stats:conv_rat"], "entities": {"driver_id": [1]}}',
     "conv_rate"),
    ('{"features": ["driver_hourly_stat:conv_rate"], "entities": {"driver_id": [1]}}',
     "driver_hourly_stats"),
    ('{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver": [1]}}',
     "driver_id"),
    ('{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1], '
     '"x": [1, 2]}}', "same number of values"),
    ('{"features": [], "entities": {"driver_id": [1]}}', "features"),
    ('{"entities": {"driver_id": [1]}}', "features"),
    ('{"feature_service": "driver_v2", "entities": {"driver_id": [1]}}', "driver_v1"),
    ('{"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": ["abc"]}}',
     "abc"),
    ("[1, 2]", "invalid request"),
])
def test_bad_requests_are_400_with_a_json_error(server, body, says):
    url, _ = server
    answer = post(url, "/get-online-features", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert says in error
    assert "Traceback" not in answer.text


def test_prediction_and_outcome_logs_are_idempotent(server):
    url, factory = server
    model = f"m{uuid.uuid4().hex[:8]}"
    rows = [{"prediction_id": "a", "driver_id": 1001, "score": 0.9},
            {"prediction_id": "b", "driver_id": 1002, "score": 0.1}]
    first = post(url, "/predictions", {"model": model, "rows": rows, "version": "v1"})
    assert first.status_code == 200, first.text
    assert first.json()["written"] == 2 and first.json()["skipped"] == 0
    assert first.json()["table"] == f"predictions_{model}"
    again = post(url, "/predictions", {"model": model, "rows": rows, "version": "v1"})
    assert again.json()["written"] == 0 and again.json()["skipped"] == 2
    outcomes = [{"prediction_id": "a", "is_fraud": 1}, {"prediction_id": "zzz", "is_fraud": 0}]
    got = post(url, "/outcomes", {"model": model, "rows": outcomes})
    assert got.status_code == 200, got.text
    assert got.json()["written"] == 2 and got.json()["unknown_ids"] == ["zzz"]
    assert post(url, "/outcomes", {"model": model, "rows": outcomes}).json()["written"] == 0
    bad = post(url, "/predictions", {"model": model, "rows": [{"prediction_id": "c",
                                                               "unknown_column": 1}]})
    assert bad.status_code == 400 and "unknown_column" in bad.json()["error"]


def test_health_and_docs(server):
    url, _ = server
    assert httpx.get(url + "/health").json() == {"status": "ok", "target": "test"}
    assert httpx.get(url + "/docs").status_code == 200
    schema = httpx.get(url + "/openapi.json").json()
    assert {"/get-online-features", "/predictions", "/outcomes", "/health",
            "/metrics"} <= set(schema["paths"])


def test_metrics_show_latency_staleness_and_monitor_checks(server):
    url, factory = server
    post(url, "/get-online-features", FEAST_DOCS_REQUEST)
    text = httpx.get(url + "/metrics").text
    samples = parse_metrics(text)
    count = samples[("featurekit_request_duration_seconds_count",
                     (("method", "POST"), ("path", "/get-online-features"), ("status", "200")))]
    assert count >= 1
    newest = datetime(2021, 12, 31, 23, tzinfo=UTC)
    staleness = samples[("featurekit_feature_view_staleness_seconds",
                         (("view", "driver_hourly_stats"),))]
    expected = (datetime.now(UTC) - newest).total_seconds()
    assert abs(staleness - expected) < 120
    assert samples[("featurekit_database_up", ())] == 1
    labels = (("check", "row_count"), ("column", ""), ("monitor", "drivers"),
              ("test", "row_count"))
    assert samples[("featurekit_check_value", labels)] == 5  # rows in the seed
    assert samples[("featurekit_check_status", labels)] == 0


def parse_metrics(text: str) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_schemathesis_finds_no_server_error_or_schema_violation(server):
    """Property-based: requests generated from the OpenAPI schema (valid and not) never get
    a 5xx, and every answer matches the documented status codes, types and schemas."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    url, _ = server
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, negative_data_rejection]
    failures, calls = [], []
    for operation in schema.get_all_operations():
        op = operation.ok()
        if op.path == "/metrics":
            continue  # text exposition format, checked above

        @settings(max_examples=20, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case):
            response = case.call(base_url=url, timeout=30)
            calls.append(response.status_code)
            case.validate_response(response, checks=checks)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every operation's failure is shown
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
        del run  # noqa: F821 - the next operation gets its own
    assert len(calls) >= 20 and 400 in calls and 200 in calls, failures
    assert not failures, "\n".join(failures[:3])


# -- the database goes away while serving, and comes back --------------------------------------

def test_postgres_outage_is_503_and_the_server_recovers(tmp_path):
    require_engine("postgres")
    import psycopg

    database = f"fk_serve_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    factory = ProjectFactory("postgres", tmp_path / "proj")
    factory._sources = {}
    params = pg_params()
    (factory.root / "profiles.yml").write_text(
        f"featurekit:\n  target: test\n  outputs:\n    test:\n      type: postgres\n"
        f"      host: '{params['host']}'\n      port: {params['port']}\n"
        f"      user: '{params['user']}'\n      password: '{params['password']}'\n"
        f"      dbname: {database}\n      schema: fk\n      connect_timeout: 3\n")
    try:
        build_project(factory)
        with running_server(factory.root) as url:
            assert post(url, "/get-online-features", FEAST_DOCS_REQUEST).status_code == 200
            with psycopg.connect(PG_DSN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s", [database])
                down = post(url, "/get-online-features", FEAST_DOCS_REQUEST)
                assert down.status_code == 503, down.text
                assert "not currently accepting connections" in down.json()["error"]
                assert httpx.get(url + "/health").status_code == 503
                metrics = httpx.get(url + "/metrics")
                assert metrics.status_code == 200
                assert parse_metrics(metrics.text)[("featurekit_database_up", ())] == 0
                admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
            back = post(url, "/get-online-features", FEAST_DOCS_REQUEST)
            assert back.status_code == 200, back.text
            assert back.json()["results"][1]["values"] == [LATEST[d][0] for d in LATEST]
            # a dropped connection alone (a restart) is reconnected within the request
            with psycopg.connect(PG_DSN, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s", [database])
            assert post(url, "/get-online-features", FEAST_DOCS_REQUEST).status_code == 200
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_duckdb_file_locked_is_503_and_the_server_recovers(tmp_path):
    factory = ProjectFactory("duckdb", tmp_path / "proj")
    factory._sources = {}
    build_project(factory)
    path = factory.root / "test.duckdb"
    with running_server(factory.root) as url:
        holder = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
             "print('locked', flush=True); sys.stdin.read()", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            down = post(url, "/get-online-features", FEAST_DOCS_REQUEST)
            assert down.status_code == 503, down.text
            assert "locked by another featurekit process" in down.json()["error"]
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
        back = post(url, "/get-online-features", FEAST_DOCS_REQUEST)
        assert back.status_code == 200, back.text
        assert back.json()["results"][3]["values"] == [LATEST[d][2] for d in LATEST]


def test_several_workers_need_an_engine_with_concurrent_writers(tmp_path):
    factory = ProjectFactory("duckdb", tmp_path / "proj")
    factory._sources = {}
    factory.model("one", "SELECT 1 AS x")
    done = subprocess.run([sys.executable, "-m", "featurekit", "serve", "--project-dir",
                           str(factory.root), "--workers", "2"], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)
    assert done.returncode == 2
    assert "--workers 1" in done.stderr and "Traceback" not in done.stderr


def test_two_workers_share_one_latency_histogram(tmp_path):
    """With --workers 2 each scrape, whichever worker answers it, counts every request."""
    require_engine("postgres")
    factory = ProjectFactory("postgres", tmp_path / "proj")
    factory._sources = {}
    try:
        build_project(factory)
        with running_server(factory.root, "--workers", "2") as url:
            for _ in range(40):  # a connection each: the workers take turns accepting
                assert post(url, "/get-online-features", FEAST_DOCS_REQUEST).status_code == 200
            key = ("featurekit_request_duration_seconds_count",
                   (("method", "POST"), ("path", "/get-online-features"), ("status", "200")))
            counts = {parse_metrics(httpx.get(url + "/metrics").text)[key] for _ in range(6)}
            assert counts == {40}
    finally:
        factory.cleanup()
