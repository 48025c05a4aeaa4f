"""Incremental models: recompute only rows at or after a start time, all or nothing.

A run's window starts at the model's high-water mark (its newest timestamp after the last
successful run) minus ``restate`` (the allowance for late data) and is open-ended. Inputs that
declare a timestamp are read from ``start - lookback`` on; output rows with
``timestamp >= start`` replace the table's rows in that range (delete + insert, one
transaction; without transactions, a new version of the table swapped in). So any sequence
of appends and refreshes gives the table a full rebuild gives, as long as a row at time t
depends only on inputs in [t - lookback, ...) and late input rows arrive no earlier than
``high-water mark - restate``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from featurekit.sql import rows_since
from featurekit.state import as_naive_utc

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.model import Model
    from featurekit.state import LastRun

_STAGE = "__fk_stage"
#: ``record(rows, high_water_mark)``: writes the run's record inside the window's transaction
Record = Callable[[int, "datetime | None"], None]


def window_start(model: Model, last: LastRun | None) -> datetime | None:
    """Where this run's window starts; None means build everything."""
    if last is None or last.high_water_mark is None:
        return None
    return last.high_water_mark - model.restate


def stage_query(engine: Engine, model: Model, windowed_sql: str, start: datetime) -> str:
    """The model's rows at or after ``start``, from SQL whose inputs are already filtered."""
    import sqlglot

    inner = sqlglot.parse_one(windowed_sql, read=engine.dialect)
    return rows_since(inner, model.timestamp, start).sql(dialect=engine.dialect)


def build_window(engine: Engine, model: Model, windowed_sql: str, start: datetime,
                 record: Record) -> int:
    """Replace the table's rows from ``start`` on with freshly computed ones.

    ``record(rows, high_water_mark)`` runs in the same transaction, so the run's record
    commits with its rows (and costs no commit of its own). Returns the rows written.
    """
    if not engine.transactions:
        rows, newest = engine.replace_rows_since(
            model.name, stage_query(engine, model, windowed_sql, start), model.timestamp,
            start, model.unique_key,
        )
        record(rows, _as_mark(newest) if rows else high_water_mark(engine, model))
        return rows
    # A temporary table lives as long as its connection, and the `finally` below drops it.
    stage, rows = engine.create_temporary(
        model.name + _STAGE, stage_query(engine, model, windowed_sql, start)
    )
    try:
        newest = engine.check_output(model.name, stage, model.unique_key, model.timestamp)
        columns = [name for name, _ in engine.columns(model.name)]
        with engine.transaction():
            _replace_window(engine, model, stage, start, columns)
            # The stage's rows are the newest: every row left in the table is older.
            mark = _as_mark(newest) if rows else high_water_mark(engine, model)
            record(rows, mark)
    finally:
        engine.drop_temporary(model.name + _STAGE)
    return rows


def high_water_mark(engine: Engine, model: Model) -> datetime | None:
    """The newest timestamp in the model's output (freshness and incremental windows)."""
    if not model.timestamp or model.materialized == "view":
        return None
    value = engine.rows(
        f"SELECT max({engine.quote(model.timestamp)}) FROM {engine.relation(model.name)}"
    )[0][0]
    return _as_mark(value)


def _as_mark(value: object) -> datetime | None:
    return as_naive_utc(value) if isinstance(value, date) else None  # datetime is a date


def _replace_window(engine: Engine, model: Model, stage: str, start: datetime,
                    columns: list[str]) -> None:
    """Make the table's rows from ``start`` on equal the stage's (inside a transaction).

    Rows with an identity (entity, timestamp) that are recomputed unchanged — most of a
    restated window — are left in place; only rows that differ are deleted and inserted,
    which spares index maintenance and dead tuples on large tables.
    """
    q = engine.quote
    table, ts = engine.relation(model.name), q(model.timestamp)
    listed = ", ".join(q(c) for c in columns)
    if not model.unique_key:  # rows have no identity: replace the window wholesale
        engine.run(f"DELETE FROM {table} WHERE {ts} >= :start", {"start": start})
        engine.run(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {stage}")
        return
    engine.replace_changed_rows(model.name, stage, model.timestamp, start, columns,
                                model.unique_key)
