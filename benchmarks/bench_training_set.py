"""Point-in-time training sets: featurekit against independently written baselines.

    python benchmarks/bench_training_set.py [--sizes 10m,1m] [--rounds 3]
        [--engines duckdb,postgres,spark] [--feast-python /tmp/feastvenv/bin/python] [--extras]

Sizes: ``10m`` = 100k entities x 100 days = 10M feature rows and 1M labels; ``1m`` = 1M feature
rows and 100k labels. One feature view ``spend_7d`` (3 features, ttl 7d). Every run is a **fresh
process** that reads the labels (a Parquet file) into a DataFrame, then starts the clock,
imports its library, connects, computes the training set into a pandas DataFrame and reports its
time, its peak RSS (with its JVM's on Spark) and a checksum; the parent adds the process's CPU
time (all threads; steadier than wall time when other work shares the machine). Imports read
bytecode as from an installed package (the untimed correctness run writes it). Cases run in
turns, round after round (the machine is shared: only ratios measured in the same run mean
much), and each figure is the median over the rounds (``--rounds 1``: one timed run per case,
for long Spark runs). Before any time is printed, every case's row count and checksum (per
feature: non-NULL count, sum, and sum weighted by the label id, so a value on the wrong row
shows) must equal the hand-written baseline's.

Baselines (written the way a user would, with plain duckdb / psycopg; none uses featurekit):

* DuckDB: one ``ASOF LEFT JOIN`` over the same table, ttl as a ``CASE`` (the best-known plan);
  the same query over a Parquet copy of the features; Feast 0.67's DuckDB offline store
  (``get_historical_features(...).to_df()``) in its own virtualenv when one is given/found.
* PostgreSQL: labels uploaded with COPY, then ``LEFT JOIN LATERAL (... ORDER BY ts DESC
  LIMIT 1)`` on the (entity, ts) index, labels visited in entity order (the best-known plan)
  or in their own order; fetched with COPY into pandas ("client"), or kept server-side with
  ``CREATE TEMP TABLE AS`` (no transfer: a lower bound).

* Spark (local[2], the features as Parquet, labels shipped from pandas with Arrow, result
  back with ``toPandas()``): a range join (``f.ts <= t AND f.ts >= t - ttl``) grouped per label
  with ``max_by(struct(...), f.ts)``; a union of labels and feature rows with a
  ``last(..., ignorenulls)`` window (the other candidate plan); Feast 0.67's Spark offline
  store in its own virtualenv when one is given/found. Every Spark case pays its own JVM
  start-up; the "import" column holds it (library import + SparkSession). Their "cpu s"
  column is the Python process's only: the JVM is never reaped by it, so its CPU is not
  counted (compare Spark cases by wall time).

``--extras`` adds the in-process figures of the old benchmark: three views, ``log_predictions``
throughput, ``online_features`` latency.

PostgreSQL comes from FEATUREKIT_PG_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from process_memory import tree_peak_mb

DSN = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DAYS = 100
FEATURES = ["spend_7d", "txn_count_7d", "avg_amount_7d"]
SIZES = {"10m": (100_000, 1_000_000), "1m": (10_000, 100_000), "100k": (1_000, 10_000)}
# entities, labels per size
SPEND = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: table
ttl: 7d
*/
SELECT customer_id, feature_ts, spend_7d, txn_count_7d, avg_amount_7d FROM spend_src
"""
PROFILE = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: table
*/
SELECT customer_id, feature_ts, age, tenure_days FROM profile_src
"""
MERCHANT = """/* featurekit
entity: merchant_id
timestamp: feature_ts
materialized: table
ttl: 2d
*/
SELECT merchant_id, feature_ts, fraud_rate_30d FROM merchant_src
"""

# -- the hand-written baselines ---------------------------------------------------------------
DUCKDB_ASOF = """
SELECT l.*,
       CASE WHEN f.feature_ts >= l.event_timestamp - INTERVAL 7 DAY THEN f.spend_7d END AS spend_7d,
       CASE WHEN f.feature_ts >= l.event_timestamp - INTERVAL 7 DAY THEN f.txn_count_7d END
           AS txn_count_7d,
       CASE WHEN f.feature_ts >= l.event_timestamp - INTERVAL 7 DAY THEN f.avg_amount_7d END
           AS avg_amount_7d
