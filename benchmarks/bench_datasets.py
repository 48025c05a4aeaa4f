"""Saved training sets: ``verify`` against building (and saving) the set.

    python benchmarks/bench_datasets.py [--labels 1000000] [--runs 3] [--engines duckdb,postgres]

One feature view (100k customers x 20 rows over 100 days, ttl 7d, generated in the engine) and
a second one (10k merchants x 100 days, ttl 2d); 1M label rows (a DataFrame). Measured
alternately, median of ``--runs``:

* build: ``training_set(labels, features, save=NAME, overwrite=True)`` (join, hash, Parquet,
  manifest),
* verify: ``verify_training_set(NAME)`` (read Parquet, rebuild, hash, compare with the
  manifest); it must say identical before any time is printed,
* DuckDB only, a user's own check as the baseline: the same join written by hand as one
  ``ASOF JOIN`` query, compared with the saved file by ``DataFrame.equals``.

Prints the medians, verify / build (the issue asks < 2) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

BASE = pd.Timestamp("2024-01-01")
SPEND = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: table
ttl: 7d
*/
SELECT customer_id, feature_ts, spend_7d, txn_count_7d FROM spend_src
"""
MERCHANT = """/* featurekit
entity: merchant_id
timestamp: feature_ts
materialized: table
ttl: 2d
*/
SELECT merchant_id, feature_ts, fraud_rate_30d FROM merchant_src
"""
FEATURES = ["spend_7d.*", "merchant_risk.fraud_rate_30d"]
GENERATE = {
    "spend_src": "SELECT c AS customer_id, TIMESTAMP '2024-01-01' + (d * 5 + c % 5) * INTERVAL "
                 "'1 day' AS feature_ts, CAST((c * 7 + d * 13) % 1000 AS DOUBLE PRECISION) / 10 AS "
                 "spend_7d, CAST((c + d) % 50 AS BIGINT) AS txn_count_7d FROM "
                 "generate_series(0, 99999) AS a(c), generate_series(0, 19) AS b(d)",
    "merchant_src": "SELECT m AS merchant_id, TIMESTAMP '2024-01-01' + d * INTERVAL '1 day' "
                    "AS feature_ts, CAST((m * 3 + d) % 100 AS DOUBLE PRECISION) / 1000 AS "
                    "fraud_rate_30d FROM generate_series(0, 9999) AS a(m), "
                    "generate_series(0, 99) AS b(d)",
}
HAND_WRITTEN = """
SELECT l.*,
       CASE WHEN s.s_ts >= l.event_timestamp - INTERVAL 7 DAY THEN s.spend_7d END AS spend_7d,
       CASE WHEN s.s_ts >= l.event_timestamp - INTERVAL 7 DAY THEN s.txn_count_7d END
           AS txn_count_7d,
       CASE WHEN m.m_ts >= l.event_timestamp - INTERVAL 2 DAY THEN m.fraud_rate_30d END
           AS fraud_rate_30d
FROM (SELECT *, row_number() OVER () AS rn FROM labels_in) AS l
ASOF LEFT JOIN (SELECT customer_id, feature_ts AS s_ts, spend_7d, txn_count_7d
                FROM spend_7d) AS s
  ON s.customer_id = l.customer_id AND s.s_ts <= l.event_timestamp
ASOF LEFT JOIN (SELECT merchant_id, feature_ts AS m_ts, fraud_rate_30d FROM merchant_risk) AS m
  ON m.merchant_id = l.merchant_id AND m.m_ts <= l.event_timestamp
"""


