"""Single-entity ``POST /get-online-features``: featurekit serve vs Feast's feature server.

    python benchmarks/bench_serve.py [--entities 100000] [--rows-per-entity 5] [--runs 3]
        [--duration 10] [--connections 1,4,16] [--workers 2] [--feast-venv /tmp/feastvenv]

Both servers answer the same request body (Feast's JSON: three features of one view, one
random customer per request, from a wrk Lua script) on loopback, driven by ``wrk``
(closed loop: each connection sends its next request when the answer arrives, so
throughput is what the server sustains at that concurrency, and the latency percentiles are
wrk's, measured at that load). Per connection count the two servers are measured
alternately, ``--runs`` times each, and the medians printed with their ratio.

* featurekit: ``featurekit serve --workers N`` on PostgreSQL (a ``table`` feature view with its
  (entity, timestamp) unique index, ``entities x rows-per-entity`` rows made in the database).
* Feast 0.67 (``feast serve -w N --no-access-log --max-requests 0``; its default restarts a
  worker every 1000 requests) with its SQLite online store (in-process: no round trip to a
  server) and its PostgreSQL online store (the same server featurekit reads), each
  materialized from the same rows exported to Parquet, when the venv at ``--feast-venv`` has
  Feast (``python -m venv /tmp/feastvenv && /tmp/feastvenv/bin/pip install 'feast==0.67.0'
  'psycopg[binary,pool]'``); otherwise it says so.

Before any timing, 200 random customers are fetched from both servers and compared with a
hand-written ``SELECT ... ORDER BY feature_ts DESC LIMIT 1`` per customer. Peak RSS is the
sum of the server's processes' high-water marks after the runs. Needs ``wrk`` (Debian package).
PostgreSQL comes from FEATUREKIT_PG_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from process_memory import tree_peak_mb

DSN = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SCHEMA = "fk_bench_serve"
FEATURES = ["customer_stats:f1", "customer_stats:f2", "customer_stats:f3"]
MODEL = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: table
*/
SELECT customer_id, feature_ts, f1, f2, f3 FROM stats_src
"""
LUA = """
math.randomseed(%(seed)d)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local id = math.random(1, %(entities)d)
  local body = '{"features": %(features)s, "entities": {"customer_id": [' .. id .. ']}}'
  return wrk.format(nil, "/get-online-features", nil, body)
end
"""
FEAST_REPO = '''
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
source = FileSource(path="%(parquet)s", timestamp_field="feature_ts")
customer_stats = FeatureView(
    name="customer_stats", entities=[customer], ttl=timedelta(days=3650), online=True,
    schema=[Field(name="customer_id", dtype=Int64), Field(name="f1", dtype=Float64),
            Field(name="f2", dtype=Float64), Field(name="f3", dtype=Int64)],
    source=source,
)
'''
FEAST_STORE = """project: bench_serve
registry: %(root)s/registry.db
provider: local
online_store: %(online)s
offline_store: {type: file}
entity_key_serialization_version: 3
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- data -------------------------------------------------------------------------------------
def make_data(entities: int, per_entity: int) -> None:
    """stats_src: per customer ``per_entity`` daily rows ending yesterday, made in PostgreSQL."""
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(
            f"CREATE TABLE {SCHEMA}.stats_src AS SELECT c AS customer_id, "
            f"date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => d) "
            f"AS feature_ts, round((random() * 1000)::numeric, 2)::float8 AS f1, "
            f"random() AS f2, (random() * 100)::bigint AS f3 "
            f"FROM generate_series(1, %s) AS c, generate_series(1, %s) AS d",
            [entities, per_entity])


def project_dir(root: Path) -> Path:
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(DSN)
    (root / "models_sql").mkdir(parents=True)
    (root / "models_sql" / "customer_stats.sql").write_text(MODEL)
    (root / "models_sql" / "sources.yml").write_text(
        f"sources:\n  stats_src:\n    table: {SCHEMA}.stats_src\n")
    (root / "profiles.yml").write_text(
        "featurekit:\n  target: pg\n  outputs:\n"
        f"    pg: {{type: postgres, host: '{dsn.get('host', '127.0.0.1')}', "
        f"port: {dsn.get('port', 5432)}, user: '{dsn.get('user', 'postgres')}', "
        f"password: '{dsn.get('password', '')}', dbname: '{dsn.get('dbname', 'postgres')}', "
        f"schema: {SCHEMA}, metadata_schema: {SCHEMA}_meta}}\n")
    return root


def expected(ids: list[int]) -> dict[int, tuple]:
    """The latest row per customer, the way a user would write it by hand."""
    import psycopg

    out = {}
    with psycopg.connect(DSN) as conn:
        for i in ids:
            row = conn.execute(
                f"SELECT f1, f2, f3 FROM {SCHEMA}.stats_src WHERE customer_id = %s "
                f"ORDER BY feature_ts DESC LIMIT 1", [i]).fetchone()
            out[i] = tuple(row)
    return out


# -- servers ----------------------------------------------------------------------------------
@contextlib.contextmanager
def server(command: list[str], port: int, cwd: Path, log: Path, env: dict | None = None):
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                probe = httpx.post(url + "/get-online-features", timeout=5, json={
                    "features": FEATURES, "entities": {"customer_id": [1]}})
                if probe.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def check(url: str, name: str, truth: dict[int, tuple]) -> None:
    answer = httpx.post(url + "/get-online-features", timeout=30, json={
        "features": FEATURES, "entities": {"customer_id": list(truth)}})
    answer.raise_for_status()
    body = answer.json()
    names = body["metadata"]["feature_names"]  # Feast's order is its own: go by name
    assert sorted(names) == ["customer_id", "f1", "f2", "f3"], (name, names)
    columns = dict(zip(names, (r["values"] for r in body["results"])))
    assert columns["customer_id"] == list(truth), name
    got = list(zip(columns["f1"], columns["f2"], columns["f3"]))
    for (i, want), row in zip(truth.items(), got):
        if any(abs(float(a) - float(b)) > 1e-9 for a, b in zip(want, row)):
            raise AssertionError(f"{name}: customer {i}: got {row}, expected {want}")
    statuses = {s for r in body["results"][1:] for s in r["statuses"]}
    assert statuses == {"PRESENT"}, (name, statuses)
    print(f"  {name}: {len(truth)} customers match the hand-written query")


# -- wrk --------------------------------------------------------------------------------------
def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    threads = min(connections, 2)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d",
                          f"{duration}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, timeout=duration + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result = {"rps": rate, "non2xx": float(errors.group(1)) if errors else 0.0}
    if socket_errors:
        print(f"    wrk socket errors: {socket_errors.group(1)}")
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        result[f"p{pct}"] = value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--rows-per-entity", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,4,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--feast-venv", default="/tmp/feastvenv")
    parser.add_argument("--feast-stores", default="sqlite,postgres",
                        help="Feast online stores to measure (postgres needs psycopg in the "
                             "venv: pip install 'psycopg[binary,pool]')")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    connections = [int(c) for c in args.connections.split(",")]
    root = Path(tempfile.mkdtemp(prefix="fk_bench_serve_"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.entities:,} customers x {args.rows_per_entity} rows, workers {args.workers}, "
          f"wrk {args.duration}s x {args.runs} runs per point")

    make_data(args.entities, args.rows_per_entity)
    project = project_dir(root / "fk")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from featurekit.project import Project

    with Project(project) as fk:
        started = time.perf_counter()
        assert all(r.status == "success" for r in fk.refresh())
        print(f"featurekit refresh: {time.perf_counter() - started:.1f}s")
        frame = fk.engine.fetch_df(f"SELECT * FROM {SCHEMA}.stats_src")
    feast = Path(args.feast_venv) / "bin" / "feast"
    servers: dict[str, tuple[list[str], Path, dict]] = {}
    fk_port = free_port()
    servers["featurekit"] = ([sys.executable, "-m", "featurekit", "serve", "--project-dir",
                              str(project), "--port", str(fk_port), "--workers",
                              str(args.workers)], project, {})
    if feast.exists():
        from psycopg.conninfo import conninfo_to_dict

        dsn = conninfo_to_dict(DSN)
        stores = {
            "sqlite": "{type: sqlite, path: %s/online.db}",
            "postgres": (f"{{type: postgres, host: '{dsn.get('host', '127.0.0.1')}', "
                         f"port: {dsn.get('port', 5432)}, database: "
                         f"'{dsn.get('dbname', 'postgres')}', user: "
                         f"'{dsn.get('user', 'postgres')}', password: "
                         f"'{dsn.get('password', '')}', sslmode: disable, "
                         f"db_schema: {SCHEMA}_feast}}"),
        }
        for store in args.feast_stores.split(","):
            repo = root / f"feast_{store}"
            repo.mkdir()
            frame.to_parquet(repo / "stats.parquet")
            online = stores[store] % repo if store == "sqlite" else stores[store]
            (repo / "feature_store.yaml").write_text(FEAST_STORE % {"root": repo,
                                                                    "online": online})
            (repo / "repo.py").write_text(FEAST_REPO % {"parquet": repo / "stats.parquet"})
            started = time.perf_counter()
            for step in (["apply"], ["materialize", "2000-01-01T00:00:00",
                                     time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())]):
                done = subprocess.run([str(feast), *step], cwd=repo, capture_output=True,
                                      text=True)
                if done.returncode != 0:
                    sys.exit(f"feast {step[0]} failed:\n{done.stdout[-2000:]}"
                             f"{done.stderr[-2000:]}")
            print(f"feast apply + materialize ({store} online store): "
                  f"{time.perf_counter() - started:.1f}s")
            servers[f"feast-{store}"] = (
                [str(feast), "serve", "--host", "127.0.0.1", "--port", str(free_port()), "-w",
                 str(args.workers), "--no-access-log", "--max-requests", "0"], repo, {})
    else:
        print(f"Feast: not measured ({feast} does not exist; create it with python -m venv "
              f"/tmp/feastvenv && /tmp/feastvenv/bin/pip install 'feast==0.67.0')")

    script = root / "request.lua"
    script.write_text(LUA % {"seed": 42, "entities": args.entities,
                             "features": json.dumps(FEATURES)})
    truth = expected(random.Random(7).sample(range(1, args.entities + 1), 200))
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    rss: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        urls = {}
        for name, (command, cwd, env) in servers.items():
            port = int(command[command.index("--port") + 1])
            url, pid = stack.enter_context(server(command, port, cwd, root / f"{name}.log", env))
            urls[name] = (url, pid)
            check(url, name, truth)
        for url, _ in urls.values():  # warm-up: caches and connections
            wrk(url, script, 4, 3)
        for c in connections:
            for run in range(args.runs):
                for name, (url, _) in urls.items():
                    r = wrk(url, script, c, args.duration)
                    results.setdefault((name, c), []).append(r)
                    print(f"  c={c:<3} run {run + 1} {name:<10} {r['rps']:8.0f} req/s  "
                          f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:7.2f} ms"
                          + (f"  non-2xx {r['non2xx']:.0f}" if r["non2xx"] else ""))
        for name, (_, pid) in urls.items():
            rss[name] = tree_peak_mb(pid)

    print("\nmedians (wrk closed loop, single-entity requests, loopback):")
    print(f"{'connections':>11}  {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for c in connections:
        for name in urls:
            runs = results[(name, c)]
            med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
            print(f"{c:>11}  {name:<10} {med['rps']:8.0f} {med['p50']:8.2f} {med['p99']:8.2f}")
        fk_runs = results[("featurekit", c)]
        for name in urls:
            if name == "featurekit":
                continue
            runs = results[(name, c)]
            rps = statistics.median(r["rps"] for r in fk_runs) / statistics.median(
                r["rps"] for r in runs)
            p99 = statistics.median(r["p99"] for r in fk_runs) / statistics.median(
                r["p99"] for r in runs)
            print(f"{c:>11}  featurekit / {name}: throughput x{rps:.2f}, p99 x{p99:.2f}")
    for name, mb in rss.items():
        print(f"peak RSS {name} (all processes): {mb:.0f} MB")
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}_meta CASCADE")
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}_feast CASCADE")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
