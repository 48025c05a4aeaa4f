"""Drift over a 25-column prediction log: featurekit on DuckDB and PostgreSQL vs scipy.

    python benchmarks/bench_monitor.py [--rows 1000000] [--rounds 3] [--engines duckdb,postgres]
        [--numeric-test ks|wasserstein|psi] [--categorical-test chi2|jensen_shannon|psi]
        [--evidently-python /tmp/evvenv/bin/python] [--big-rows 0] [--ks-columns num_00,num_01]

--engines takes duckdb, postgres and spark (local[2], the log a Parquet table in the project's
warehouse; its scipy baseline reads the same Parquet file with DuckDB). With several engines,
each one's featurekit statistics must also equal the first engine's (to 1e-9).

The log has 20 numeric and 5 text columns; the reference window (January) and the current
window (February) hold --rows rows each; every fourth numeric column and one text column
shift. The monitor runs `test: drift` over the 25 columns with the given numeric and
categorical tests (default ks + chi2) against a fixed reference.

Every round measures, each in a fresh process and one after the other:
  first      featurekit's first run: computes the reference statistics (and stores them)
  scheduled  featurekit's scheduled run: the reference statistics are read from storage
  baseline   written the way a user would, independently of featurekit: both windows read
             into pandas/numpy (DuckDB: `.df()`; PostgreSQL: `pandas.read_sql`), then scipy
             per column (ks_2samp, wasserstein_distance / std, numpy deciles for PSI,
             chi2_contingency, jensenshannon)
  evidently  Evidently's DataDriftPreset with the same tests, on the windows read from the
             Parquet file (--evidently-rounds of the rounds, default 1: it takes minutes at a
             million rows), in its own virtualenv (never a project dependency):
                 python -m venv /tmp/evvenv
                 /tmp/evvenv/bin/pip install evidently==0.7.23 'pandas<3' pyarrow
Times are medians over the rounds, of the whole job in the process (imports included);
ratios are against the baseline measured in the same rounds. Before any time is printed,
featurekit's statistics are checked against the baseline's (KS bit for bit, the others to
1e-9). Peak memory is the peak RSS of the process and of the processes it started (on Spark,
its JVM, where the work is done) plus, on PostgreSQL, the peak RSS of the server
backends serving it (VmHWM in /proc, summed over backends; it includes the shared buffers a
backend touched).

--big-rows N adds one scheduled run with an N-row current window.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

NUMERIC, CATEGORICAL = 20, 5
REFERENCE = ("2024-01-01", "2024-02-01")
CURRENT = ("2024-02-01", "2024-03-01")
MONITOR = """
source: predictions_bench
timestamp: predicted_at
reference: {start: 2024-01-01, end: 2024-02-01}
current: {start: 2024-02-01, end: 2024-03-01}
checks:
  - {test: drift, columns: all, exclude: [prediction_id, score], numeric_test: NUMERIC_TEST,
     categorical_test: CATEGORICAL_TEST}
