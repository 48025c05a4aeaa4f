"""Run state: one row per model run, one per model with its latest run, one per loaded seed.

The tables live in the state store (``statestore``): by default the target's metadata schema
(``featurekit``), so analysts can query them and every scheduler process sees the same history.
``runs`` is the history and only grows; ``latest_runs`` holds what deciding what is due needs
(each model's latest run and latest success) and is written in the same transaction as
``runs``, so reading the state costs the same after a year of cron runs as after one.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featurekit.engines.base import Engine

# `target_schema` keeps the history of several targets apart when they share one database.
RUNS_COLUMNS = (
    "run_id TEXT, invocation_id TEXT, target_schema TEXT, model TEXT, materialized TEXT, "
    "started_at TIMESTAMP, finished_at TIMESTAMP, status TEXT, rows BIGINT, "
    "fingerprint TEXT, window_start TIMESTAMP, window_end TIMESTAMP, "
    "high_water_mark TIMESTAMP, error TEXT"
)
LATEST_COLUMNS = (
    "target_schema TEXT, model TEXT, run_id TEXT, status TEXT, started_at TIMESTAMP, "
    "finished_at TIMESTAMP, error TEXT, run_fingerprint TEXT, last_success TIMESTAMP, "
    "rows BIGINT, fingerprint TEXT, high_water_mark TIMESTAMP, window_end TIMESTAMP, "
    "redefined_at TIMESTAMP"
)
#: ``latest_runs`` columns in ``LastRun`` field order
_LAST_RUN = ("model, status, started_at, finished_at, error, last_success, rows, fingerprint, "
             "high_water_mark, window_end, redefined_at, run_id")
SEEDS_COLUMNS = "target_schema TEXT, name TEXT, file_hash TEXT, loaded_at TIMESTAMP, rows BIGINT"
RUNNING, SUCCESS, FAILED, INTERRUPTED = "running", "success", "failed", "interrupted"


def utcnow() -> datetime:
    """Now as a naive UTC timestamp (how every time is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def as_naive_utc(value: Any) -> datetime | None:
    """A database timestamp or date as a naive UTC datetime (None stays None).

    >>> as_naive_utc(date(2024, 1, 2))
    datetime.datetime(2024, 1, 2, 0, 0)
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class LastRun:
    """The latest run of a model, and its latest successful one."""

    model: str
    status: str | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    last_success: datetime | None
    rows: int | None
    fingerprint: str | None
    high_water_mark: datetime | None
    window_end: datetime | None
    #: when the current definition (fingerprint) first succeeded: its rows' history may
    #: differ from what readers built before then
    redefined_at: datetime | None = None
    run_id: str | None = None  # of the latest run


class State:
    """Reads and writes the run and seed tables of one engine.

    Args:
        engine: the connection to the state store.
        schema: where the tables are (default: the engine's metadata schema).
        target_schema: the target whose runs these are (default: the engine's schema).
    """

    def __init__(self, engine: Engine, schema: str | None = None,
                 target_schema: str | None = None):
        self.engine = engine
        self.schema = schema or engine.metadata_schema
        self.target_schema = target_schema or engine.schema
        self._latest_known = False  # latest_runs seen to exist (it is never dropped)

    def _table(self, name: str) -> str:
        return self.engine.relation(name, self.schema)

    def exists(self) -> bool:
        """Whether the run table is there (a target never refreshed has none)."""
        return self.engine.relation_kind("runs", self.schema) is not None

    def _has_latest(self) -> bool:
        """Whether ``latest_runs`` is there (a store written by an older featurekit has
        ``runs`` without it until its next refresh)."""
        if not self._latest_known:
            self._latest_known = self.engine.relation_kind("latest_runs", self.schema) is not None
        return self._latest_known

    def ensure(self) -> None:
        """Create the metadata schema and tables when missing."""
        engine = self.engine
        if self._has_latest():  # the usual case: one catalog lookup instead of DDL statements
            return
        # Under the schema's lock: concurrent first refreshes would race on IF NOT EXISTS.
        with engine.serialized(f"schema {self.schema}"):
            engine.ensure_schema(self.schema)
            runs = self._table("runs")
            engine.run(f"CREATE TABLE IF NOT EXISTS {runs} ({RUNS_COLUMNS})")
            engine.run(f"CREATE TABLE IF NOT EXISTS {self._table('seeds')} ({SEEDS_COLUMNS})")
            if self._has_latest():  # another process got here first (the cache holds False)
                return
            engine.run(f"CREATE TABLE {self._table('latest_runs')} ({LATEST_COLUMNS})")
            # From a history kept before latest_runs existed: every target's in this store.
            engine.run(f"INSERT INTO {self._table('latest_runs')} ({_LAST_RUN}, "
                       f"target_schema, run_fingerprint) {self._from_history()}")
            if engine.unique_indexes:  # B-tree engines: finishing a run finds its row directly
                engine.run(f"CREATE INDEX IF NOT EXISTS runs_run_id ON {runs} (run_id)")

    def model_lock(self, model: str) -> contextlib.AbstractContextManager[bool]:
        """Held while a model refreshes; yields False when another process holds it."""
        return self.engine.lock(f"featurekit refresh {self.target_schema}.{model}")

    def start_run(self, model: str, materialized: str, fingerprint: str,
                  invocation_id: str) -> str:
        run_id = uuid.uuid4().hex
        params = {"run_id": run_id, "invocation_id": invocation_id,
                  "target_schema": self.target_schema, "model": model,
                  "materialized": materialized, "started_at": utcnow(), "status": RUNNING,
                  "fingerprint": fingerprint}
        engine, latest = self.engine, self._table("latest_runs")
        with engine.transaction():
            engine.run(
                f"INSERT INTO {self._table('runs')} (run_id, invocation_id, target_schema, "
                "model, materialized, started_at, status, fingerprint) VALUES (:run_id, "
                ":invocation_id, :target_schema, :model, :materialized, :started_at, :status, "
                ":fingerprint)", params)
            # Runs of one model never overlap (they hold its lock), so this is its only row.
            if not engine.run_count(
                f"UPDATE {latest} SET run_id = :run_id, status = :status, "
                "started_at = :started_at, finished_at = NULL, error = NULL, "
                "run_fingerprint = :fingerprint "
                "WHERE target_schema = :target_schema AND model = :model", params):
                engine.run(
                    f"INSERT INTO {latest} (target_schema, model, run_id, status, started_at, "
                    "run_fingerprint) VALUES (:target_schema, :model, :run_id, :status, "
                    ":started_at, :fingerprint)", params)
        return run_id

    def finish_run(self, run_id: str, status: str, rows: int | None = None,
                   error: str | None = None, high_water_mark: datetime | None = None,
                   window: tuple[datetime | None, datetime | None] = (None, None)) -> None:
        params = {"finished_at": utcnow(), "status": status, "rows": rows, "error": error,
                  "high_water_mark": high_water_mark, "window_start": window[0],
                  "window_end": window[1], "run_id": run_id}
        success = ""
        if status == SUCCESS:
            # The definition's first success since it changed: rows built before may differ.
            success = (", last_success = :finished_at, rows = :rows, "
                       "redefined_at = CASE WHEN fingerprint IS NOT DISTINCT FROM run_fingerprint "
                       "THEN redefined_at ELSE :finished_at END, fingerprint = run_fingerprint, "
                       "high_water_mark = :high_water_mark, window_end = :window_end")
        with self.engine.transaction():
            self.engine.run(
                f"UPDATE {self._table('runs')} SET finished_at = :finished_at, "
                "status = :status, rows = :rows, error = :error, "
                "high_water_mark = :high_water_mark, window_start = :window_start, "
                "window_end = :window_end WHERE run_id = :run_id", params)
            self.engine.run(
                f"UPDATE {self._table('latest_runs')} SET status = :status, "
                f"finished_at = :finished_at, error = :error{success} WHERE run_id = :run_id",
                params)

    def last_runs(self) -> dict[str, LastRun]:
        """Latest run per model, with the time, rows and fingerprint of its last success."""
        where = {"target_schema": self.target_schema}
        if self._has_latest():
            rows = self.engine.rows(f"SELECT {_LAST_RUN} FROM {self._table('latest_runs')} "
                                    "WHERE target_schema = :target_schema", where)
        else:  # read without writing (a dry run) from a store not yet given latest_runs
            rows = self.engine.rows(f"SELECT {_LAST_RUN} FROM ({self._from_history()}) AS h "
                                    "WHERE target_schema = :target_schema", where)
        return {row[0]: LastRun(*row) for row in rows}

    def _from_history(self) -> str:
        """``latest_runs``' rows (``_LAST_RUN``, target_schema, run_fingerprint) of every
        target, computed from the whole ``runs`` history."""
        runs, model = self._table("runs"), "PARTITION BY target_schema, model"
        return f"""
            WITH ranked AS (
                SELECT *, row_number() OVER ({model} ORDER BY started_at DESC) AS n
                FROM {runs}
            ), ok AS MATERIALIZED (  -- computed once, whatever the planner guesses its size
                SELECT * FROM (
                    SELECT *, row_number() OVER ({model} ORDER BY started_at DESC) AS n,
                           max(redefined) OVER ({model}) AS redefined_at
                    FROM (  -- a success whose definition differs from the success before it
                        SELECT *, CASE WHEN fingerprint IS NOT DISTINCT FROM lag(fingerprint)
                                            OVER ({model} ORDER BY started_at)
                                       THEN NULL ELSE finished_at END AS redefined
                        FROM {runs} WHERE status = 'success'
                    ) AS s
                ) AS s WHERE n = 1
            )
            SELECT r.model, r.status, r.started_at, r.finished_at, r.error,
                   ok.finished_at AS last_success, ok.rows, ok.fingerprint, ok.high_water_mark,
                   ok.window_end, ok.redefined_at, r.run_id, r.target_schema,
                   r.fingerprint AS run_fingerprint
            FROM ranked r
            LEFT JOIN ok ON ok.target_schema = r.target_schema AND ok.model = r.model
            WHERE r.n = 1
        """

    def mark_interrupted(self, run_id: str) -> None:
        params = {"interrupted": INTERRUPTED, "now": utcnow(), "run_id": run_id,
                  "running": RUNNING,
                  "error": "the refresh process stopped before this run finished"}
        with self.engine.transaction():
            for table in ("runs", "latest_runs"):
                self.engine.run(
                    f"UPDATE {self._table(table)} SET status = :interrupted, "
                    "finished_at = :now, error = :error "
                    "WHERE run_id = :run_id AND status = :running", params)

    def seeds(self) -> dict[str, tuple[str, datetime]]:
        """(file hash, when loaded) of each seed loaded into this target."""
        rows = self.engine.rows(
            f"SELECT name, file_hash, loaded_at FROM {self._table('seeds')} "
            "WHERE target_schema = :target_schema",
            {"target_schema": self.target_schema},
        )
        return {name: (digest, loaded) for name, digest, loaded in rows}

    def record_seed(self, name: str, file_hash: str, rows: int) -> None:
        with self.engine.transaction():
            params = {"target_schema": self.target_schema, "name": name,
                      "file_hash": file_hash, "loaded_at": utcnow(), "rows": rows}
            self.engine.run(
                f"DELETE FROM {self._table('seeds')} "
                "WHERE target_schema = :target_schema AND name = :name",
                params,
            )
            self.engine.run(
                f"INSERT INTO {self._table('seeds')} "
                "VALUES (:target_schema, :name, :file_hash, :loaded_at, :rows)",
                params,
            )