def project_dir(root: Path, schema: str) -> Path:
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(os.environ.get(
        "FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    (root / "models_sql").mkdir(parents=True)
    (root / "models_sql" / "spend_7d.sql").write_text(SPEND)
    (root / "models_sql" / "merchant_risk.sql").write_text(MERCHANT)
    (root / "models_sql" / "sources.yml").write_text(
        "sources:\n  spend_src: {table: spend_src}\n  merchant_src: {table: merchant_src}\n")
    (root / "profiles.yml").write_text(
        "featurekit:\n  target: duckdb\n  outputs:\n"
        f"    duckdb: {{type: duckdb, path: {root / 'bench.duckdb'}}}\n"
        f"    postgres: {{type: postgres, host: '{dsn.get('host', '127.0.0.1')}', "
        f"port: {dsn.get('port', 5432)}, user: '{dsn.get('user', 'postgres')}', "
        f"password: '{dsn.get('password', '')}', dbname: '{dsn.get('dbname', 'postgres')}', "
        f"schema: {schema}, metadata_schema: {schema}_meta}}\n")
    return root


def labels_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "customer_id": rng.integers(0, 100_000, n),
        "merchant_id": rng.integers(0, 10_000, n),
        "event_timestamp": BASE + pd.to_timedelta(rng.integers(0, 100 * 86400, n), unit="s"),
        "is_fraud": rng.integers(0, 2, n),
    })


def setup(engine_name: str, root: Path):
    import featurekit

    schema = "fk_bench_datasets"
    project = featurekit.Project(project_dir(root, schema), target=engine_name)
    engine = project.engine
    if engine_name == "postgres":
        engine.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.execute(f"DROP SCHEMA IF EXISTS {schema}_meta CASCADE")
        engine.execute(f"CREATE SCHEMA {schema}")
    for name, sql in GENERATE.items():
        engine.execute(f"CREATE TABLE {engine.relation(name)} AS {sql}")
    results = project.refresh()
    assert {r.status for r in results} == {"success"}, results
    return project


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    value = action()
    return time.perf_counter() - start, value


def by_hand(project, labels: pd.DataFrame, path: Path) -> bool:
    """A user's own check: the hand-written join, compared with the saved file."""
    con = project.engine.conn  # DuckDB's connection: the user's own SQL
    con.register("labels_in", labels)
    try:
        rebuilt = con.execute(HAND_WRITTEN).df()
    finally:
        con.unregister("labels_in")
    rebuilt = rebuilt.sort_values("rn").drop(columns="rn").reset_index(drop=True)
    saved = pd.read_parquet(path)
    return bool(rebuilt.astype(saved.dtypes.to_dict()).equals(saved))


def bench(engine_name: str, n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = setup(engine_name, Path(tmp))
        labels = labels_frame(n)
        name = "bench_set"
        project.training_set(labels, FEATURES, save=name, overwrite=True)  # warm-up
        check = project.verify_training_set(name)
        assert check.identical, check
        path = project.root / project.dataset(name).path
        if engine_name == "duckdb":
            assert by_hand(project, labels, path), "hand-written join disagrees with the file"
        builds, verifies, hands = [], [], []
        for _ in range(runs):
            seconds, _ = timed(lambda: project.training_set(labels, FEATURES, save=name,
                                                            overwrite=True))
            builds.append(seconds)
            seconds, result = timed(lambda: project.verify_training_set(name))
            assert result.identical
            verifies.append(seconds)
            if engine_name == "duckdb":
                saved = project.root / project.dataset(name).path
                seconds, same = timed(lambda p=saved: by_hand(project, labels, p))
                assert same
                hands.append(seconds)
        build, verify = statistics.median(builds), statistics.median(verifies)
        print(f"{engine_name}: {n:,} labels, {check.rows_now:,} rows saved")
        print(f"  build (training_set save=)  median {build:6.2f} s  runs "
              f"{', '.join(f'{s:.2f}' for s in builds)}")
        print(f"  verify                      median {verify:6.2f} s  runs "
              f"{', '.join(f'{s:.2f}' for s in verifies)}")
        print(f"  verify / build              {verify / build:6.2f}  (must be < 2)")
        if hands:
            hand = statistics.median(hands)
            print(f"  by hand (ASOF SQL + equals) median {hand:6.2f} s; verify / by hand "
                  f"{verify / hand:.2f}")
        if engine_name == "postgres":
            project.engine.execute("DROP SCHEMA IF EXISTS fk_bench_datasets CASCADE")
            project.engine.execute("DROP SCHEMA IF EXISTS fk_bench_datasets_meta CASCADE")
        project.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="duckdb")
    args = parser.parse_args()
    for engine_name in args.engines.split(","):
        bench(engine_name, args.labels, args.runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