FROM labels AS l ASOF LEFT JOIN {features} AS f
  ON l.customer_id = f.customer_id AND l.event_timestamp >= f.feature_ts
"""
PG_LABELS = """
CREATE TEMP TABLE labels (label_id bigint, customer_id bigint, merchant_id bigint,
                          event_timestamp timestamp, is_fraud bigint)
"""
PG_LATERAL = """
SELECT l.*, f.spend_7d, f.txn_count_7d, f.avg_amount_7d
FROM {labels} AS l
LEFT JOIN LATERAL (
    SELECT spend_7d, txn_count_7d, avg_amount_7d FROM {schema}.spend_7d AS s
    WHERE s.customer_id = l.customer_id
      AND s.feature_ts <= l.event_timestamp
      AND s.feature_ts >= l.event_timestamp - INTERVAL '7 days'
    ORDER BY s.feature_ts DESC
    LIMIT 1
) AS f ON true
"""
ENTITY_ORDER = "(SELECT * FROM labels ORDER BY customer_id, event_timestamp)"
SPARK_RANGE = """
SELECT l.*, m.best.spend_7d, m.best.txn_count_7d, m.best.avg_amount_7d
FROM labels AS l LEFT JOIN (
    SELECT l.label_id,
           max_by(struct(f.spend_7d, f.txn_count_7d, f.avg_amount_7d), f.feature_ts) AS best
    FROM labels AS l JOIN features AS f
      ON f.customer_id = l.customer_id AND f.feature_ts <= l.event_timestamp
     AND f.feature_ts >= l.event_timestamp - INTERVAL 7 DAYS
    GROUP BY l.label_id
) AS m ON m.label_id = l.label_id
"""
SPARK_WINDOW = """
SELECT label_id, customer_id, merchant_id, event_timestamp, is_fraud,
       CASE WHEN hit.feature_ts >= event_timestamp - INTERVAL 7 DAYS THEN hit.spend_7d END
           AS spend_7d,
       CASE WHEN hit.feature_ts >= event_timestamp - INTERVAL 7 DAYS THEN hit.txn_count_7d END
           AS txn_count_7d,
       CASE WHEN hit.feature_ts >= event_timestamp - INTERVAL 7 DAYS THEN hit.avg_amount_7d END
           AS avg_amount_7d
