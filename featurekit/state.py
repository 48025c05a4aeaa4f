"""Run state: one row per model run, one per loaded seed.

The tables live in the state store (``statestore``): by default the target's metadata schema
(``featurekit``), so analysts can query them and every scheduler process sees the same history.
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

    def _table(self, name: str) -> str:
        return self.engine.relation(name, self.schema)

    def exists(self) -> bool:
        """Whether the run table is there (a target never refreshed has none)."""
        return self.engine.relation_kind("runs", self.schema) is not None

    def ensure(self) -> None:
        """Create the metadata schema and tables when missing."""
        engine = self.engine
        if self.exists():  # the usual case: one catalog lookup instead of three DDL statements
            return
        # Under the schema's lock: concurrent first refreshes would race on IF NOT EXISTS.
        with engine.serialized(f"schema {self.schema}"):
            engine.ensure_schema(self.schema)
            engine.run(f"CREATE TABLE IF NOT EXISTS {self._table('runs')} ({RUNS_COLUMNS})")
            engine.run(f"CREATE TABLE IF NOT EXISTS {self._table('seeds')} ({SEEDS_COLUMNS})")

    def model_lock(self, model: str) -> contextlib.AbstractContextManager[bool]:
        """Held while a model refreshes; yields False when another process holds it."""
        return self.engine.lock(f"featurekit refresh {self.target_schema}.{model}")

    def start_run(self, model: str, materialized: str, fingerprint: str,
                  invocation_id: str) -> str:
        run_id = uuid.uuid4().hex
        self.engine.run(
            f"INSERT INTO {self._table('runs')} (run_id, invocation_id, target_schema, model, "
            "materialized, started_at, status, fingerprint) VALUES (:run_id, :invocation_id, "
            ":target_schema, :model, :materialized, :started_at, :status, :fingerprint)",
            {"run_id": run_id, "invocation_id": invocation_id,
             "target_schema": self.target_schema, "model": model,
             "materialized": materialized, "started_at": utcnow(), "status": RUNNING,
             "fingerprint": fingerprint},
        )
        return run_id

    def finish_run(self, run_id: str, status: str, rows: int | None = None,
                   error: str | None = None, high_water_mark: datetime | None = None,
                   window: tuple[datetime | None, datetime | None] = (None, None)) -> None:
        self.engine.run(
            f"UPDATE {self._table('runs')} SET finished_at = :finished_at, status = :status, "
            "rows = :rows, error = :error, high_water_mark = :high_water_mark, "
            "window_start = :window_start, window_end = :window_end WHERE run_id = :run_id",
            {"finished_at": utcnow(), "status": status, "rows": rows, "error": error,
             "high_water_mark": high_water_mark, "window_start": window[0],
             "window_end": window[1], "run_id": run_id},
        )

    def last_runs(self) -> dict[str, LastRun]:
        """Latest run per model, with the time, rows and fingerprint of its last success."""
        runs = self._table("runs")
        rows = self.engine.rows(
            f"""
            WITH mine AS (
                SELECT * FROM {runs} WHERE target_schema = :target_schema
            ), ranked AS (
                SELECT *, row_number() OVER (PARTITION BY model ORDER BY started_at DESC) AS n
                FROM mine
            ), ok AS (
                SELECT *, row_number() OVER (PARTITION BY model ORDER BY started_at DESC) AS n
                FROM mine WHERE status = 'success'
            ), first_ok AS (
                SELECT model, fingerprint, min(finished_at) AS since
                FROM mine WHERE status = 'success' GROUP BY model, fingerprint
            )
            SELECT r.model, r.status, r.started_at, r.finished_at, r.error,
                   ok.finished_at, ok.rows, ok.fingerprint, ok.high_water_mark, ok.window_end,
                   f.since, r.run_id
            FROM ranked r LEFT JOIN ok ON ok.model = r.model AND ok.n = 1
            LEFT JOIN first_ok f ON f.model = ok.model AND f.fingerprint = ok.fingerprint
            WHERE r.n = 1
            """,
            {"target_schema": self.target_schema},
        )
        return {row[0]: LastRun(*row) for row in rows}

    def mark_interrupted(self, run_id: str) -> None:
        self.engine.run(
            f"UPDATE {self._table('runs')} SET status = :interrupted, finished_at = :now, "
            "error = :error WHERE run_id = :run_id AND status = :running",
            {"interrupted": INTERRUPTED, "now": utcnow(), "run_id": run_id, "running": RUNNING,
             "error": "the refresh process stopped before this run finished"},
        )

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
