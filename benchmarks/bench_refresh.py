"""Full vs incremental refresh on a generated 10M-row source, on DuckDB and PostgreSQL.

    python benchmarks/bench_refresh.py [--rows 10000000] [--runs 3] [--engines duckdb,postgres]

The source holds card transactions of 100,000 customers over 100 days (generated in the
engine by the same arithmetic on both engines, so both hold identical rows; a customer
transacts on about two days in three). Two incremental models read it (``restate: 1d``): a
daily per-customer aggregate and a 7-day rolling sum over the daily rows.

Each run, in one process per engine:

1. a full refresh (``--full-refresh``), and a rebuild of both models by hand-written SQL (the
   two models written the way a user would, as ``CREATE TABLE ... AS``; not featurekit's
   compiled SQL): the baseline a full refresh is measured against;
2. the next day is appended (1% more rows); an incremental refresh is timed ("next day"), and
   so is an incremental update of the hand-built tables written the way a user would (per
   model: its newest timestamp minus ``restate`` is the start; ``DELETE`` the rows from the
   start on and ``INSERT`` the model's query over inputs from ``start - lookback`` on, in one
   transaction). That hand-written incremental is the floor the models' own SQL sets: what
   featurekit adds on top (duplicate-key and NULL checks before anything is written, rows
   recomputed unchanged left in place, run state) is the difference;
3. late rows (0.1% more rows) arrive for the day before the newest one, inside ``restate``,
   and both incremental refreshes are timed again ("late rows").
After each step the models' tables are compared with the hand-built ones; no time is printed
unless every comparison matched. Prints medians and the ratios incremental / full (targets:
at most 5% on DuckDB, 10% on PostgreSQL), featurekit's incremental against the hand-written
one, and this process's peak RSS. featurekit and the hand-written SQL take turns going first.

On PostgreSQL the source table gets an index on its timestamp column, as the README asks of
``table:`` sources that incremental models filter by time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

SUFFIX = f"_{os.getpid()}"  # schemas of this process: runs may share one PostgreSQL server
SRC, TARGET, META = (f"bench_{kind}{SUFFIX}" for kind in ("src", "refresh", "meta"))
CUSTOMERS = 100_000
DAYS = 100
DAY_US = 86_400 * 1_000_000
DAILY = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: incremental
lookback: 1d
restate: 1d
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
restate: 1d
*/
SELECT customer_id, feature_ts,
       sum(spend) OVER w AS spend_7d,
       sum(txn_count) OVER w AS txn_count_7d
FROM customer_daily
WINDOW w AS (PARTITION BY customer_id ORDER BY feature_ts
             RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW)
"""
# The baseline: both models as a user would rebuild them by hand in each engine's own SQL.
BY_HAND = {
    "duckdb": [
        "CREATE OR REPLACE TABLE {s}.hand_daily AS SELECT customer_id, "
        "date_trunc('day', ts) + INTERVAL 1 DAY AS feature_ts, count(*) AS txn_count, "
        "sum(amount) AS spend FROM {src} GROUP BY ALL",
        "CREATE OR REPLACE TABLE {s}.hand_rolling AS SELECT customer_id, feature_ts, "
        "sum(spend) OVER w AS spend_7d, sum(txn_count) OVER w AS txn_count_7d "
        "FROM {s}.hand_daily WINDOW w AS (PARTITION BY customer_id ORDER BY feature_ts "
        "RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW)",
    ],
    "postgres": [
        "DROP TABLE IF EXISTS {s}.hand_daily",
        "CREATE TABLE {s}.hand_daily AS SELECT customer_id, "
        "date_trunc('day', ts) + interval '1 day' AS feature_ts, count(*) AS txn_count, "
        "sum(amount) AS spend FROM {src} GROUP BY 1, 2",
        "DROP TABLE IF EXISTS {s}.hand_rolling",
        "CREATE TABLE {s}.hand_rolling AS SELECT customer_id, feature_ts, "
        "sum(spend) OVER w AS spend_7d, sum(txn_count) OVER w AS txn_count_7d "
        "FROM {s}.hand_daily WINDOW w AS (PARTITION BY customer_id ORDER BY feature_ts "
        "RANGE BETWEEN interval '6 days' PRECEDING AND CURRENT ROW)",
    ],
}
# The same, updated incrementally by hand: {start} is the table's newest timestamp minus the
# models' restate (1 day); inputs are read from start - lookback on (1 day, 7 days).
BY_HAND_INCREMENTAL = {
    "duckdb": [
        ("{s}.hand_daily",
         "INSERT INTO {s}.hand_daily SELECT * FROM (SELECT customer_id, "
         "date_trunc('day', ts) + INTERVAL 1 DAY AS feature_ts, count(*) AS txn_count, "
         "sum(amount) AS spend FROM {src} WHERE ts >= {start} - INTERVAL 1 DAY GROUP BY ALL) "
         "WHERE feature_ts >= {start}"),
        ("{s}.hand_rolling",
         "INSERT INTO {s}.hand_rolling SELECT * FROM (SELECT customer_id, feature_ts, "
         "sum(spend) OVER w AS spend_7d, sum(txn_count) OVER w AS txn_count_7d "
         "FROM {s}.hand_daily WHERE feature_ts >= {start} - INTERVAL 7 DAYS "
         "WINDOW w AS (PARTITION BY customer_id ORDER BY feature_ts "
         "RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW)) WHERE feature_ts >= {start}"),
    ],
    "postgres": [
        ("{s}.hand_daily",
         "INSERT INTO {s}.hand_daily SELECT * FROM (SELECT customer_id, "
         "date_trunc('day', ts) + interval '1 day' AS feature_ts, count(*) AS txn_count, "
         "sum(amount) AS spend FROM {src} WHERE ts >= {start} - interval '1 day' "
         "GROUP BY 1, 2) AS d WHERE feature_ts >= {start}"),
        ("{s}.hand_rolling",
         "INSERT INTO {s}.hand_rolling SELECT * FROM (SELECT customer_id, feature_ts, "
         "sum(spend) OVER w AS spend_7d, sum(txn_count) OVER w AS txn_count_7d "
         "FROM {s}.hand_daily WHERE feature_ts >= {start} - interval '7 days' "
         "WINDOW w AS (PARTITION BY customer_id ORDER BY feature_ts "
         "RANGE BETWEEN interval '6 days' PRECEDING AND CURRENT ROW)) AS r "
         "WHERE feature_ts >= {start}"),
    ],
}
COMPARE = {  # model -> (hand-built table, columns compared; sums to 4 decimals)
    "customer_daily": ("hand_daily", "customer_id, feature_ts, txn_count, "
                       "CAST(spend AS DECIMAL(20, 4))"),
    "customer_rolling_7d": ("hand_rolling", "customer_id, feature_ts, txn_count_7d, "
                            "CAST(spend_7d AS DECIMAL(20, 4))"),
}
# Row i: a pseudo-random customer (Lehmer generator) at 2024-01-01 + base + (i - start) * step.
CUSTOMER = "((i * 48271) % 2147483647) % {customers}"
AMOUNT = "CAST(((i * 16807) % 2147483647) % 20000 AS DOUBLE PRECISION) / 100"
GENERATE = {
    "duckdb": (
        f"INSERT INTO {{table}} SELECT {CUSTOMER}, "
        "TIMESTAMP '2024-01-01' + to_microseconds("
        "CAST({base} + (i - {start}) * {step} AS BIGINT)), "
        f"{AMOUNT} FROM range({{start}}, {{stop}}) t(i)"
    ),
    "postgres": (
        f"INSERT INTO {{table}} SELECT {CUSTOMER}, "
        "TIMESTAMP '2024-01-01' + make_interval(secs => ({base} + (i - {start}) * {step}) / 1e6), "
        f"{AMOUNT} FROM generate_series({{start}}::bigint, {{stop}} - 1) i"
    ),
}
LATE_IDS = 10**12  # row numbers of late rows: other customers and amounts than the timeline's


