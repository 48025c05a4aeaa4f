"""``log_predictions`` rows/s against a hand-written log, on DuckDB and PostgreSQL.

    python benchmarks/bench_logs.py [--rows 1000000] [--runs 3] [--engines duckdb,postgres]

Each run, for featurekit and then for the baseline (so background load hits both alike):
1. a batch of ``--rows`` predictions into a new table;
2. another batch of ``--rows`` appended to that table (a ``--rows``-row log).
Both batches carry their own ``prediction_id`` (uuid4 hex) and ``predicted_at``; featurekit
gets ``version="v1"``, the baseline a ``model_version`` column.

The baseline is what a user writes by hand: a table with a PRIMARY KEY on prediction_id, the
batch loaded into a staging table (PostgreSQL: psycopg ``COPY``; DuckDB: the registered Arrow
table) and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``. Before any time is printed,
both logs are checked: 2 x rows rows, no prediction_id twice, a retried batch writes nothing.
On PostgreSQL two concurrent featurekit writers with overlapping batches are also checked
(and timed). Prints medians of the runs, the ratio to the baseline, and peak RSS.

PostgreSQL comes from FEATUREKIT_PG_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

DSN = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SCHEMA = "fk_bench_logs"
BASELINE = "hand_log"
COLUMNS = (
    "prediction_id TEXT PRIMARY KEY, model_version TEXT, predicted_at TIMESTAMPTZ, "
    "customer_id BIGINT, merchant_id BIGINT, amount DOUBLE PRECISION, "
    "spend_7d DOUBLE PRECISION, channel TEXT, score DOUBLE PRECISION"
)


def project_dir(root: Path) -> Path:
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(DSN)
    (root / "models_sql").mkdir(parents=True)
    (root / "profiles.yml").write_text(
        "featurekit:\n  target: duckdb\n  outputs:\n"
        f"    duckdb: {{type: duckdb, path: {root / 'bench.duckdb'}}}\n"
        f"    postgres: {{type: postgres, host: '{dsn.get('host', '127.0.0.1')}', "
        f"port: {dsn.get('port', 5432)}, user: '{dsn.get('user', 'postgres')}', "
        f"password: '{dsn.get('password', '')}', dbname: '{dsn.get('dbname', 'postgres')}', "
        f"schema: {SCHEMA}}}\n"
    )
    return root


def batch(n: int, seed: int) -> pd.DataFrame:
    """``n`` predictions with uuid4 hex ids, as a model server would log them."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "prediction_id": [uuid.uuid4().hex for _ in range(n)],
        "predicted_at": pd.Timestamp("2024-03-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
        "customer_id": rng.integers(0, 100_000, n), "merchant_id": rng.integers(0, 10_000, n),
        "amount": rng.random(n) * 500, "spend_7d": rng.random(n) * 1000,
        "channel": rng.choice(["pos", "online", "atm"], n), "score": rng.random(n),
    })


