"""Monitor results in the metadata schema: the time series analysts chart.

Tables (schema ``featurekit`` by default):

- ``monitor_results``: one row per check, column and evaluation time (``as_of``).
- ``monitor_latest``: the latest row per (monitor, check, column). Where the engine has
  transactions it is a table written in each run's transaction, so reading it (the alert
  transitions, every ``/metrics`` scrape, analysts) costs the same after a year of runs as
  after one; on Spark it is a view over ``monitor_results``.
- ``monitor_references``: stored statistics of fixed reference windows. Unlike the others
  it is bookkeeping, not data to chart: it lives in the state store (``statestore``).
- ``monitor_alerts``: every webhook delivery attempt, delivered or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from featurekit.state import utcnow

if TYPE_CHECKING:
    from featurekit.engines.base import Engine

RESULT_COLUMNS = (
    ("run_id", "TEXT"), ("target_schema", "TEXT"), ("monitor", "TEXT"), ("check_name", "TEXT"),
    ("column_name", "TEXT"), ("test", "TEXT"), ("status", "TEXT"),
    ("statistic", "DOUBLE PRECISION"), ("p_value", "DOUBLE PRECISION"),
    ("warn_threshold", "DOUBLE PRECISION"), ("error_threshold", "DOUBLE PRECISION"),
    ("n_ref", "BIGINT"), ("n_cur", "BIGINT"),
    ("window_start", "TIMESTAMP"), ("window_end", "TIMESTAMP"),
    ("reference_start", "TIMESTAMP"), ("reference_end", "TIMESTAMP"),
    ("as_of", "TIMESTAMP"), ("evaluated_at", "TIMESTAMP"), ("message", "TEXT"),
)
NAMES = ", ".join(name for name, _ in RESULT_COLUMNS)
#: Result rows per INSERT (20 values each: within PostgreSQL's 65535 parameters).
INSERT_BATCH = 500
REFERENCE_COLUMNS = ("ref_key TEXT, target_schema TEXT, monitor TEXT, column_name TEXT, "
                     "stats TEXT, computed_at TIMESTAMP")
ALERT_COLUMNS = ("sent_at TIMESTAMP, target_schema TEXT, monitor TEXT, check_name TEXT, "
                 "column_name TEXT, old_status TEXT, new_status TEXT, delivered BOOLEAN, "
                 "attempts INTEGER, error TEXT")


@dataclass
class CheckResult:
    """The outcome of one check on one column (or on the whole window) at one time."""

    monitor: str
    check: str
    column: str | None
    test: str
    status: str
    statistic: float | None = None
    p_value: float | None = None
    warn: float | None = None
    error: float | None = None
    n_ref: int | None = None
    n_cur: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    reference_start: datetime | None = None
    reference_end: datetime | None = None
    as_of: datetime | None = None
    evaluated_at: datetime | None = None
    message: str = ""
    run_id: str = ""
    #: reference vs current distribution for the HTML report (never stored, never raw rows)
    plot: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.monitor, self.check, self.column)

    def row(self, target_schema: str) -> list[Any]:
        return [self.run_id, target_schema, self.monitor, self.check, self.column, self.test,
                self.status, self.statistic, self.p_value, self.warn, self.error, self.n_ref,
                self.n_cur, self.window_start, self.window_end, self.reference_start,
                self.reference_end, self.as_of, self.evaluated_at, self.message]


class Results:
    """Reads and writes the monitoring tables of one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.schema = engine.metadata_schema

    def table(self, name: str) -> str:
        return self.engine.relation(name, self.schema)

    def ensure(self) -> None:
        engine = self.engine
        # Under the schema's lock: two first monitor runs would race on IF NOT EXISTS.
        with engine.serialized(f"schema {self.schema}"):
            engine.ensure_schema(self.schema)
            columns = ", ".join(f"{name} {kind}" for name, kind in RESULT_COLUMNS)
            results = self.table("monitor_results")
            engine.run(f"CREATE TABLE IF NOT EXISTS {results} ({columns})")
            if engine.unique_indexes:
                # B-tree engines read one monitor's rows, not the whole history: a rerun's
                # DELETE by as_of, the newest rows per check and column (monitor_latest, the
                # charts), which the second index gives already in order, and its last run.
                engine.run(f"CREATE INDEX IF NOT EXISTS monitor_results_as_of "
                           f"ON {results} (target_schema, monitor, as_of)")
                engine.run(f"CREATE INDEX IF NOT EXISTS monitor_results_newest ON {results} "
                           f"(target_schema, monitor, check_name, column_name, as_of DESC, "
                           f"evaluated_at DESC)")
                engine.run(f"CREATE INDEX IF NOT EXISTS monitor_results_evaluated "
                           f"ON {results} (target_schema, monitor, evaluated_at)")
            engine.run(f"CREATE TABLE IF NOT EXISTS {self.table('monitor_alerts')} "
                       f"({ALERT_COLUMNS})")
            kind = engine.relation_kind("monitor_latest", self.schema)
            if not engine.transactions:
                if kind is None:
                    engine.run(f"CREATE VIEW {self.table('monitor_latest')} AS "
                               f"{self._newest(in_view=True)}")
            elif kind != "table":  # new, or the view of an older featurekit
                if kind == "view":
                    engine.run(f"DROP VIEW {self.table('monitor_latest')}")
                engine.run(f"CREATE TABLE {self.table('monitor_latest')} ({columns})")
                engine.run(f"INSERT INTO {self.table('monitor_latest')} ({NAMES}) "
                           f"{self._newest()}")

    def _newest(self, where: str = "1 = 1", in_view: bool = False, per_key: str = "1") -> str:
        """The newest ``per_key`` rows (an SQL expression) of ``monitor_results`` per
        (monitor, check, column), of the rows matching ``where``, ``monitor_results`` aliased
        ``r``: the one definition of "latest" the view, the table and the charts share."""
        results = (self.engine.relation_in_view("monitor_results", self.schema) if in_view
                   else self.table("monitor_results"))
        return (f"SELECT {NAMES} FROM (SELECT *, row_number() OVER (PARTITION BY target_schema, "
                f"monitor, check_name, column_name ORDER BY as_of DESC, evaluated_at DESC) "
                f"AS latest FROM {results} AS r WHERE {where}) AS r WHERE latest <= {per_key}")

    def append(self, results: list[CheckResult]) -> None:
        """Record one evaluation: it replaces any earlier rows of its monitors at its as_of.

        Delete and insert commit together, so a rerun (say of a killed backfill) leaves one row
        per (monitor, check, column, as_of), never two.
        """
        if not results:
            return
        names = [name for name, _ in RESULT_COLUMNS]
        evaluations = dict.fromkeys((r.monitor, r.as_of) for r in results)
        with self.engine.transaction():
            for monitor, as_of in evaluations:
                self.engine.run(
                    f"DELETE FROM {self.table('monitor_results')} "
                    f"WHERE target_schema = :target_schema AND monitor = :monitor "
                    f"AND as_of = :as_of",
                    {"target_schema": self.engine.schema, "monitor": monitor, "as_of": as_of},
                )
            # Many rows per INSERT: on Spark every INSERT is a job that writes a file (0.3 s
            # or more each, where a drift check over 25 columns has 25 results).
            for start in range(0, len(results), INSERT_BATCH):
                batch = results[start:start + INSERT_BATCH]
                rows = ", ".join("(" + ", ".join(f":{name}_{i}" for name in names) + ")"
                                 for i in range(len(batch)))
                params = {f"{name}_{i}": value for i, result in enumerate(batch)
                          for name, value in zip(names, result.row(self.engine.schema))}
                self.engine.run(f"INSERT INTO {self.table('monitor_results')} "
                                f"({', '.join(names)}) VALUES {rows}", params)
            if self.engine.transactions:
                for monitor, as_of in evaluations:
                    self._update_latest(monitor, as_of)
        self.engine.compact("monitor_results", self.schema)

    def _update_latest(self, monitor: str, as_of: datetime | None) -> None:
        """Bring ``monitor_latest`` in step with the evaluation of ``monitor`` at ``as_of``
        just written (inside append's transaction): its rows replace the ones they are newer
        than; an older row stays where it is newer (a backfill)."""
        latest, results = self.table("monitor_latest"), self.table("monitor_results")
        params = {"target_schema": self.engine.schema, "monitor": monitor, "as_of": as_of}
        this = ("r.target_schema = :target_schema AND r.monitor = :monitor "
                "AND r.as_of = :as_of")
        same_key = ("l.target_schema = r.target_schema AND l.monitor = r.monitor "
                    "AND l.check_name = r.check_name "
                    "AND l.column_name IS NOT DISTINCT FROM r.column_name")
        mine = "l.target_schema = :target_schema AND l.monitor = :monitor"
        # An earlier evaluation at this as_of had checks or columns this one has not: its
        # rows are gone from monitor_results, and those keys fall back to older rows.
        orphaned = self.engine.run_count(
            f"DELETE FROM {latest} AS l WHERE {mine} AND l.as_of = :as_of "
            f"AND NOT EXISTS (SELECT 1 FROM {results} AS r WHERE {this} AND {same_key})",
            params)
        self.engine.run(
            f"DELETE FROM {latest} AS l WHERE {mine} AND l.as_of <= :as_of "
            f"AND EXISTS (SELECT 1 FROM {results} AS r WHERE {this} AND {same_key})", params)
        self.engine.run(
            f"INSERT INTO {latest} ({NAMES}) SELECT {NAMES} FROM {results} AS r WHERE {this} "
            f"AND NOT EXISTS (SELECT 1 FROM {latest} AS l WHERE {same_key})", params)
        if orphaned:
            self.engine.run(
                f"INSERT INTO {latest} ({NAMES}) " + self._newest(
                    f"r.target_schema = :target_schema AND r.monitor = :monitor AND NOT EXISTS "
                    f"(SELECT 1 FROM {latest} AS l WHERE {same_key})"), params)

    def _in_monitors(self, monitors: list[str]) -> tuple[str, dict[str, Any]]:
        """``target_schema = ... AND monitor IN (...)`` of these monitors, and its values."""
        params: dict[str, Any] = {"target_schema": self.engine.schema}
        params.update((f"monitor{i}", monitor) for i, monitor in enumerate(monitors))
        marks = ", ".join(f":monitor{i}" for i in range(len(monitors)))
        return f"target_schema = :target_schema AND monitor IN ({marks})", params

    def latest_status(self, monitors: list[str]) -> dict[tuple[str, str, str | None], str]:
        """The most recent status per (monitor, check, column) of these monitors."""
        if not monitors:
            return {}
        where, params = self._in_monitors(monitors)
        rows = self.engine.rows(
            f"SELECT monitor, check_name, column_name, status FROM "
            f"{self.table('monitor_latest')} WHERE {where}", params)
        return {(m, c, col): s for m, c, col, s in rows}

    def last_run(self, monitors: list[str]) -> dict[str, datetime]:
        """When each of these monitors last ran on schedule (wall clock), for due-ness."""
        if not monitors:
            return {}
        where, params = self._in_monitors(monitors)
        params.update(backfill="backfill-%", as_of="asof-%")
        scheduled = "run_id NOT LIKE :backfill AND run_id NOT LIKE :as_of"
        results = self.table("monitor_results")
        if self.engine.unique_indexes:
            # One lookup per monitor from the end of its (monitor, evaluated_at) index,
            # instead of a pass over every run the target's monitors ever made.
            query = " UNION ALL ".join(
                f"SELECT :monitor{i} AS monitor, (SELECT max(evaluated_at) FROM {results} "
                f"WHERE target_schema = :target_schema AND monitor = :monitor{i} "
                f"AND {scheduled}) AS last" for i in range(len(monitors)))
            rows = self.engine.rows(query, params)
        else:  # one columnar pass answers every monitor
            rows = self.engine.rows(
                f"SELECT monitor, max(evaluated_at) FROM {results} WHERE {where} "
                f"AND {scheduled} GROUP BY monitor", params)
        return {monitor: when for monitor, when in rows if when is not None}

    def history(self, monitors: list[str], points: int) -> list[dict[str, Any]]:
        """Past results of these monitors (oldest first), for the charts: the newest
        ``points`` of each (monitor, check, column), however long the history."""
        if not monitors:
            return []
        where, params = self._in_monitors(monitors)
        params["points"] = points
        rows = self.engine.rows(
            f"SELECT monitor, check_name, column_name, as_of, statistic, p_value, status FROM ("
            f"{self._newest(where, per_key=':points')}) AS h "
            f"ORDER BY as_of, evaluated_at, monitor, check_name, column_name",
            params,
        )
        keys = ("monitor", "check", "column", "as_of", "statistic", "p_value", "status")
        return [dict(zip(keys, row)) for row in rows]

    def undelivered_alerts(self, monitor: str) -> dict[tuple[str, str | None],
                                                      tuple[str | None, str, int]]:
        """(old status, new status, posts so far) of this monitor's alerts whose latest post
        failed, per (check, column)."""
        rows = self.engine.rows(
            f"SELECT check_name, column_name, old_status, new_status, attempts FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY check_name, column_name "
            f"ORDER BY sent_at DESC) AS newest FROM {self.table('monitor_alerts')} "
            f"WHERE target_schema = :target_schema AND monitor = :monitor) AS a "
            f"WHERE newest = 1 AND NOT delivered",
            {"target_schema": self.engine.schema, "monitor": monitor},
        )
        return {(check, column): (old, new, int(attempts or 0))
                for check, column, old, new, attempts in rows}

    def record_alert(self, monitor: str, check: str, column: str | None, old: str | None,
                     new: str, delivered: bool, attempts: int, error: str | None) -> None:
        self.engine.run(
            f"INSERT INTO {self.table('monitor_alerts')} (sent_at, target_schema, monitor, "
            f"check_name, column_name, old_status, new_status, delivered, attempts, error) "
            f"VALUES (:sent_at, :target_schema, :monitor, :check_name, :column_name, "
            f":old_status, :new_status, :delivered, :attempts, :error)",
            {"sent_at": utcnow(), "target_schema": self.engine.schema, "monitor": monitor,
             "check_name": check, "column_name": column, "old_status": old,
             "new_status": new, "delivered": delivered, "attempts": attempts, "error": error},
        )
        self.engine.compact("monitor_alerts", self.schema)


