"""How long ``import featurekit`` plus opening a project takes, in fresh processes.

    python benchmarks/bench_import.py [--runs 7] [--project .]

Each run is a new interpreter that times (wall and CPU) ``import featurekit`` and
``featurekit.Project(path)``, and lists which heavy modules that loaded. The interpreter's own
start-up (``python -c pass``) is measured alternately and printed for reference. For where the
time goes: ``python -X importtime -c "import featurekit; featurekit.Project('.')"``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HEAVY = ("sqlglot", "duckdb", "psycopg", "pandas", "pyarrow", "numpy", "scipy", "yaml", "rich",
         "click", "croniter")
PROBE = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
import featurekit
imported = time.perf_counter() - wall
featurekit.Project(sys.argv[1])
print(json.dumps({"import": imported, "wall": time.perf_counter() - wall,
                  "cpu": time.process_time() - cpu,
                  "heavy": sorted(m for m in {heavy} if m in sys.modules)}))
""".replace("{heavy}", repr(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--project", default=str(Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    runs, bare = [], []
    for _ in range(max(3, args.runs)):
        out = subprocess.run([sys.executable, "-c", PROBE, args.project], capture_output=True,
                             text=True, check=True)
        runs.append(json.loads(out.stdout))
        out = subprocess.run([sys.executable, "-c", "import time; print(time.process_time())"],
                             capture_output=True, text=True, check=True)
        bare.append(float(out.stdout))
    print(f"import featurekit + Project({args.project!r}), median of {len(runs)} fresh processes:")
    for key in ("import", "wall", "cpu"):
        print(f"  {key:<7} {statistics.median(r[key] for r in runs):.3f} s")
    print(f"  (interpreter start-up alone: {statistics.median(bare):.3f} s CPU)")
    print(f"  heavy modules loaded: {', '.join(runs[-1]['heavy']) or 'none'}")


if __name__ == "__main__":
    main()
