"""Monitor a 25-column prediction log: featurekit on DuckDB and PostgreSQL vs Evidently.

    python benchmarks/bench_monitor.py [--rows 1000000] [--runs 3] [--big-rows 10000000]
        [--engines duckdb,postgres] [--evidently-python /path/to/venv/bin/python]

The log has 20 numeric and 5 categorical columns plus a score; the current window is shifted
on some columns. The monitor runs `test: drift` on every column and PSI on the score, with a
fixed reference (its statistics are stored by the first run, as in production; the first run
is reported separately). Each measurement runs in its own process and reports its peak RSS.

Evidently (its default DataDriftPreset, on the same data in pandas) runs in its own virtual
environment, never as a project dependency:

    python -m venv /tmp/evvenv && /tmp/evvenv/bin/pip install evidently==0.7.23 'pandas<3' pyarrow

(evidently 0.7.23 does not import with pandas 3.) Without --evidently-python it is skipped.
Targets: DuckDB >= 50x faster than Evidently with >= 10x lower peak memory; a 10M-row current
window under 30 s on DuckDB and under 3 minutes on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

NUMERIC, CATEGORICAL = 20, 5
MONITOR = """
source: predictions_bench
timestamp: predicted_at
reference: {start: 2024-01-01, end: 2024-02-01}
current: {start: 2024-02-01, end: 2024-03-01}
checks:
  - {test: drift, columns: all, exclude: [prediction_id, score]NUMERIC_TEST}
  - {column: score, test: psi}