def hand_frame(frame: pd.DataFrame) -> pa.Table:
    """The baseline's rows: the batch with a model_version column, in the table's order."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.add_column(1, "model_version", pa.array(["v1"] * len(frame)))


# -- the baseline, written the way a user would ---------------------------------------------
class PostgresBaseline:
    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(DSN, autocommit=True)
        self.conn.execute(f"SET search_path = {SCHEMA}")

    def create(self) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {BASELINE}")
        self.conn.execute(f"CREATE TABLE {BASELINE} ({COLUMNS})")

    def log(self, rows: pa.Table) -> int:
        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer, pacsv.WriteOptions(include_header=False))
        with self.conn.transaction():
            self.conn.execute(f"CREATE TEMP TABLE staging (LIKE {BASELINE}) ON COMMIT DROP")
            with self.conn.cursor() as cur, cur.copy(
                    "COPY staging FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getbuffer())
            return self.conn.execute(f"INSERT INTO {BASELINE} SELECT * FROM staging "
                                     "ON CONFLICT (prediction_id) DO NOTHING").rowcount

    def counts(self) -> tuple[int, int]:
        return self.conn.execute(
            f"SELECT count(*), count(DISTINCT prediction_id) FROM {BASELINE}").fetchone()


class DuckDBBaseline:
    def __init__(self, conn: Any) -> None:
        self.conn = conn  # the project's own connection: one writer per DuckDB file

    def create(self) -> None:
        self.conn.execute(f"CREATE OR REPLACE TABLE {BASELINE} ({COLUMNS})")

    def log(self, rows: pa.Table) -> int:
        self.conn.register("staging", rows)
        try:
            return self.conn.execute(f"INSERT INTO {BASELINE} SELECT * FROM staging "
                                     "ON CONFLICT DO NOTHING").fetchone()[0]
        finally:
            self.conn.unregister("staging")

    def counts(self) -> tuple[int, int]:
        return self.conn.execute(
            f"SELECT count(*), count(DISTINCT prediction_id) FROM {BASELINE}").fetchone()


# -- measuring ------------------------------------------------------------------------------
def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def featurekit_counts(project: Any) -> tuple[int, int]:
    relation = project.engine.relation("predictions_bench")
    return project.engine.fetchall(
        f"SELECT count(*), count(DISTINCT prediction_id) FROM {relation}")[0]


def check(label: str, counts: tuple[int, int], expected: int) -> None:
    if tuple(counts) != (expected, expected):
        raise SystemExit(f"{label}: {counts[0]} rows, {counts[1]} distinct ids; "
                         f"expected {expected} of each")


def bench_engine(project: Any, name: str, n: int, runs: int) -> None:
    engine = project.engine
    baseline = PostgresBaseline() if name == "postgres" else DuckDBBaseline(engine.conn)
    first, second = batch(n, 1), batch(n, 2)
    hand_first, hand_second = hand_frame(first), hand_frame(second)
    times: dict[str, list[float]] = {k: [] for k in ("fk_new", "fk_append", "hand_new",
                                                      "hand_append")}
    for _ in range(runs):
        engine.execute(f"DROP TABLE IF EXISTS {engine.relation('predictions_bench')}")
        t, written = timed(lambda: project.log_predictions("bench", first, version="v1"))
        times["fk_new"].append(t)
        t, appended = timed(lambda: project.log_predictions("bench", second, version="v1"))
        times["fk_append"].append(t)
        assert written == appended == n, (written, appended)
        baseline.create()
        t, written = timed(lambda: baseline.log(hand_first))
        times["hand_new"].append(t)
        t, appended = timed(lambda: baseline.log(hand_second))
        times["hand_append"].append(t)
        assert written == appended == n, (written, appended)
    # Correctness before any figure: both logs hold each id once, and a retry adds nothing.
    check(f"{name} featurekit", featurekit_counts(project), 2 * n)
    check(f"{name} baseline", baseline.counts(), 2 * n)
    retried = project.log_predictions("bench", second, version="v1")
    if retried != 0 or baseline.log(hand_second) != 0:
        raise SystemExit(f"{name}: a retried batch wrote rows again")
    check(f"{name} featurekit after a retry", featurekit_counts(project), 2 * n)

    print(f"{name}, {n:,} rows per batch, medians of {runs} runs:")
    for case, label in (("new", "into a new table"), ("append", f"appended to a {n:,}-row log")):
        fk, hand = (statistics.median(times[f"{who}_{case}"]) for who in ("fk", "hand"))
        print(f"  {label:<32} featurekit {n / fk:>9,.0f} rows/s ({fk:5.2f} s)   "
              f"baseline {n / hand:>9,.0f} rows/s ({hand:5.2f} s)   "
              f"featurekit/baseline speed {hand / fk:4.2f}x", flush=True)
    if name == "postgres":
        concurrent_writers(project, n)


def concurrent_writers(project: Any, n: int) -> None:
    """Two featurekit processes' worth of writers, with overlapping batches, at once."""
    from featurekit.project import Project

    quarter = n // 4
    third = batch(n, 3)
    overlapping = [third.iloc[:n - quarter], third.iloc[quarter:]]  # n / 2 ids in both
    results: list[Any] = []

    def write(frame: pd.DataFrame) -> None:
        with Project(project.root, target="postgres") as other:
            results.append(other.log_predictions("bench", frame, version="v1"))

    threads = [threading.Thread(target=write, args=(f,)) for f in overlapping]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    expected = 2 * n + n
    check("postgres, two concurrent writers", featurekit_counts(project), expected)
    if sum(results) != n:
        raise SystemExit(f"two concurrent writers wrote {sum(results)} rows, expected {n}")
    print(f"  two concurrent writers, overlapping {n - quarter:,}-row batches into a "
          f"{2 * n:,}-row log: each id once, {n / seconds:,.0f} new rows/s ({seconds:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,postgres")
    args = parser.parse_args()
    from featurekit.project import Project

    with tempfile.TemporaryDirectory(prefix="fk_bench_logs_") as tmp:
        root = project_dir(Path(tmp))
        for name in args.engines.split(","):
            with Project(root, target=name) as project:
                try:
                    bench_engine(project, name, args.rows, args.runs)
                finally:
                    if name == "postgres":
                        project.engine.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