def write_project(root: Path, engine: str) -> None:
    (root / "models_sql").mkdir(parents=True)
    (root / "models_sql" / "customer_daily.sql").write_text(DAILY)
    (root / "models_sql" / "customer_rolling_7d.sql").write_text(ROLLING)
    (root / "models_sql" / "sources.yml").write_text(
        f"sources:\n  raw_events:\n    table: {SRC}.raw_events\n    timestamp: ts\n"
    )
    dsn = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    from psycopg.conninfo import conninfo_to_dict

    pg = conninfo_to_dict(dsn)
    output = (
        f"{{type: duckdb, path: {root / 'bench.duckdb'}}}" if engine == "duckdb" else
        f"{{type: postgres, host: '{pg.get('host', '127.0.0.1')}', port: {pg.get('port', 5432)}, "
        f"user: '{pg.get('user', 'postgres')}', password: '{pg.get('password', '')}', "
        f"dbname: '{pg.get('dbname', 'postgres')}', schema: {TARGET}, "
        f"metadata_schema: {META}, threads: 1}}"
    )
    (root / "profiles.yml").write_text(
        f"featurekit:\n  target: bench\n  outputs:\n    bench: {output}\n"
    )


class Bench:
    def __init__(self, project, engine: str, rows: int):
        self.project, self.engine, self.db = project, engine, project.engine
        self.rows = rows  # the timeline: `rows` rows over DAYS days
        self.step = DAYS * DAY_US // rows  # microseconds between timeline rows
        self.size = 0  # timeline rows so far
        self.late = 0  # late rows so far
        self.source = self.db.relation("raw_events", SRC)

    def generate(self, start: int, stop: int, base: int, step: int) -> None:
        self.db.execute(GENERATE[self.engine].format(
            table=self.source, customers=CUSTOMERS, start=start, stop=stop, base=base, step=step,
        ))

    def append_timeline(self, count: int) -> None:
        self.generate(self.size, self.size + count, self.size * self.step, self.step)
        self.size += count

    def append_late(self, count: int) -> None:
        """Rows for the day before the newest day of the source: inside ``restate: 1d``."""
        newest_day = self.size * self.step // DAY_US
        if self.size * self.step % DAY_US == 0:
            newest_day -= 1
        start = LATE_IDS + self.late
        self.generate(start, start + count, (newest_day - 1) * DAY_US, DAY_US // count)
        self.late += count

    def refresh(self, **options) -> float:
        started = time.perf_counter()
        results = self.project.refresh(**options)
        elapsed = time.perf_counter() - started
        failed = [r for r in results if r.status != "success"]
        if failed or len(results) != 2:
            raise SystemExit(f"refresh did not run both models: {results}")
        return elapsed

    def by_hand(self) -> float:
        schema = self.db.quote(self.project.target.schema)
        started = time.perf_counter()
        for statement in BY_HAND[self.engine]:
            self.db.execute(statement.format(s=schema, src=self.source))
        return time.perf_counter() - started

    def by_hand_incremental(self) -> float:
        """Bring the hand-built tables up to date the way a user would by hand (one
        transaction: each table's rows from its newest timestamp minus a day on, replaced)."""
        schema = self.db.quote(self.project.target.schema)
        started = time.perf_counter()
        self.db.execute("BEGIN")
        for table, insert in BY_HAND_INCREMENTAL[self.engine]:
            table = table.format(s=schema)
            newest = self.db.fetchall(f"SELECT max(feature_ts) FROM {table}")[0][0]
            start = f"TIMESTAMP '{newest - timedelta(days=1):%Y-%m-%d %H:%M:%S}'"
            self.db.execute(f"DELETE FROM {table} WHERE feature_ts >= {start}")
            self.db.execute(insert.format(s=schema, src=self.source, start=start))
        self.db.execute("COMMIT")
        return time.perf_counter() - started

    def check(self, when: str) -> None:
        """The models' tables hold exactly the hand-built rows (else stop, printing no time)."""
        schema = self.db.quote(self.project.target.schema)
        for model, (hand, columns) in COMPARE.items():
            mine, theirs = self.db.relation(model), f"{schema}.{hand}"
            differ = self.db.fetchall(
                f"SELECT count(*) FROM ((SELECT {columns} FROM {mine} EXCEPT ALL "
                f"SELECT {columns} FROM {theirs}) UNION ALL (SELECT {columns} FROM {theirs} "
                f"EXCEPT ALL SELECT {columns} FROM {mine})) AS d"
            )[0][0]
            total = self.db.count_rows(mine)
            if differ or total == 0:
                raise SystemExit(f"{when}: {model} differs from a rebuild by hand in {differ} "
                                 f"rows ({total} rows); no timing is printed")


def bench(engine: str, rows: int, runs: int) -> None:
    from featurekit.project import Project

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_project(root, engine)
        project = Project(root)
        db = project.engine
        for schema in (SRC, TARGET, META):
            db.ensure_schema(schema)
        b = Bench(project, engine, rows)
        db.execute(f"CREATE TABLE {b.source} "
                   "(customer_id BIGINT, ts TIMESTAMP, amount DOUBLE PRECISION)")
        started = time.perf_counter()
        b.append_timeline(rows)
        if engine == "postgres":  # the README's advice for time-filtered table: sources
            db.execute(f"CREATE INDEX ON {b.source} (ts)")
            db.execute(f"ANALYZE {b.source}")
        print(f"[{engine}] generated {rows:,} source rows in {time.perf_counter() - started:.1f} s")
        times: dict[str, list[float]] = {k: [] for k in (
            "full", "hand", "next_day", "hand_next_day", "late", "hand_late")}

        def both(mine: str, theirs: str, refresh: Callable[[], float],
                 by_hand: Callable[[], float], run: int, when: str) -> None:
            """Time featurekit's and the hand-written step, taking turns going first."""
            steps = [(mine, refresh), (theirs, by_hand)]
            for key, step in steps if run % 2 == 0 else steps[::-1]:
                times[key].append(step())
            b.check(f"run {run + 1}, {when}")

        for run in range(runs):
            both("full", "hand", lambda: b.refresh(full_refresh=True), b.by_hand, run, "full")
            b.append_timeline(rows // 100)
            both("next_day", "hand_next_day", lambda: b.refresh(all_models=True),
                 b.by_hand_incremental, run, "next day")
            b.append_late(rows // 1000)
            both("late", "hand_late", lambda: b.refresh(all_models=True),
                 b.by_hand_incremental, run, "late rows")
            last = {k: v[-1] for k, v in times.items()}
            print(f"[{engine}] run {run + 1} (checked equal to the tables built by hand): "
                  f"full {last['full']:.3f} s (by hand {last['hand']:.3f} s); next day "
                  f"(+{rows // 100:,} rows) {last['next_day']:.3f} s (by hand "
                  f"{last['hand_next_day']:.3f} s); late rows (+{rows // 1000:,}) "
                  f"{last['late']:.3f} s (by hand {last['hand_late']:.3f} s)")
        m = {k: statistics.median(v) for k, v in times.items()}
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"[{engine}] medians over {runs} runs: full {m['full']:.3f} s (by hand "
              f"{m['hand']:.3f} s, {m['full'] / m['hand']:.2f}x)")
        for label, key in (("next day", "next_day"), ("late rows", "late")):
            mine, theirs = m[key], m[f"hand_{key}"]
            print(f"[{engine}]   incremental, {label}: {mine:.3f} s = {mine / m['full']:.1%} "
                  f"of full; by hand {theirs:.3f} s = {theirs / m['hand']:.1%} of a full "
                  f"rebuild by hand; featurekit / by hand {mine / theirs:.2f}x")
        print(f"[{engine}] peak RSS of this process {rss:.0f} MB")
        if engine == "postgres":
            for schema in (SRC, TARGET, META):
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
