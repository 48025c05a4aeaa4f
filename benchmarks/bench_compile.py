"""Time loading, parsing, DAG building and transpiling a generated 500-model project,
and generating its docs site (DAG layout, column lineage, compiled SQL, one index.html).

    python benchmarks/bench_compile.py [--models 500] [--runs 5] [--target-type both]

Models form chains and fan-ins over two seeds; each is a realistic aggregate with a CTE, a
join and window functions. ``--target-type`` (duckdb, postgres or both, the default) picks the
targets compiled for. Prints the median of the runs of load + parse + DAG + transpile
(target: under 1 s for 500 models), then of the same plus the checks ``featurekit compile``
runs (columns against the inputs; the target's parser on each model's SQL, which needs the
PostgreSQL target reachable: FEATUREKIT_PG_DSN's server), then of generating the docs site
(target: under 5 s for 500 models).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

MODEL = """/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: {kind}
refresh: 1h
ttl: 7d
description: Generated model {i}.
*/
WITH base AS (
    SELECT u.customer_id, u.feature_ts, u.amount{extra_cols}
    FROM {upstream} AS u
    {joins}
    WHERE u.amount > {threshold}
)
SELECT
    customer_id,
    CAST(date_trunc('day', feature_ts) AS TIMESTAMP) AS feature_ts,
    sum(amount) AS amount,
    count(*) AS n,
    avg(amount) AS avg_amount,
    max(amount) OVER (PARTITION BY customer_id ORDER BY date_trunc('day', feature_ts)) AS running
FROM base
GROUP BY customer_id, date_trunc('day', feature_ts), amount
"""


def generate(root: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    (root / "models_sql").mkdir(parents=True)
    (root / "seeds").mkdir()
    (root / "seeds" / "txns.csv").write_text("customer_id,feature_ts,amount\n1,2024-01-01,1\n")
    (root / "models_sql" / "sources.yml").write_text(
        "sources:\n  txns:\n    seed: seeds/txns.csv\n    timestamp: feature_ts\n"
    )
    from psycopg.conninfo import conninfo_to_dict

    pg = conninfo_to_dict(os.environ.get("FEATUREKIT_PG_DSN",
                                         "postgresql://postgres@127.0.0.1:5432/postgres"))
    (root / "profiles.yml").write_text(
        "featurekit:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: x.duckdb}\n"
        f"    pg: {{type: postgres, host: '{pg.get('host', '127.0.0.1')}', "
        f"port: {pg.get('port', 5432)}, user: '{pg.get('user', 'postgres')}', "
        f"password: '{pg.get('password', '')}', dbname: '{pg.get('dbname', 'postgres')}', "
        "schema: bench_compile}\n"
    )
    for i in range(count):
        if i < 10:
            upstream, parents = "txns", []
        elif i % 5 == 0:  # fan-in: join two to four earlier models
            parents = rng.sample(range(i), k=min(i, rng.randint(2, 4)))
            upstream = f"m{parents[0]}"
        else:  # chain: read the previous model
            upstream, parents = f"m{i - 1}", []
        joins = "\n    ".join(
            f"JOIN m{p} AS j{k} ON j{k}.customer_id = u.customer_id "
            f"AND j{k}.feature_ts = u.feature_ts"
            for k, p in enumerate(parents[1:])
        )
        extra = "".join(f", j{k}.n AS n{k}" for k in range(len(parents[1:])))
        (root / "models_sql" / f"m{i}.sql").write_text(MODEL.format(
            kind=rng.choice(["view", "table", "materialized_view"]), i=i, upstream=upstream,
            joins=joins, extra_cols=extra, threshold=rng.randint(0, 100),
        ))


def run_once(root: Path, target: str, check: bool) -> tuple[float, int]:
    from featurekit.project import Project

    started = time.perf_counter()
    with Project(root, target=target) as project:
        compiled = project.compile(check=check)
    return time.perf_counter() - started, len(compiled)


def docs_once(root: Path) -> tuple[float, float, dict]:
    """(seconds to load the project, seconds to generate its docs, the site's data)."""
    from featurekit.docsite.catalog import collect
    from featurekit.docsite.site import write_site
    from featurekit.project import Project

    started = time.perf_counter()
    project = Project(root, target="dev")
    loaded = time.perf_counter()
    data = collect(project)
    write_site(data, root / "target" / "docs")
    done = time.perf_counter()
    project.close()
    return loaded - started, done - loaded, data


def check_docs(data: dict, count: int) -> None:
    """The site documents every model, and lineage goes through a chain and a fan-in."""
    nodes = {n["id"]: n for n in data["nodes"]}
    assert len(nodes) == count + 1, len(nodes)
    columns = {c["name"]: c["upstream"] for c in nodes["m11"]["columns"]}
    assert columns["amount"] == [["m10", "amount"]], columns
    fan_in = {c["name"]: c["upstream"] for c in nodes["m15"]["columns"]}
    assert len(nodes["m15"]["depends_on"]) >= 2 and fan_in["n"] == [], fan_in
    assert not [n["id"] for n in nodes.values() if n.get("lineage_error")]
    assert all(edge[0] in nodes for edge in data["edges"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target-type", choices=["duckdb", "postgres", "both"], default="both")
    args = parser.parse_args()
    targets = {"duckdb": ["dev"], "postgres": ["pg"], "both": ["dev", "pg"]}[args.target_type]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root, args.models)
        run_once(root, "dev", check=False)  # warm imports so every run measures the same work
        medians = {}
        for target in targets:
            label = "duckdb" if target == "dev" else "postgres"
            for check, what in ((False, "load + parse + DAG + transpile"),
                                (True, "the same + column and target-parser checks")):
                times = []
                for _ in range(args.runs):
                    seconds, compiled = run_once(root, target, check)
                    times.append(seconds)
                if not check:
                    medians[label] = statistics.median(times)
                print(
                    f"compile {compiled} models -> {label:8s}: median "
                    f"{statistics.median(times):.3f} s (min {min(times):.3f}, max "
                    f"{max(times):.3f}, {args.runs} runs; {what})"
                )
        load_times, docs_times = [], []
        for _ in range(args.runs):
            load, docs, data = docs_once(root)
            check_docs(data, args.models)
            load_times.append(load)
            docs_times.append(docs)
        size = (root / "target" / "docs" / "index.html").stat().st_size
        print(
            f"docs generate {args.models} models: median {statistics.median(docs_times):.3f} s "
            f"(min {min(docs_times):.3f}, max {max(docs_times):.3f}, {args.runs} runs; "
            f"lineage + layout + compile + write, never refreshed; project load "
            f"{statistics.median(load_times):.3f} s more); index.html {size / 1e6:.1f} MB"
        )
        # On a busy machine absolute times stretch; the ratio to compiling stays comparable.
        if "duckdb" in medians:
            print(f"docs generate / compile (duckdb): "
                  f"{statistics.median(docs_times) / medians['duckdb']:.2f}x")


if __name__ == "__main__":
    main()