"""
# --ks-columns: a second drift check, KS on a few numeric columns (statistics keyed "ks:<col>")
KS_CHECK = "  - {test: drift, name: drift_ks, columns: [COLUMNS], numeric_test: ks}\n"
SPARK_CONF = {"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "6g"}
EVIDENTLY_METHOD = {"ks": "ks", "wasserstein": "wasserstein", "psi": "psi", "chi2": "chisquare",
                    "jensen_shannon": "jensenshannon"}


def generate(rows_ref: int, rows_cur: int, path: Path, seed: int = 0) -> Path:
    """Write the prediction log (reference in January, current in February) as Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n = rows_ref + rows_cur
    current = np.arange(n) >= rows_ref
    month = np.where(current, 29 * 86400, 31 * 86400)
    offset = (rng.random(n) * month).astype("int64")
    start = np.where(current, np.datetime64("2024-02-01", "s"), np.datetime64("2024-01-01", "s"))
    columns = {"prediction_id": np.arange(n), "predicted_at": start + offset.astype(
        "timedelta64[s]")}
    for i in range(NUMERIC):  # every fourth column is 30% larger in the current window
        values = rng.normal(5.0, 1.0 + i / 10, n) if i % 2 else rng.gamma(2.0, 10.0 + i, n)
        scale = np.where(current & (i % 4 == 0), 1.3, 1.0)
        columns[f"num_{i:02d}"] = (values * scale).round(4)
    for i in range(CATEGORICAL):
        levels = np.array([f"c{i}_{k}" for k in range(4 + 3 * i)])
        p = np.linspace(1, 2, len(levels))
        p /= p.sum()
        picks = rng.choice(len(levels), n, p=p)
        if i == 0:  # a new category in the current window
            picks = np.where(current & (rng.random(n) < 0.1), len(levels) - 1, picks)
        columns[f"cat_{i}"] = levels[picks]
    columns["score"] = np.clip(rng.beta(2, 8, n) + np.where(current, 0.05, 0.0), 0, 1).round(5)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def pg_dsn() -> str:
    return os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def project_dir(engine: str, schema: str, numeric_test: str, categorical_test: str,
                ks_columns: list[str]) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"fk_bench_{engine}_"))
    (root / "models_sql").mkdir()
    (root / "monitors").mkdir()
    (root / "monitors" / "bench.yml").write_text(
        MONITOR.replace("NUMERIC_TEST", numeric_test)
        .replace("CATEGORICAL_TEST", categorical_test)
        + (KS_CHECK.replace("COLUMNS", ", ".join(ks_columns)) if ks_columns else ""))
    if engine == "duckdb":
        output = f"type: duckdb\n      path: {root / 'bench.duckdb'}"
    elif engine == "spark":
        output = (f"type: spark\n      master: 'local[2]'\n      warehouse: {root / 'spark'}\n"
                  f"      conf: {json.dumps(SPARK_CONF)}")
    else:
        from urllib.parse import urlsplit

        url = urlsplit(pg_dsn())
        output = (f"type: postgres\n      host: {url.hostname}\n      port: {url.port or 5432}\n"
                  f"      user: {url.username or 'postgres'}\n"
                  f"      password: '{url.password or ''}'\n"
                  f"      dbname: {url.path.lstrip('/') or 'postgres'}\n      schema: {schema}")
    (root / "profiles.yml").write_text(
        f"featurekit:\n  target: b\n  outputs:\n    b:\n      {output}\n"
        f"      metadata_schema: {schema}_meta\n")
    return root


# -- children: each runs in its own process and prints one JSON line -------------------------
def load_child(engine: str, data: Path, root: Path) -> dict:
    """Load the Parquet file into the engine (as a prediction log)."""
    import pyarrow.parquet as pq

    from featurekit.project import Project

    with Project(root) as project:
        started = time.perf_counter()
        if engine == "duckdb":
            project.engine.execute(
                f"CREATE TABLE {project.engine.relation('predictions_bench')} AS "
                f"SELECT * FROM read_parquet(?)", [str(data)])
        elif engine == "spark":  # Spark reads the file itself (no rows through the driver)
            project.engine.execute(
                f"CREATE TABLE {project.engine.relation('predictions_bench')} USING parquet AS "
                f"SELECT * FROM parquet.`{data}`")
        else:
            project.engine.load_arrow(pq.read_table(data), "predictions_bench")
        return {"rows": project.engine.count("predictions_bench"),
                "load_s": time.perf_counter() - started}


def forget_child(root: Path) -> dict:
    """Delete the stored reference statistics, so that the next run is a first run."""
    from featurekit.project import Project

    with Project(root) as project:
        references = project.state_store.references  # the target, or its state store (Spark)
        if references.engine.relation_kind("monitor_references", references.schema):
            references.engine.run(f"DELETE FROM {references.relation}")
    return {}