FROM (
    SELECT *, last(f, true) OVER (PARTITION BY customer_id ORDER BY ts, is_label
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hit
    FROM (
        SELECT label_id, customer_id, merchant_id, event_timestamp, is_fraud,
               event_timestamp AS ts, 1 AS is_label,
               CAST(NULL AS STRUCT<feature_ts: TIMESTAMP_NTZ, spend_7d: DOUBLE,
                    txn_count_7d: BIGINT, avg_amount_7d: DOUBLE>) AS f
        FROM labels
        UNION ALL
        SELECT NULL, customer_id, NULL, NULL, NULL, feature_ts, 0,
               struct(feature_ts, spend_7d, CAST(txn_count_7d AS BIGINT), avg_amount_7d)
        FROM features
    ) AS u
) AS w
WHERE is_label = 1
"""

# case -> (engine, description); the first case of an engine is the reference for checksums
CASES = {
    "duckdb": {
        "hand_asof": "hand-written ASOF JOIN (duckdb) -> .df()",
        "featurekit_duckdb": "featurekit training_set (DuckDB)",
        "hand_asof_parquet": "hand-written ASOF JOIN over Parquet (duckdb) -> .df()",
        "feast_duckdb": "Feast 0.67 DuckDB offline store -> to_df()",
    },
    "postgres": {
        "hand_lateral_client": "hand-written LATERAL, entity order (psycopg) -> pandas",
        "featurekit_postgres": "featurekit training_set (PostgreSQL)",
        "hand_lateral_server": "hand-written LATERAL, entity order, server-side only",
        "hand_lateral_label_order": "hand-written LATERAL, label order -> pandas",
    },
    "spark": {
        "hand_spark_range": "hand-written range join + max_by (Spark SQL) -> toPandas()",
        "featurekit_spark": "featurekit training_set (Spark)",
        "hand_spark_window": "hand-written union + last-non-null window (Spark SQL)",
        "feast_spark": "Feast 0.67 Spark offline store -> to_df()",
    },
}
FEAST_CASES = ("feast_duckdb", "feast_spark")
SPARK_CONF = {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "8",
              "spark.ui.enabled": "false", "spark.driver.memory": "6g",
              "spark.sql.execution.arrow.pyspark.enabled": "true",
              "spark.sql.session.timeZone": "UTC"}


# -- worker: one case in a fresh process --------------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def checksum(frame: Any) -> dict[str, Any]:
    """Order-independent: per feature the non-NULL count, the sum, the label-id-weighted sum."""
    import numpy as np

    ids = frame["label_id"].to_numpy(dtype=np.float64)
    sums = {}
    for name in FEATURES:
        v = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        sums[name] = [int(np.count_nonzero(~np.isnan(v))), float(np.nansum(v)),
                      float(np.nansum(v * ids))]
    in_order = bool(np.array_equal(ids, np.arange(len(frame))))
    return {"rows": len(frame), "sums": sums, "in_order": in_order}


def run_featurekit(target: str):
    def run(labels: Any, data: Path, started: float) -> tuple[Any, float]:
        import featurekit

        imported = time.perf_counter() - started
        with featurekit.Project(data / "project", target=target) as project:
            if target == "spark":  # the JVM starts here: count it where the baselines do
                assert project.engine is not None
                imported = time.perf_counter() - started
            return project.training_set(labels, ["spend_7d.*"]), imported
    return run


def run_hand_asof(labels: Any, data: Path, started: float) -> tuple[Any, float]:
    import duckdb

    imported = time.perf_counter() - started
    with duckdb.connect(str(data / "project" / "bench.duckdb")) as con:
        con.register("labels", labels)
        return con.sql(DUCKDB_ASOF.format(features="spend_7d")).df(), imported


def run_hand_asof_parquet(labels: Any, data: Path, started: float) -> tuple[Any, float]:
    import duckdb

    imported = time.perf_counter() - started
    with duckdb.connect() as con:
        con.register("labels", labels)
        features = f"read_parquet('{data / 'spend_7d.parquet'}')"
        return con.sql(DUCKDB_ASOF.format(features=features)).df(), imported


def _pg_with_labels(labels: Any) -> Any:
    """A psycopg connection holding the labels in a temp table (COPY of a CSV rendering)."""
    import io

    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv

    conn = psycopg.connect(DSN, autocommit=True)
    conn.execute(PG_LABELS)
    buffer = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(labels, preserve_index=False), buffer,
                    pacsv.WriteOptions(include_header=False))
    with conn.cursor() as cur, cur.copy("COPY labels FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())
    conn.execute("ANALYZE labels")
    return conn


def _pg_fetch(conn: Any, sql: str) -> Any:
    import io

    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pacsv.read_csv(buffer).to_pandas()


def run_hand_lateral(labels_relation: str, fetch: bool):
    def run(labels: Any, data: Path, started: float) -> tuple[Any, float]:
        import psycopg  # noqa: F401 - timed like the other libraries

        imported = time.perf_counter() - started
        with _pg_with_labels(labels) as conn:
            sql = PG_LATERAL.format(labels=labels_relation, schema=schema(data))
            if fetch:
                return _pg_fetch(conn, sql), imported
            conn.execute(f"CREATE TEMP TABLE result AS {sql}")
            elapsed = time.perf_counter()
            frame = _pg_fetch(conn, "SELECT * FROM result")  # for the checksum, not timed
            return _Untimed(frame, time.perf_counter() - elapsed), imported
    return run


class _Untimed:
    """A result whose last ``seconds`` were spent only to checksum it."""

    def __init__(self, frame: Any, seconds: float):
        self.frame, self.seconds = frame, seconds


def run_feast(labels: Any, data: Path, started: float) -> tuple[Any, float]:
    import feast

    imported = time.perf_counter() - started
    store = feast.FeatureStore(repo_path=str(data / "feast"))
    job = store.get_historical_features(entity_df=labels,
                                        features=[f"spend_7d:{f}" for f in FEATURES])
    return job.to_df(), imported


def _spark_session() -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("bench")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def run_hand_spark(sql: str):
    def run(labels: Any, data: Path, started: float) -> tuple[Any, float]:
        spark = _spark_session()
        imported = time.perf_counter() - started
        spark.createDataFrame(labels).createOrReplaceTempView("labels")
        spark.read.parquet(str(data / "spend_7d.parquet")).createOrReplaceTempView("features")
        return spark.sql(sql).toPandas(), imported
    return run


def run_feast_spark(labels: Any, data: Path, started: float) -> tuple[Any, float]:
    import feast

    store = feast.FeatureStore(repo_path=str(data / "feast_spark"))
    imported = time.perf_counter() - started
    job = store.get_historical_features(entity_df=labels,
                                        features=[f"spend_7d:{f}" for f in FEATURES])
    return job.to_df(), imported


RUNNERS = {
    "featurekit_duckdb": run_featurekit("duckdb"),
    "featurekit_postgres": run_featurekit("postgres"),
    "hand_asof": run_hand_asof,
    "hand_asof_parquet": run_hand_asof_parquet,
    "feast_duckdb": run_feast,
    "featurekit_spark": run_featurekit("spark"),
    "hand_spark_range": run_hand_spark(SPARK_RANGE),
    "hand_spark_window": run_hand_spark(SPARK_WINDOW),
    "feast_spark": run_feast_spark,
    "hand_lateral_client": run_hand_lateral(ENTITY_ORDER, fetch=True),
    "hand_lateral_server": run_hand_lateral(ENTITY_ORDER, fetch=False),
    "hand_lateral_label_order": run_hand_lateral("labels", fetch=True),
}


def worker_main(case: str, data: Path) -> None:
    result = worker(case, data)
    print("RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # no interpreter teardown: driver and reader threads sometimes abort in it


def worker(case: str, data: Path) -> dict[str, Any]:
    import pandas as pd

    labels = pd.read_parquet(data / "labels.parquet")
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    frame, imported = RUNNERS[case](labels, data, started)
    seconds = time.perf_counter() - started
    if isinstance(frame, _Untimed):
        seconds -= frame.seconds
        frame = frame.frame
    # With Spark's JVM (a child process, where Spark does the work), read while it runs.
    return {"seconds": seconds, "import": imported, "rss": tree_peak_mb(),
            "rss_before": rss_before, **checksum(frame)}



# -- set-up ---------------------------------------------------------------------------------------
def series(n: int) -> str:
    """0..n-1 as column i, in scrambled order (as a GROUP BY leaves rows): neither engine nor
    pandas gets a table that happens to be sorted. 7919 is prime and n is 2^a 5^b: a bijection.
    """
    return (f"(SELECT (j * 7919) % {n} AS i FROM generate_series(CAST(0 AS BIGINT), {n - 1}) "
            f"AS s(j)) AS t")


def feature_sql(engine_type: str, entities: int, merchants: int) -> dict[str, str]:
    """The feature tables. Row i of spend_7d: entity i % n, day i / n, a pseudo-random second
    within that day, so (entity, time) is unique."""
    div = "//" if engine_type == "duckdb" else "/"  # integer division
    rows = entities * DAYS
    return {
        "spend_7d": (
            f"SELECT i % {entities} AS customer_id, TIMESTAMP '2024-01-01' + "
            f"(i {div} {entities}) * INTERVAL '1 day' + ((i * 7919) % 86400) "
            f"* INTERVAL '1 second' AS feature_ts, CAST(i % 997 AS DOUBLE PRECISION) * 0.5 AS "
            f"spend_7d, i % 31 AS txn_count_7d, CAST(i % 89 AS DOUBLE PRECISION) * 1.25 AS "
            f"avg_amount_7d FROM {series(rows)}"
        ),
        "profile": (
            f"SELECT i AS customer_id, TIMESTAMP '2023-01-01' + (i % 300) * INTERVAL '1 day' "
            f"AS feature_ts, 18 + i % 60 AS age, i % 3000 AS tenure_days FROM {series(entities)}"
        ),
        "merchant_risk": (
            f"SELECT i % {merchants} AS merchant_id, TIMESTAMP '2024-01-01' + "
            f"(i {div} {merchants}) * INTERVAL '1 day' AS feature_ts, "
            f"CAST(i % 101 AS DOUBLE PRECISION) / 1000 AS fraud_rate_30d "
            f"FROM {series(merchants * DAYS)}"
        ),
    }


def make_labels(n: int, entities: int, merchants: int, seed: int = 1) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, (DAYS + 5) * 86400, n)
    return pd.DataFrame({
        "label_id": np.arange(n),
        "customer_id": rng.integers(0, entities, n),
        "merchant_id": rng.integers(0, merchants, n),
        "event_timestamp": (pd.Timestamp("2024-01-01") + pd.to_timedelta(seconds, unit="s"))
        .astype("datetime64[us]"),
        "is_fraud": rng.integers(0, 2, n),
    })


def write_project(root: Path) -> None:
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(DSN)
    spark_conf = {k: v for k, v in SPARK_CONF.items() if k != "spark.master"}
    (root / "models_sql").mkdir(parents=True)
    (root / "models_sql" / "spend_7d.sql").write_text(SPEND)
    (root / "models_sql" / "profile.sql").write_text(PROFILE)
    (root / "models_sql" / "merchant_risk.sql").write_text(MERCHANT)
    (root / "models_sql" / "sources.yml").write_text(
        "sources:\n" + "".join(f"  {s}:\n    table: {s}\n"
                               for s in ("spend_src", "profile_src", "merchant_src")))
    (root / "profiles.yml").write_text(
        "featurekit:\n  target: duckdb\n  outputs:\n"
        f"    duckdb: {{type: duckdb, path: {root / 'bench.duckdb'}}}\n"
        f"    postgres: {{type: postgres, host: '{dsn.get('host', '127.0.0.1')}', "
        f"port: {dsn.get('port', 5432)}, user: '{dsn.get('user', 'postgres')}', "
        f"password: '{dsn.get('password', '')}', dbname: '{dsn.get('dbname', 'postgres')}', "
        f"schema: {schema(root.parent)}}}\n"
        f"    spark: {{type: spark, master: 'local[2]', warehouse: {root / 'spark'}, "
        f"schema: bench, conf: {json.dumps(spark_conf)}}}\n"
    )


def write_feast_repo(repo: Path, parquet: Path, spark: bool = False) -> None:
    repo.mkdir()
    if spark:
        conf = "".join(f"    {k}: '{v}'\n" for k, v in SPARK_CONF.items())
        offline = f"offline_store:\n  type: spark\n  spark_conf:\n{conf}"
        source = (f"SparkSource(name='spend', path={str(parquet)!r}, file_format='parquet', "
                  "timestamp_field='feature_ts')")
        imports = ("from feast.infra.offline_stores.contrib.spark_offline_store.spark_source "
                   "import SparkSource")
    else:
        offline = "offline_store:\n  type: duckdb\n"
        source = f"FileSource(path={str(parquet)!r}, timestamp_field='feature_ts')"
        imports = ""
    (repo / "feature_store.yaml").write_text(
        "project: bench\nregistry: registry.db\nprovider: local\n" + offline +
        "online_store:\n  type: sqlite\n  path: online.db\n"
        "entity_key_serialization_version: 3\n"
    )
    (repo / "features.py").write_text(f"""
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
{imports}

customer = Entity(name="customer_id", join_keys=["customer_id"])
source = {source}
spend_7d = FeatureView(
    name="spend_7d", entities=[customer], ttl=timedelta(days=7), source=source,
    schema=[Field(name="spend_7d", dtype=Float64), Field(name="txn_count_7d", dtype=Int64),
            Field(name="avg_amount_7d", dtype=Float64)],
)
""")


def set_up(data: Path, size: str, engines: list[str], feast_python: str | None) -> None:
    from featurekit.project import Project

    entities, n_labels = SIZES[size]
    merchants = max(10, entities // 10)
    make_labels(n_labels, entities, merchants).to_parquet(data / "labels.parquet")
    write_project(data / "project")
    if "spark" in engines:  # Spark reads the features from Parquet, written by DuckDB
        import duckdb

        with duckdb.connect() as con:
            con.execute(f"COPY ({feature_sql('duckdb', entities, merchants)['spend_7d']}) "
                        f"TO '{data / 'spend_7d.parquet'}' (FORMAT parquet)")
    for name in engines:
        started = time.perf_counter()
        if name == "spark":  # in a child: its JVM would hold the metastore the runs open
            subprocess.run([sys.executable, __file__, "--set-up-spark", "--data", str(data),
                            "--feast-python", feast_python or "none"], check=True)
            print(f"  spark: features loaded in {time.perf_counter() - started:.1f} s")
            continue
        with Project(data / "project", target=name) as project:
            engine = project.engine
            for view, select in feature_sql(engine.type, entities, merchants).items():
                relation = engine.relation(view)
                engine.execute(f"DROP TABLE IF EXISTS {relation}")
                engine.execute(f"CREATE TABLE {relation} AS {select}")
                if engine.type == "postgres":  # the unique index a refreshed view carries
                    entity = "merchant_id" if view == "merchant_risk" else "customer_id"
                    engine.execute(f"CREATE UNIQUE INDEX ON {relation} ({entity}, feature_ts)")
                    engine.execute(f"ANALYZE {relation}")
            if engine.type == "duckdb" and "spark" not in engines:
                parquet = data / "spend_7d.parquet"
                engine.execute(f"COPY (SELECT * FROM {engine.relation('spend_7d')}) "
                               f"TO '{parquet}' (FORMAT parquet)")
            if engine.type == "duckdb":
                if feast_python:
                    write_feast_repo(data / "feast", data / "spend_7d.parquet")
                    subprocess.run([feast_python, "-m", "feast.cli.cli", "apply"],
                                   cwd=data / "feast", check=True, capture_output=True)
        print(f"  {name}: features generated in {time.perf_counter() - started:.1f} s",
              flush=True)


def set_up_spark(data: Path, feast_python: str | None) -> None:
    """spend_7d on featurekit's Spark target as a refresh of the model leaves it (a version
    holding a copy of the Parquet file, checked unique, behind the model's view)."""
    from featurekit.project import Project

    with Project(data / "project", target="spark") as project:
        project.engine.replace_table(
            "spend_7d", f"SELECT * FROM parquet.`{data / 'spend_7d.parquet'}`",
            unique_key=["customer_id", "feature_ts"], time_column="feature_ts")
    if feast_python:
        write_feast_repo(data / "feast_spark", data / "spend_7d.parquet", spark=True)
        subprocess.run([feast_python, "-m", "feast.cli.cli", "apply"],
                       cwd=data / "feast_spark", check=True, capture_output=True)


# -- the parent: rounds of fresh processes ---------------------------------------------------------
def run_case(case: str, data: Path, feast_python: str | None) -> dict[str, Any]:
    python = feast_python if case in FEAST_CASES else sys.executable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]
        if p)}
    if case in FEAST_CASES:
        env.pop("PYTHONPATH")  # Feast's virtualenv, nothing of featurekit
    # Imports read bytecode, as from an installed package: the first (untimed) run writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([python, __file__, "--worker", case, "--data", str(data)],
                         capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"{case} failed:\n{out.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    # CPU of the whole process (all threads, start-up and label reading included): less
    # sensitive than wall time to other load on a shared machine.
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["rows"] != b["rows"]:
        return False
    for name in FEATURES:
        (na, sa, wa), (nb, sb, wb) = a["sums"][name], b["sums"][name]
        if na != nb or abs(sa - sb) > 1e-9 * max(1.0, abs(sb)) or \
                abs(wa - wb) > 1e-9 * max(1.0, abs(wb)):
            return False
    return True