"""


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


def project_dir(engine: str, schema: str, numeric_test: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"fk_bench_{engine}_"))
    (root / "models_sql").mkdir()
    (root / "monitors").mkdir()
    option = f", numeric_test: {numeric_test}" if numeric_test != "default" else ""
    (root / "monitors" / "bench.yml").write_text(MONITOR.replace("NUMERIC_TEST", option))
    if engine == "duckdb":
        output = f"type: duckdb\n      path: {root / 'bench.duckdb'}"
    else:
        dsn = os.environ.get("FEATUREKIT_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
        from urllib.parse import urlsplit

        url = urlsplit(dsn)
        output = (f"type: postgres\n      host: {url.hostname}\n      port: {url.port or 5432}\n"
                  f"      user: {url.username or 'postgres'}\n"
                  f"      password: '{url.password or ''}'\n"
                  f"      dbname: {url.path.lstrip('/') or 'postgres'}\n      schema: {schema}")
    (root / "profiles.yml").write_text(
        f"featurekit:\n  target: b\n  outputs:\n    b:\n      {output}\n"
        f"      metadata_schema: {schema}_meta\n")
    return root


def load_child(engine: str, data: Path, root: Path) -> dict:
    """In this process: load the Parquet file into the engine (as a prediction log)."""
    import pyarrow.parquet as pq

    from featurekit.project import Project

    with Project(root) as project:
        started = time.perf_counter()
        if engine == "duckdb":
            project.engine.execute(
                f"CREATE TABLE {project.engine.relation('predictions_bench')} AS "
                f"SELECT * FROM read_parquet(?)", [str(data)])
        else:
            project.engine.load_arrow(pq.read_table(data), "predictions_bench")
        return {"rows": project.engine.count("predictions_bench"),
                "load_s": time.perf_counter() - started}


def run_child(root: Path, runs: int) -> dict:
    """In a fresh process: run the monitor; the first run also stores the reference."""
    import resource

    from featurekit.project import Project

    times, statuses = [], {}
    with Project(root) as project:
        for _ in range(runs + 1):
            started = time.perf_counter()
            run = project.monitor(run_all=True)
            times.append(time.perf_counter() - started)
            statuses = {f"{r.check}/{r.column or ''}": r.status for r in run.results}
    return {"first_s": times[0], "times": times[1:], "checks": len(statuses),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "drifted": sorted(k for k, v in statuses.items() if v in ("warn", "error"))}


def drop_child(root: Path) -> dict:
    from featurekit.project import Project

    with Project(root) as project:
        if project.target.type == "postgres":
            for schema in (project.target.schema, project.target.metadata_schema):
                project.engine.execute(f"DROP SCHEMA IF EXISTS {project.engine.quote(schema)} "
                                       f"CASCADE")
    return {}


def measure(engine: str, data: Path, runs: int, numeric_test: str) -> dict:
    """Load in one process, monitor in another (its peak RSS is the monitor's alone)."""
    me = [sys.executable, __file__, "--child"]
    root = project_dir(engine, f"fk_bench_{os.getpid()}_{int(time.time())}", numeric_test)
    try:
        found = in_child([*me, "load", engine, str(data), str(root)])
        found.update(in_child([*me, "run", str(root), str(runs)]))
    finally:
        in_child([*me, "drop", str(root)])
    return {"engine": engine, **found}


EVIDENTLY = textwrap.dedent("""
    import json, resource, sys, time
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    frame = pd.read_parquet(sys.argv[1])
    cur = frame["predicted_at"] >= pd.Timestamp("2024-02-01")
    columns = [c for c in frame.columns if c not in ("prediction_id", "predicted_at")]
    reference, current = frame.loc[~cur, columns], frame.loc[cur, columns]
    del frame
    times = []
    for _ in range(int(sys.argv[2])):
        started = time.perf_counter()
        result = Report([DataDriftPreset()]).run(reference_data=reference, current_data=current)
        result.dict()
        times.append(time.perf_counter() - started)
    print(json.dumps({"times": times,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def generate_in_child(rows_ref: int, rows_cur: int, path: Path) -> None:
    # Linux keeps a process's peak RSS across fork + exec: a parent that held the generated
    # data would inflate every measurement after it. The parent stays small.
    in_child([sys.executable, __file__, "--child", "generate", str(rows_ref), str(rows_cur),
              str(path)])


def in_child(args: list[str]) -> dict:
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per window")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-rows", type=int, default=10_000_000,
                        help="current-window rows of the large run (0 to skip)")
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--evidently-python", default=None)
    parser.add_argument("--evidently-runs", type=int, default=1)
    parser.add_argument("--data-dir", default=tempfile.gettempdir())
    parser.add_argument("--numeric-test", default="default",
                        help="drift test for numeric columns (default: the library's, psi, which "
                             "reads only the current window once the reference is stored; "
                             "wasserstein = Evidently's choice)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            found = {"path": str(generate(int(rest[0]), int(rest[1]), Path(rest[2])))}
        elif kind == "load":
            found = load_child(rest[0], Path(rest[1]), Path(rest[2]))
        elif kind == "run":
            found = run_child(Path(rest[0]), int(rest[1]))
        else:
            found = drop_child(Path(rest[0]))
        print(json.dumps(found))
        return
    folder = Path(args.data_dir)
    data = folder / f"fk_bench_{args.rows}.parquet"
    if not data.exists():
        print(f"generating {args.rows:,} + {args.rows:,} rows x 25 columns -> {data}")
        generate_in_child(args.rows, args.rows, data)
    results = {}
    print(f"numeric drift test: {args.numeric_test}")
    for engine in args.engines.split(","):
        results[engine] = measure(engine, data, args.runs, args.numeric_test)
        report(engine, results[engine])
    if args.evidently_python:
        evidently = in_child([args.evidently_python, "-c", EVIDENTLY, str(data),
                              str(args.evidently_runs)])
        median = statistics.median(evidently["times"])
        print(f"evidently DataDriftPreset: median {median:.1f} s, peak RSS "
              f"{evidently['peak_rss_mb']:,.0f} MB")
        for engine, found in results.items():
            fk = statistics.median(found["times"])
            print(f"  {engine}: {median / fk:.0f}x faster, "
                  f"{evidently['peak_rss_mb'] / found['peak_rss_mb']:.1f}x less memory "
                  f"(first run with reference: {median / found['first_s']:.0f}x)")
    if args.big_rows:
        big = folder / f"fk_bench_{args.rows}_{args.big_rows}.parquet"
        if not big.exists():
            print(f"generating {args.rows:,} + {args.big_rows:,} rows -> {big}")
            generate_in_child(args.rows, args.big_rows, big)
        for engine in args.engines.split(","):
            found = measure(engine, big, 1, args.numeric_test)
            report(f"{engine} ({args.big_rows:,}-row current window)", found)


def report(label: str, found: dict) -> None:
    times = found["times"]
    print(f"{label}: {found['rows']:,} rows loaded in {found['load_s']:.1f} s; monitor median "
          f"{statistics.median(times):.2f} s over {len(times)} runs (first run, computing the "
          f"stored reference: {found['first_s']:.2f} s); peak RSS of the monitor process "
          f"{found['peak_rss_mb']:,.0f} MB; {found['checks']} checks, drifted: "
          f"{', '.join(found['drifted']) or 'none'}")


if __name__ == "__main__":
    main()