def featurekit_child(root: Path, engine: str) -> dict:
    """One monitor run, timed from before featurekit is imported."""
    started = time.perf_counter()
    server = ServerPeak() if engine == "postgres" else None
    from featurekit.project import Project

    with Project(root) as project:
        run = project.monitor(run_all=True)
    seconds = time.perf_counter() - started
    def key(r: Any) -> str:
        return f"ks:{r.column}" if r.check == "drift_ks" else r.column

    found = {key(r): r.statistic for r in run.results if r.column is not None}
    drifted = sorted(key(r) for r in run.results
                     if r.column is not None and r.status in ("warn", "error"))
    return {"seconds": seconds, "statistics": found, "drifted": drifted, **peaks(server)}


def baseline_child(engine: str, root: Path, numeric_test: str, categorical_test: str,
                   data: Path, ks_columns: list[str]) -> dict:
    """scipy on both windows read into numpy, the way a user would write it."""
    started = time.perf_counter()
    server = ServerPeak() if engine == "postgres" else None
    import numpy as np
    import pandas as pd
    import scipy.stats
    from scipy.spatial.distance import jensenshannon

    def window(bounds: tuple[str, str]) -> pd.DataFrame:
        sql = (f"SELECT * FROM {{table}} WHERE predicted_at >= '{bounds[0]}' "
               f"AND predicted_at < '{bounds[1]}'")
        if engine in ("duckdb", "spark"):  # Spark's table is a copy of the Parquet file
            import duckdb

            if engine == "spark":
                with duckdb.connect() as con:
                    return con.execute(sql.format(table=f"read_parquet('{data}')")).df()
            with duckdb.connect(str(root / "bench.duckdb"), read_only=True) as con:
                return con.execute(sql.format(table="predictions_bench")).df()
        import sqlalchemy

        schema = schema_of(root)
        url = pg_dsn().replace("postgresql://", "postgresql+psycopg://", 1)
        with sqlalchemy.create_engine(url).connect() as con:
            return pd.read_sql(sql.format(table=f"{schema}.predictions_bench"), con)

    ref, cur = window(REFERENCE), window(CURRENT)
    read_s = time.perf_counter() - started

    def psi(r_counts: np.ndarray, c_counts: np.ndarray) -> float:
        p, q = r_counts / r_counts.sum(), c_counts / c_counts.sum()
        p, q = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
        return float(np.sum((q - p) * np.log(q / p)))

    found: dict[str, float] = {}
    for column in [c for c in ref.columns if c.startswith("num_")]:
        r, c = ref[column].dropna().to_numpy(), cur[column].dropna().to_numpy()
        if numeric_test == "ks":
            found[column] = float(scipy.stats.ks_2samp(r, c).statistic)
        elif numeric_test == "wasserstein":
            found[column] = float(scipy.stats.wasserstein_distance(r, c)
                                  / max(float(np.std(r)), 0.001))
        else:
            edges = np.quantile(r, np.arange(1, 10) / 10)
            found[column] = psi(np.bincount(np.searchsorted(edges, r, "right"), minlength=10),
                                np.bincount(np.searchsorted(edges, c, "right"), minlength=10))
    for column in ks_columns:
        found[f"ks:{column}"] = float(scipy.stats.ks_2samp(
            ref[column].dropna().to_numpy(), cur[column].dropna().to_numpy()).statistic)
    for column in [c for c in ref.columns if c.startswith("cat_")]:
        r_counts, c_counts = ref[column].value_counts(), cur[column].value_counts()
        table = pd.concat([r_counts, c_counts], axis=1).fillna(0).to_numpy().T
        if categorical_test == "chi2":
            found[column] = float(scipy.stats.chi2_contingency(table).statistic)
        elif categorical_test == "jensen_shannon":
            found[column] = float(jensenshannon(table[0] / table[0].sum(),
                                                table[1] / table[1].sum(), base=2))
        else:
            found[column] = psi(table[0], table[1])
    return {"seconds": time.perf_counter() - started, "read_s": read_s, "statistics": found,
            **peaks(server)}