def bench_size(size: str, engines: list[str], rounds: int, feast_python: str | None) -> None:
    entities, n_labels = SIZES[size]
    print(f"\n== {entities * DAYS:,} feature rows x {n_labels:,} labels "
          f"(ttl 7d), {rounds} rounds, a fresh process per run ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="fk_bench_") as tmp:
        data = Path(tmp)
        try:
            set_up(data, size, engines, feast_python)
            for engine in engines:
                bench_engine(engine, data, rounds, feast_python)
        finally:
            if "postgres" in engines:
                _drop_pg_schema(data)
    if feast_python is None and {"duckdb", "spark"} & set(engines):
        print(" Feast: not run: no virtualenv with it was found, or --feast-python none "
              "(create one: python -m venv /tmp/feastvenv && /tmp/feastvenv/bin/pip install "
              "'feast[duckdb,spark]==0.67.0')")


def bench_engine(engine: str, data: Path, rounds: int, feast_python: str | None) -> None:
    cases = [c for c in CASES[engine] if c not in FEAST_CASES or feast_python]
    print(f" {engine}: correctness (row count + checksum against {cases[0]})", flush=True)
    results = {case: [run_case(case, data, feast_python)] for case in cases}
    reference = results[cases[0]][0]
    for case in list(cases):
        first = results[case][0]
        ok = same(first, reference)
        in_order = first["in_order"] or not case.startswith("featurekit")
        order = "" if not case.startswith("featurekit") else (
            ", label order kept" if in_order else ", ORDER LOST")
        print(f"  {case:<26} {'OK' if ok else 'MISMATCH'}{order}", flush=True)
        if not (ok and in_order):
            print(f"   {case}: {first} vs {reference}; left out of timing")
            cases.remove(case)
    for n in range(rounds):  # in turns, the order rotating each round
        for case in cases[n % len(cases):] + cases[:n % len(cases)]:
            results[case].append(run_case(case, data, feast_python))
    report(engine, cases, {c: results[c][1:] for c in cases})


def report(engine: str, cases: list[str], results: dict[str, list[dict[str, Any]]]) -> None:
    med = {c: {k: statistics.median(r[k] for r in results[c])
               for k in ("seconds", "import", "rss", "rss_before", "cpu")} for c in cases}
    ours = f"featurekit_{engine}"
    print(f" {engine}: medians (time: fresh process, from before the library import to the "
          f"DataFrame; peak RSS of the process and its JVM, of which "
          f"~{med[ours]['rss_before']:.0f} MB "
          f"before the clock starts: interpreter, pandas, labels)")
    print(f"  {'case':<58} {'total s':>8} {'import':>7} {'cpu s':>7} {'peak MB':>8}  "
          f"featurekit / this")
    for case in cases:
        m = med[case]
        ratio = ""
        if case != ours and ours in med:
            ratio = (f"time {med[ours]['seconds'] / m['seconds']:.2f}, "
                     f"process CPU {med[ours]['cpu'] / m['cpu']:.2f}, "
                     f"peak RSS {med[ours]['rss'] / m['rss']:.2f}")
        print(f"  {CASES[engine][case]:<58} {m['seconds']:8.2f} {m['import']:7.2f} "
              f"{m['cpu']:7.2f} {m['rss']:8.0f}  {ratio}", flush=True)


def schema(data: Path) -> str:
    """The PostgreSQL schema of one run (runs at the same time must not share one)."""
    return "fk_bench_" + "".join(c for c in data.name.lower() if c.isalnum())


def _drop_pg_schema(data: Path) -> None:
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema(data)}" CASCADE')


