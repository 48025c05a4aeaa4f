"""What reading run state and monitor history costs as they grow, on DuckDB and PostgreSQL.

    python benchmarks/bench_state.py [--history 0,100000,1000000] [--runs 5]
                                     [--engines duckdb,postgres]

A project of five table models (``refresh: 1d``) is refreshed once. Then, for each history
size, that many older runs of twenty other models (and of the five) are added to
``featurekit.runs``, and ``latest_runs`` is dropped, as a store written by an older featurekit
has it. Timed, per size:

- **upgrade**: the first refresh, which fills ``latest_runs`` from the whole history (once);
- **no-op refresh**: ``Project(root).refresh()`` with nothing due (opening the project and
  reading the state included), median of ``--runs``;
- **state from the history**: ``State.last_runs`` computed from ``runs`` alone, which is what
  every refresh read before ``latest_runs`` existed (a dry run on an older store still does);
- **by hand**: the latest run per model as a user would query the history
  (PostgreSQL ``DISTINCT ON``, DuckDB ``arg_max``), median of ``--runs``.

Before any time is printed, each model's latest run in ``latest_runs`` is checked against the
hand-written query, and every no-op refresh must report all five models up to date.

Then, per size, ``featurekit.monitor_results`` gets that many rows (five monitors of 25 checks
evaluated every hour, going back from 2024), and what a monitor run and the report read is
timed (median of ``--runs``): turning those rows into ``monitor_latest`` (once, as for a
store written by an older featurekit); the monitors' latest status, against the newest row
per check queried by hand (``DISTINCT ON`` / ``arg_max``), which it must equal; their last
scheduled run, which must equal a ``GROUP BY`` by hand; a rerun's 25 results replacing
those at an as_of already evaluated; and the report's history of one monitor (its newest 200
points per check), against reading all of that monitor's rows and keeping the newest 200 per
check in pandas, which it must equal.

PostgreSQL comes from FEATUREKIT_PG_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

DSN = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SUFFIX = f"_{os.getpid()}"  # schemas of this process: runs may share one PostgreSQL server
TARGET, META = f"bench_state{SUFFIX}", f"bench_state_meta{SUFFIX}"
MODELS = 5
# A run a minute, going back from 2020: twenty other models and the five real ones.
HISTORY = {
    "duckdb": "SELECT md5(CAST(i AS TEXT)), 'old', '{target}', "
              "CASE WHEN i % 25 < 5 THEN 'model_' || CAST(i % 25 AS TEXT) "
              "ELSE 'gone_' || CAST(i % 25 AS TEXT) END, 'table', "
              "TIMESTAMP '2020-01-01' - to_minutes(i + 1), "
              "TIMESTAMP '2020-01-01' - to_minutes(i + 1) + INTERVAL 10 SECOND, "
              "CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'success' END, i, "
              "'fp' || CAST(i % 3 AS TEXT) FROM range({start}, {stop}) t(i)",
    "postgres": "SELECT md5(i::text), 'old', '{target}', "
                "CASE WHEN i % 25 < 5 THEN 'model_' || (i % 25) ELSE 'gone_' || (i % 25) END, "
                "'table', TIMESTAMP '2020-01-01' - (i + 1) * interval '1 minute', "
                "TIMESTAMP '2020-01-01' - (i + 1) * interval '1 minute' + interval '10 seconds', "
                "CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'success' END, i, 'fp' || (i % 3) "
                "FROM generate_series({start}, {stop} - 1) i",
}
# Monitor results: five monitors x 25 checks, one evaluation an hour going back from 2024.
RESULTS = ("SELECT 'run', '{target}', 'mon_' || CAST(i % 5 AS TEXT), 'drift', "
           "'col_' || CAST(CAST(floor(i / 5) AS BIGINT) % 25 AS TEXT), 'psi', 'ok', "
           "CAST(i AS DOUBLE PRECISION), "
           "TIMESTAMP '2024-01-01' - CAST(floor(i / 125) AS BIGINT) * INTERVAL '1 hour', "
           "TIMESTAMP '2024-01-01' - CAST(floor(i / 125) AS BIGINT) * INTERVAL '1 hour' "
           "FROM {rows}")
ROWS = {"duckdb": "range({start}, {stop}) t(i)",
        "postgres": "generate_series({start}, {stop} - 1) i"}
NEWEST_BY_HAND = {  # each check's newest status, as a user would query the results
    "duckdb": "SELECT monitor, check_name, column_name, arg_max(status, (as_of, evaluated_at)) "
              "FROM {results} WHERE target_schema = '{target}' GROUP BY ALL",
    "postgres": "SELECT DISTINCT ON (monitor, check_name, column_name) monitor, check_name, "
                "column_name, status FROM {results} WHERE target_schema = '{target}' "
                "ORDER BY monitor, check_name, column_name, as_of DESC, evaluated_at DESC",
}
BY_HAND = {
    "duckdb": "SELECT model, arg_max(run_id, started_at) FROM {runs} "
              "WHERE target_schema = '{target}' GROUP BY model",
    "postgres": "SELECT DISTINCT ON (model) model, run_id FROM {runs} "
                "WHERE target_schema = '{target}' ORDER BY model, started_at DESC",
}


def write_project(root: Path, engine: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    (root / "models_sql").mkdir(parents=True)
    for n in range(MODELS):
        (root / "models_sql" / f"model_{n}.sql").write_text(
            f"/* featurekit\nmaterialized: table\nrefresh: 1d\n*/\nSELECT {n} AS n\n")
    pg = conninfo_to_dict(DSN)
    output = (
        f"{{type: duckdb, path: {root / 'bench.duckdb'}, schema: {TARGET}, "
        f"metadata_schema: {META}}}" if engine == "duckdb" else
        f"{{type: postgres, host: '{pg.get('host', '127.0.0.1')}', port: {pg.get('port', 5432)}, "
        f"user: '{pg.get('user', 'postgres')}', password: '{pg.get('password', '')}', "
        f"dbname: '{pg.get('dbname', 'postgres')}', schema: {TARGET}, metadata_schema: {META}}}"
    )
    (root / "profiles.yml").write_text(
        f"featurekit:\n  target: bench\n  outputs:\n    bench: {output}\n")


def median_seconds(step, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench(engine: str, sizes: list[int], runs: int) -> None:
    from featurekit.project import Project
    from featurekit.state import State

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_project(root, engine)
        first = Project(root)
        db = first.engine
        first.refresh()
        runs_table = db.relation("runs", META)
        added = 0
        try:
            for size in sizes:
                if size > added:
                    db.execute(f"INSERT INTO {runs_table} (run_id, invocation_id, target_schema, "
                               "model, materialized, started_at, finished_at, status, rows, "
                               "fingerprint) " + HISTORY[engine].format(
                                   target=TARGET, start=added, stop=size))
                    added = size
                total = db.count_rows(runs_table)
                db.execute(f"DROP TABLE IF EXISTS {db.relation('latest_runs', META)}")
                history = State(db, schema=META, target_schema=TARGET)
                from_history = median_seconds(history.last_runs, runs)
                upgrade = median_seconds(lambda: Project(root).refresh(), 1)

                def no_op() -> None:
                    project = Project(root)
                    results = project.refresh()
                    project.close()
                    if [r.status for r in results] != ["up_to_date"] * MODELS:
                        raise SystemExit(f"a no-op refresh did something: {results}")

                refresh = median_seconds(no_op, runs)
                hand = BY_HAND[engine].format(runs=runs_table, target=TARGET)
                by_hand = median_seconds(lambda sql=hand: db.fetchall(sql), runs)
                expected = dict(db.fetchall(hand))
                latest = {m: r.run_id for m, r in State(db, schema=META, target_schema=TARGET)
                          .last_runs().items()}
                if latest != expected:
                    raise SystemExit(f"latest_runs differs from the history: {latest} "
                                     f"!= {expected}; no time is printed")
                print(f"[{engine}] {total:>9,} runs ({len(expected)} models): no-op refresh "
                      f"{refresh * 1000:7.1f} ms; state from the history "
                      f"{from_history * 1000:8.1f} ms; latest per model by hand "
                      f"{by_hand * 1000:7.1f} ms; upgrade {upgrade * 1000:8.1f} ms (once)")
            bench_results(engine, first, sizes, runs)
        finally:
            first.close()
            if engine == "postgres":
                with Project(root) as project:
                    for schema in (TARGET, META):
                        project.engine.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def bench_results(engine: str, project, sizes: list[int], runs: int) -> None:
    import pandas as pd

    from featurekit.monitoring.results import CheckResult, Results

    db = project.engine
    results = Results(db)
    results.ensure()
    table = results.table("monitor_results")
    monitors = [f"mon_{i}" for i in range(5)]
    added = 0
    for size in filter(None, sizes):
        if size > added:
            db.execute(f"INSERT INTO {table} (run_id, target_schema, monitor, check_name, "
                       "column_name, test, status, statistic, as_of, evaluated_at) "
                       + RESULTS.format(target=db.schema, rows=ROWS[engine].format(
                           start=added, stop=size)))
            added = size
            if engine == "postgres":
                db.execute(f"ANALYZE {table}")
        # Rows written around featurekit: monitor_latest is rebuilt from them, as it is when
        # an older featurekit's view is turned into the table.
        db.execute(f"DROP TABLE IF EXISTS {results.table('monitor_latest')}")
        upgrade = median_seconds(Results(db).ensure, 1)
        rerun_at = db.fetchall(f"SELECT max(as_of) FROM {table}")[0][0]
        rerun = [CheckResult("mon_0", "drift", f"col_{c}", "psi", "ok", 0.5, as_of=rerun_at,
                             evaluated_at=rerun_at, run_id="rerun") for c in range(25)]

        def by_hand() -> pd.DataFrame:
            every = db.fetch_df(
                f"SELECT monitor, check_name, column_name, as_of, statistic FROM {table} "
                f"WHERE target_schema = '{db.schema}' AND monitor = 'mon_0' ORDER BY as_of")
            return every.groupby(["check_name", "column_name"]).tail(200)

        status = median_seconds(lambda: results.latest_status(monitors), runs)
        last = median_seconds(lambda: results.last_run(monitors), runs)
        append = median_seconds(lambda found=rerun: results.append(found), runs)
        history = median_seconds(lambda: results.history(["mon_0"], 200), runs)
        hand = median_seconds(by_hand, runs)
        newest_sql = NEWEST_BY_HAND[engine].format(results=table, target=db.schema)
        newest_by_hand = median_seconds(lambda sql=newest_sql: db.fetchall(sql), runs)
        mine = sorted((r["column"], r["as_of"], r["statistic"])
                      for r in results.history(["mon_0"], 200))
        theirs = sorted(by_hand()[["column_name", "as_of", "statistic"]].itertuples(
            index=False, name=None))
        if mine != theirs or not mine:
            raise SystemExit("the history differs from the newest 200 points read by hand; "
                             "no time is printed")
        newest = {(m, c, col): s for m, c, col, s in db.fetchall(newest_sql)}
        scheduled = dict(db.fetchall(
            f"SELECT monitor, max(evaluated_at) FROM {table} WHERE target_schema = "
            f"'{db.schema}' AND run_id NOT LIKE 'backfill-%' AND run_id NOT LIKE 'asof-%' "
            "GROUP BY monitor"))
        if results.last_run(monitors) != scheduled:
            raise SystemExit("the last scheduled runs differ from those read by hand; "
                             "no time is printed")
        if results.latest_status(monitors) != newest:
            raise SystemExit("monitor_latest differs from the newest rows read by hand; "
                             "no time is printed")
        print(f"[{engine}] {size:>9,} result rows: latest status {status * 1000:6.1f} ms "
              f"({len(newest)} checks; by hand {newest_by_hand * 1000:6.1f} ms); last run "
              f"{last * 1000:6.1f} ms; rerun of 25 results {append * 1000:6.1f} ms; history "
              f"of one monitor {history * 1000:6.1f} ms ({len(mine):,} rows), all its rows by "
              f"hand {hand * 1000:7.1f} ms; upgrade {upgrade * 1000:7.1f} ms (once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="0,100000,1000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="duckdb,postgres")
    args = parser.parse_args()
    sizes = [int(size) for size in args.history.split(",")]
    for engine in args.engines.split(","):
        bench(engine.strip(), sizes, args.runs)


if __name__ == "__main__":
    main()