EVIDENTLY = textwrap.dedent("""
    import json, resource, sys, time
    started = time.perf_counter()
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    frame = pd.read_parquet(sys.argv[1])
    cur = frame["predicted_at"] >= pd.Timestamp("2024-02-01")
    columns = [c for c in frame.columns if c.startswith(("num_", "cat_"))]
    reference, current = frame.loc[~cur, columns], frame.loc[cur, columns]
    del frame
    preset = DataDriftPreset(num_method=sys.argv[2], cat_method=sys.argv[3])
    Report([preset]).run(reference_data=reference, current_data=current).dict()
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def drop_child(root: Path) -> dict:
    from featurekit.project import Project

    with Project(root) as project:
        if project.target.type == "postgres":
            for schema in (project.target.schema, project.target.metadata_schema):
                project.engine.execute(f"DROP SCHEMA IF EXISTS {project.engine.quote(schema)} "
                                       f"CASCADE")
    return {}


def schema_of(root: Path) -> str:
    text = (root / "profiles.yml").read_text()
    return text.split("schema: ")[1].split()[0]


# -- memory -----------------------------------------------------------------------------------
class ServerPeak:
    """Peak RSS of the PostgreSQL backends serving this process, sampled every 0.1 s.

    Backends are found by the client ports of this process's TCP connections to the server;
    a backend's VmHWM is its own peak, so a sample taken any time before it exits is enough.
    """

    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(pg_dsn(), autocommit=True)
        self.port = int(self.conn.info.port)
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.done.wait(0.1):
            self._sample()

    def _sample(self) -> None:
        ports = _client_ports(self.port)
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s) "
                                 "AND pid <> pg_backend_pid()", [sorted(ports)]).fetchall()
        for (pid,) in rows:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peaks[pid] = max(self.peaks.get(pid, 0), int(line.split()[1]))

    def finish(self) -> float:
        self.done.set()
        self.thread.join()
        self.conn.close()
        return sum(self.peaks.values()) / 1024


def _client_ports(server_port: int) -> set[int]:
    sockets = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            sockets.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in sockets and int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def peaks(server: ServerPeak | None) -> dict:
    from process_memory import tree_peak_mb  # this process and Spark's JVM, when it started one

    found = {"peak_rss_mb": tree_peak_mb()}
    if server is not None:
        found["server_peak_mb"] = server.finish()
    return found


# -- the parent -------------------------------------------------------------------------------
def in_child(args: list[str]) -> dict:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(args[:4])}... failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def me(*args: str) -> list[str]:
    return [sys.executable, __file__, "--child", *args]


def check_statistics(engine: str, featurekit: dict, baseline: dict, exact: bool) -> None:
    """featurekit's statistics equal the baseline's, or the benchmark stops here."""
    wrong = []
    for column, expected in sorted(baseline.items()):
        got = featurekit.get(column)
        same = got == expected if exact and column.startswith("num_") else (
            got is not None and abs(got - expected) <= 1e-9 * max(1.0, abs(expected)))
        if not same:
            wrong.append(f"{column}: featurekit {got!r}, baseline {expected!r}")
    if wrong or len(featurekit) < len(baseline):
        sys.exit(f"{engine}: statistics differ from the baseline's:\n  " + "\n  ".join(wrong))


def measure(engine: str, data: Path, args: argparse.Namespace, evidently: str | None) -> dict:
    """All rounds on one engine: first run, scheduled run, baseline (and Evidently)."""
    schema = f"fk_bench_{os.getpid()}_{int(time.time())}"
    ks_columns = [c for c in args.ks_columns.split(",") if c]
    root = project_dir(engine, schema, args.numeric_test, args.categorical_test, ks_columns)
    tests = [args.numeric_test, args.categorical_test]
    found: dict[str, list[dict]] = {"first": [], "scheduled": [], "baseline": [],
                                    "evidently": []}
    try:
        loaded = in_child(me("load", engine, str(data), str(root)))
        for _ in range(args.rounds):
            in_child(me("forget", str(root)))
            found["first"].append(in_child(me("featurekit", str(root), engine)))
            found["scheduled"].append(in_child(me("featurekit", str(root), engine)))
            found["baseline"].append(in_child(me("baseline", engine, str(root), *tests, str(data),
                                                 args.ks_columns)))
            if evidently and len(found["evidently"]) < args.evidently_rounds:
                found["evidently"].append(in_child(
                    [evidently, "-c", EVIDENTLY, str(data),
                     *(EVIDENTLY_METHOD[t] for t in tests)]))
            for kind in ("first", "scheduled"):
                check_statistics(engine, found[kind][-1]["statistics"],
                                 found["baseline"][-1]["statistics"],
                                 exact=args.numeric_test == "ks")
    finally:
        in_child(me("drop", str(root)))
        shutil.rmtree(root, ignore_errors=True)
    return {"engine": engine, **loaded, **found}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def memory(runs: list[dict]) -> str:
    text = f"{median(runs, 'peak_rss_mb'):,.0f} MB"
    if "server_peak_mb" in runs[0]:
        total = statistics.median(r["peak_rss_mb"] + r["server_peak_mb"] for r in runs)
        text += f" + server {median(runs, 'server_peak_mb'):,.0f} MB = {total:,.0f} MB"
    return text


def total_memory(runs: list[dict]) -> float:
    return statistics.median(r["peak_rss_mb"] + r.get("server_peak_mb", 0.0) for r in runs)


def report(found: dict, args: argparse.Namespace, evidently: list[dict]) -> None:
    first, scheduled, base = found["first"], found["scheduled"], found["baseline"]
    rounds = len(first)
    print(f"\n{found['engine']}: {found['rows']:,} rows loaded in {found['load_s']:.1f} s; "
          f"median of {rounds} rounds, a fresh process per run; statistics equal the "
          f"baseline's ({'KS bit for bit, ' if args.numeric_test == 'ks' else ''}"
          f"the others to 1e-9)")
    b = median(base, "seconds")
    f, s = median(first, "seconds"), median(scheduled, "seconds")
    print(f"  {'':<34}{'first run':>14}{'scheduled run':>16}")
    print(f"  {'featurekit':<34}{f:>12.2f} s{s:>14.2f} s")
    print(f"  {'scipy baseline (read + compute)':<34}{b:>12.2f} s{b:>14.2f} s   "
          f"(reading the windows: {median(base, 'read_s'):.2f} s)")
    print(f"  {'featurekit vs baseline (time)':<34}{b / f:>12.2f} x{b / s:>14.2f} x   "
          f"(> 1: featurekit faster)")
    print(f"  peak memory: featurekit first {memory(first)}; scheduled {memory(scheduled)}; "
          f"baseline {memory(base)}")
    print(f"  featurekit vs baseline (memory): first {total_memory(base) / total_memory(first):.2f}"
          f" x, scheduled {total_memory(base) / total_memory(scheduled):.2f} x less")
    print("  per round (first / scheduled / baseline s): " + "; ".join(
        f"{a['seconds']:.1f} / {c['seconds']:.1f} / {d['seconds']:.1f}"
        for a, c, d in zip(first, scheduled, base)))
    print(f"  drifted columns: {', '.join(scheduled[-1]['drifted']) or 'none'}")
    if evidently:
        e = evidently
        em = median(e, "seconds")
        print(f"  Evidently DataDriftPreset ({len(e)} round(s)): {em:.2f} s, peak RSS "
              f"{median(e, 'peak_rss_mb'):,.0f} MB; featurekit {em / f:.1f} x (first) / "
              f"{em / s:.1f} x (scheduled) faster, "
              f"{total_memory(e) / total_memory(scheduled):.1f} x less memory (scheduled)")


def evidently_python(args: argparse.Namespace) -> str | None:
    candidate = args.evidently_python or "/tmp/evvenv/bin/python"
    if not Path(candidate).exists():
        print(f"Evidently: not installed ({candidate} not found); skipped. See the docstring "
              f"to install it in its own virtualenv.")
        return None
    probe = subprocess.run([candidate, "-c", "import evidently; print(evidently.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode:
        print(f"Evidently: not installed in {candidate}; skipped.")
        return None
    print(f"Evidently {probe.stdout.strip()} from {candidate}")
    return candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--numeric-test", default="ks", choices=["ks", "wasserstein", "psi"])
    parser.add_argument("--categorical-test", default="chi2",
                        choices=["chi2", "jensen_shannon", "psi"])
    parser.add_argument("--evidently-python", default=None,
                        help="python of a virtualenv with evidently (default /tmp/evvenv)")
    parser.add_argument("--evidently-rounds", type=int, default=1,
                        help="rounds with Evidently (minutes each at a million rows)")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--ks-columns", default="",
                        help="also KS drift on these numeric columns, e.g. num_00,num_01,num_02")
    parser.add_argument("--big-rows", type=int, default=0,
                        help="also one scheduled run with a current window of this many rows")
    parser.add_argument("--data-dir", default=tempfile.gettempdir())
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            found = {"path": str(generate(int(rest[0]), int(rest[1]), Path(rest[2])))}
        elif kind == "load":
            found = load_child(rest[0], Path(rest[1]), Path(rest[2]))
        elif kind == "forget":
            found = forget_child(Path(rest[0]))
        elif kind == "featurekit":
            found = featurekit_child(Path(rest[0]), rest[1])
        elif kind == "baseline":
            found = baseline_child(rest[0], Path(rest[1]), rest[2], rest[3], Path(rest[4]),
                                   [c for c in rest[5].split(",") if c])
        else:
            found = drop_child(Path(rest[0]))
        print(json.dumps(found))
        return
    folder = Path(args.data_dir)
    data = folder / f"fk_bench_{args.rows}.parquet"
    if not data.exists():
        print(f"generating {args.rows:,} + {args.rows:,} rows x 25 columns -> {data}")
        # in a child: Linux keeps a process's peak RSS across fork + exec, so a parent that
        # held the generated data would inflate every measurement after it
        in_child(me("generate", str(args.rows), str(args.rows), str(data)))
    evidently = None if args.no_evidently else evidently_python(args)
    print(f"drift over {NUMERIC} numeric columns ({args.numeric_test}) and {CATEGORICAL} text "
          f"columns ({args.categorical_test}), {args.rows:,} + {args.rows:,} rows; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    evidently_runs: list[dict] = []
    first_engine: dict = {}
    for engine in args.engines.split(","):
        # Evidently reads the Parquet file, not an engine: measured in the first engine's rounds
        found = measure(engine, data, args, None if evidently_runs else evidently)
        evidently_runs = evidently_runs or found["evidently"]
        if first_engine:  # every engine's featurekit statistics equal the first engine's
            check_statistics(f"{engine} vs {first_engine['engine']}",
                             found["scheduled"][-1]["statistics"],
                             first_engine["scheduled"][-1]["statistics"], exact=False)
            print(f"\n{engine}: featurekit's statistics equal {first_engine['engine']}'s "
                  f"(to 1e-9)")
        first_engine = first_engine or found
        report(found, args, evidently_runs)
    if args.big_rows:
        big = folder / f"fk_bench_{args.rows}_{args.big_rows}.parquet"
        if not big.exists():
            in_child(me("generate", str(args.rows), str(args.big_rows), str(big)))
        for engine in args.engines.split(","):
            big_args = argparse.Namespace(**{**vars(args), "rounds": 1})
            found = measure(engine, big, big_args, None)
            print(f"\n{engine}, {args.big_rows:,}-row current window (1 round):")
            report(found, big_args, [])
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