# -- extras: in-process figures of other calls ---------------------------------------------------
def extras(engines: list[str], runs: int) -> None:
    import numpy as np
    import pandas as pd

    from featurekit.project import Project

    entities, n_labels = SIZES["1m"]
    print(f"\n== extras at {entities * DAYS:,} feature rows, {n_labels:,} labels ==")
    labels = make_labels(n_labels, entities, entities // 10)
    with tempfile.TemporaryDirectory(prefix="fk_bench_") as tmp:
        data = Path(tmp)
        set_up(data, "1m", engines, None)
        for name in engines:
            with Project(data / "project", target=name) as project:
                features = ["spend_7d.*", "profile.*", "merchant_risk.*"]
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    project.training_set(labels, features)
                    times.append(time.perf_counter() - started)
                print(f"  {name}: training_set, 3 views: {statistics.median(times):.2f} s")
                frame = pd.DataFrame({"customer_id": np.arange(n_labels) % entities,
                                      "score": np.random.default_rng(5).random(n_labels)})
                started = time.perf_counter()
                project.log_predictions("bench", frame, version="v1")
                seconds = time.perf_counter() - started
                print(f"  {name}: log_predictions, {n_labels:,} rows: {seconds:.2f} s")
                project.engine.execute(
                    f"DROP TABLE IF EXISTS {project.engine.relation('predictions_bench')}")
                if name == "postgres":
                    now = pd.Timestamp("2024-04-10")
                    lookups = []
                    for entity in np.random.default_rng(3).integers(0, entities, 1000):
                        started = time.perf_counter()
                        project.online_features(["spend_7d.*"], {"customer_id": [int(entity)]},
                                                now=now)
                        lookups.append(time.perf_counter() - started)
                    p50, p99 = np.percentile(np.array(lookups[50:]) * 1000, [50, 99])
                    print(f"  postgres: online_features, one entity: p50 {p50:.2f} ms, "
                          f"p99 {p99:.2f} ms")
        if "postgres" in engines:
            _drop_pg_schema(data)


def find_feast(given: str | None) -> str | None:
    if given == "none":
        return None
    for python in [given, "/tmp/feastvenv/bin/python"]:
        if python and shutil.which(python) and subprocess.run(
                [python, "-c", "import feast"], capture_output=True).returncode == 0:
            return python
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10m,1m", help="10m = 10M rows x 1M labels; 1m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--feast-python",
                        help="python of a virtualenv with feast[duckdb,spark] "
                             "('none': skip Feast)")
    parser.add_argument("--extras", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--set-up-spark", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.data)
        return
    if args.set_up_spark:
        set_up_spark(args.data, None if args.feast_python == "none" else args.feast_python)
        return
    engines = args.engines.split(",")
    feast_python = (find_feast(args.feast_python) if {"duckdb", "spark"} & set(engines)
                    else None)
    for size in args.sizes.split(","):
        bench_size(size, engines, max(1, args.rounds), feast_python)
    if args.extras:
        extras(engines, args.rounds)


if __name__ == "__main__":
    main()
