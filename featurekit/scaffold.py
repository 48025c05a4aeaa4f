"""``featurekit init``: a small project that refreshes out of the box."""

from __future__ import annotations

from pathlib import Path

from featurekit.errors import ConfigError

FILES = {
    "pyproject.toml": """\
[project]
name = "{name}"
version = "0.1.0"
dependencies = ["featurekit"]

[tool.featurekit]
models = "models_sql"
monitors = "monitors"
seeds = "seeds"
dialect = "duckdb"
profile = "featurekit"
""",
    "profiles.yml": """\
featurekit:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: featurekit.duckdb
    pg:
      type: postgres
      host: "{{ env_var('FEATUREKIT_PG_HOST', '127.0.0.1') }}"
      port: "{{ env_var('FEATUREKIT_PG_PORT', '5432') }}"
      user: "{{ env_var('FEATUREKIT_PG_USER', 'postgres') }}"
      password: "{{ env_var('FEATUREKIT_PG_PASSWORD', '') }}"
      dbname: "{{ env_var('FEATUREKIT_PG_DBNAME', 'postgres') }}"
      schema: {name}
      threads: 4
""",
    "models_sql/sources.yml": """\
sources:
  events:
    seed: seeds/events.csv
    timestamp: event_time
    # With live data, say how old its newest row may get (`featurekit freshness` checks it):
    # freshness: {warn_after: 1d, error_after: 3d}
""",
    "models_sql/user_events_daily.sql": """\
/* featurekit
entity: user_id
timestamp: feature_ts
materialized: materialized_view
refresh: 1h
ttl: 2d
description: Events per user per day, known at the end of the day.
columns:
  events: Number of events the user had that day.
  value_sum: Sum of the event values that day.
*/
SELECT
    user_id,
    date_trunc('day', event_time) + INTERVAL 1 DAY AS feature_ts,
    count(*) AS events,
    sum(value) AS value_sum
FROM events
GROUP BY user_id, date_trunc('day', event_time)
""",
    "seeds/events.csv": "user_id,event_time,value\n"
    + "".join(
        f"{u},2024-01-{d:02d} {h:02d}:00:00,{(u * 7 + d * 3 + h) % 50 / 10}\n"
        for d in range(1, 8) for u in range(1, 6) for h in (9, 14)
    ),
    "monitors/user_events.yml": """\
# The events of the second half of the week against the first. With live data, compare a
# sliding window with a fixed one instead: current: {last: 1d}, and add {test: freshness}.
source: events
timestamp: event_time
reference: {start: 2024-01-01, end: 2024-01-04}
current: {start: 2024-01-04, end: 2024-01-08}
schedule: 1d
checks:
  - {column: value, test: ks}
  - {column: value, test: null_rate}
  - {test: unique, columns: [user_id, event_time]}
  - {test: row_count, min: 10}
""",
    ".gitignore": "*.duckdb\n*.duckdb.wal\n",
}


def scaffold(directory: str | Path) -> list[Path]:
    """Write the starter files into ``directory``; refuse to overwrite anything."""
    root = Path(directory)
    name = root.resolve().name.replace("-", "_").lower() or "features"
    existing = [rel for rel in FILES if (root / rel).exists()]
    if existing:
        raise ConfigError(
            f"{root}: {', '.join(existing)} already exist; choose an empty or new folder"
        )
    written = []
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{name}", name) if "{name}" in text else text)
        written.append(path)
    return written