class References:
    """Stored statistics of fixed reference windows (``monitor_references``).

    Args:
        engine: the connection to the state store.
        schema: where the table is.
        target_schema: the target whose monitors these are.
    """

    def __init__(self, engine: Engine, schema: str, target_schema: str):
        self.engine = engine
        self.schema = schema
        self.target_schema = target_schema
        self.relation = engine.relation("monitor_references", schema)

    def ensure(self) -> None:
        """Create the table (and its schema) when missing."""
        if self.engine.relation_kind("monitor_references", self.schema) is not None:
            return
        with self.engine.serialized(f"schema {self.schema}"):
            self.engine.ensure_schema(self.schema)
            self.engine.run(f"CREATE TABLE IF NOT EXISTS {self.relation} ({REFERENCE_COLUMNS})")

    def get(self, ref_key: str) -> dict[str, Any] | None:
        """The statistics last stored under ``ref_key`` (None: never stored)."""
        rows = self.engine.rows(
            f"SELECT stats FROM {self.relation} WHERE ref_key = :ref_key "
            "ORDER BY computed_at DESC LIMIT 1",
            {"ref_key": ref_key},
        )
        return json.loads(rows[0][0]) if rows else None

    def store(self, ref_key: str, monitor: str, column: str, stats: dict[str, Any]) -> None:
        self.engine.run(
            f"INSERT INTO {self.relation} (ref_key, target_schema, monitor, column_name, stats, "
            "computed_at) VALUES (:ref_key, :target_schema, :monitor, :column_name, :stats, "
            ":computed_at)",
            {"ref_key": ref_key, "target_schema": self.target_schema, "monitor": monitor,
             "column_name": column, "stats": json.dumps(stats), "computed_at": utcnow()},
        )
