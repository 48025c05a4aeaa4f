"""Full vs incremental refresh on a generated 10M-row source, on DuckDB and PostgreSQL.

    python benchmarks/bench_refresh.py [--rows 10000000] [--runs 3] [--engines duckdb,postgres]

The source holds card transactions of 100,000 customers over 100 days (generated in the
engine by the same arithmetic on both engines, so both hold identical rows; a customer
transacts on about two days in three). Two incremental models read it: a daily
per-customer aggregate and a 7-day rolling sum over the daily rows. Each run times a full
refresh, appends 1% new rows (the next day) and times the incremental refresh that follows.
Prints medians and the incremental/full ratio (targets: at most 5% on DuckDB, 10% on
PostgreSQL).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

CUSTOMERS = 100_000
DAYS = 100
DAILY = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: incremental
lookback: 1d
*/
SELECT customer_id,
       CAST(date_trunc('day', ts) AS TIMESTAMP) + INTERVAL 1 DAY AS feature_ts,
       count(*) AS txn_count,
       sum(amount) AS spend
FROM raw_events
GROUP BY customer_id, date_trunc('day', ts)
"""
ROLLING = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: incremental
lookback: 7d
*/
SELECT customer_id, feature_ts,
       sum(spend) OVER w AS spend_7d,
       sum(txn_count) OVER w AS txn_count_7d
FROM customer_daily
WINDOW w AS (PARTITION BY customer_id ORDER BY feature_ts
             RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW)
"""
# Row i: a pseudo-random customer (Lehmer generator) at 2024-01-01 + i * (100 days / rows).
CUSTOMER = "((i * 48271) % 2147483647) % {customers}"
AMOUNT = "CAST(((i * 16807) % 2147483647) % 20000 AS DOUBLE PRECISION) / 100"
GENERATE = {
    "duckdb": (
        f"INSERT INTO {{table}} SELECT {CUSTOMER}, "
        "TIMESTAMP '2024-01-01' + to_microseconds(CAST(i * {step} AS BIGINT)), "
        f"{AMOUNT} FROM range({{start}}, {{stop}}) t(i)"
    ),
    "postgres": (
        f"INSERT INTO {{table}} SELECT {CUSTOMER}, "
        "TIMESTAMP '2024-01-01' + make_interval(secs => i * {step} / 1e6), "
        f"{AMOUNT} FROM generate_series({{start}}::bigint, {{stop}} - 1) i"
    ),
}


def write_project(root: Path, engine: str) -> None:
    (root / "models_sql").mkdir(parents=True)
    (root / "models_sql" / "customer_daily.sql").write_text(DAILY)
    (root / "models_sql" / "customer_rolling_7d.sql").write_text(ROLLING)
    (root / "models_sql" / "sources.yml").write_text(
        "sources:\n  raw_events:\n    table: bench_src.raw_events\n    timestamp: ts\n"
    )
    dsn = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    from psycopg.conninfo import conninfo_to_dict

    pg = conninfo_to_dict(dsn)
    output = (
        f"{{type: duckdb, path: {root / 'bench.duckdb'}}}" if engine == "duckdb" else
        f"{{type: postgres, host: '{pg.get('host', '127.0.0.1')}', port: {pg.get('port', 5432)}, "
        f"user: '{pg.get('user', 'postgres')}', password: '{pg.get('password', '')}', "
        f"dbname: '{pg.get('dbname', 'postgres')}', schema: bench_refresh, "
        f"metadata_schema: bench_refresh_meta, threads: 1}}"
    )
    (root / "profiles.yml").write_text(
        f"featurekit:\n  target: bench\n  outputs:\n    bench: {output}\n"
    )


def append_rows(project, engine: str, start: int, stop: int, total: int) -> None:
    step = DAYS * 86_400 * 1_000_000 // total  # microseconds between rows
    project.engine.execute(GENERATE[engine].format(
        table=project.engine.relation("raw_events", "bench_src"), customers=CUSTOMERS,
        step=step, start=start, stop=stop,
    ))


def timed(call) -> float:
    started = time.perf_counter()
    results = call()
    elapsed = time.perf_counter() - started
    failed = [r for r in results if r.status != "success"]
    if failed:
        raise SystemExit(f"refresh failed: {failed}")
    return elapsed


def bench(engine: str, rows: int, runs: int) -> None:
    from featurekit.project import Project

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_project(root, engine)
        project = Project(root)
        db = project.engine
        for schema in ("bench_src", "bench_refresh", "bench_refresh_meta"):
            if engine == "postgres":
                db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            db.ensure_schema(schema)
        db.execute(f"CREATE TABLE {db.relation('raw_events', 'bench_src')} "
                   "(customer_id BIGINT, ts TIMESTAMP, amount DOUBLE PRECISION)")
        started = time.perf_counter()
        append_rows(project, engine, 0, rows, rows)
        if engine == "postgres":  # a time-ordered source table carries an index on its time
            db.execute(f"CREATE INDEX ON {db.relation('raw_events', 'bench_src')} (ts)")
            db.execute(f"ANALYZE {db.relation('raw_events', 'bench_src')}")
        print(f"[{engine}] generated {rows:,} source rows in {time.perf_counter() - started:.1f} s")
        full, incremental = [], []
        size = rows
        for run in range(runs):
            full.append(timed(lambda: project.refresh(full_refresh=True)))
            added = rows // 100
            append_rows(project, engine, size, size + added, rows)
            size += added
            incremental.append(timed(lambda: project.refresh(all_models=True)))
            print(f"[{engine}] run {run + 1}: full {full[-1]:.3f} s, incremental after "
                  f"+{added:,} rows {incremental[-1]:.3f} s")
        check = db.fetchall(
            f"SELECT count(*), sum(spend) FROM {db.relation('customer_daily')}")[0]
        f, i = statistics.median(full), statistics.median(incremental)
        print(f"[{engine}] median full {f:.3f} s, median incremental {i:.3f} s, "
              f"ratio {i / f:.1%} (daily rows {check[0]:,})")
        if engine == "postgres":
            for schema in ("bench_src", "bench_refresh", "bench_refresh_meta"):
                db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        project.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,postgres")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        bench(engine.strip(), args.rows, args.runs)


if __name__ == "__main__":
    main()
