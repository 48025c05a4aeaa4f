"""The example project refreshed on in-process Spark, and how much of it is JVM start-up.

    python benchmarks/bench_example_spark.py [--rounds 1]

Each round, in fresh processes, one after the other:
  refresh    ``featurekit refresh --target spark --all`` in a copy of the repository (its
             tracked files only) with no ``.featurekit/``: an empty warehouse and metastore
  again      the same command once more in that copy (warehouse and metastore exist)
  session    a bare ``SparkSession.builder...getOrCreate()`` configured as featurekit's
             target is (master, Hive catalog in an embedded Derby metastore, the target's
             conf) plus a first catalog call (``SHOW DATABASES``), on a new warehouse: the
             start-up every ``--target spark`` command pays before any model runs
Times are wall seconds of the whole process (interpreter start and imports included); the
load average is printed with them (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SESSION = """
import sys, time
started = time.perf_counter()
from pyspark.sql import SparkSession
warehouse = sys.argv[1]
builder = (SparkSession.builder.master("local[*]").appName("featurekit")
           .config("spark.sql.warehouse.dir", warehouse)
           .config("spark.sql.catalogImplementation", "hive")
           .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                   f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true")
           .config("spark.ui.enabled", "false")
           .config("spark.sql.shuffle.partitions", "8"))
spark = builder.getOrCreate()
session = time.perf_counter() - started
spark.sql("SHOW DATABASES").collect()
print(f"{session:.3f} {time.perf_counter() - started:.3f}")
"""


def copy_repo(into: Path) -> Path:
    """The repository's tracked files (no .featurekit/, no DuckDB file) under ``into``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return into


def timed(args: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in [str(REPO), os.environ.get("PYTHONPATH")] if p)}
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                 f"{done.stderr[-3000:]}")
    return seconds, done.stdout


def one_round() -> dict[str, float]:
    refresh = [sys.executable, "-m", "featurekit", "refresh", "--target", "spark", "--all"]
    with tempfile.TemporaryDirectory(prefix="fk_example_spark_") as tmp:
        project = copy_repo(Path(tmp) / "repo")
        first, output = timed(refresh, project)
        again, _ = timed(refresh, project)
        warehouse = Path(tmp) / "bare"
        warehouse.mkdir()
        _, shown = timed([sys.executable, "-c", SESSION, str(warehouse)], Path(tmp))
    session, catalog = (float(x) for x in shown.split())
    print(output.rstrip().splitlines()[-1] if output.strip() else "")
    return {"refresh": first, "again": again, "session": session, "catalog": catalog}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    rounds = [one_round() for _ in range(args.rounds)]
    med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(f"median of {len(rounds)} round(s), wall seconds of a fresh process:")
    print(f"  refresh --target spark --all, clean warehouse   {med['refresh']:7.2f} s")
    print(f"  the same again (warehouse and metastore exist)  {med['again']:7.2f} s")
    print(f"  bare SparkSession getOrCreate()                 {med['session']:7.2f} s")
    print(f"  ... + first catalog call (Hive/Derby metastore) {med['catalog']:7.2f} s "
          f"({med['catalog'] / med['refresh']:.0%} of the clean refresh)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
