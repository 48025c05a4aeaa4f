"""Windows as SQL: a monitor's source filtered to the rows one window holds.

All windows are half-open UTC ranges ``[start, end)`` on the monitor's timestamp column.
Relative windows end at the evaluation time (``as_of``) minus their offset; a count window
holds the N newest rows before ``as_of``; ``all`` holds every row before ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from featurekit.monitoring.query import Sql, value

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.monitoring.config import Window


@dataclass(frozen=True)
class Bounds:
    """The time range a window covered in one evaluation (None where it is open)."""

    start: datetime | None
    end: datetime | None


def bounds(window: Window, as_of: datetime) -> Bounds:
    """The ``[start, end)`` a window covers when evaluated at ``as_of``.

    >>> from featurekit.monitoring.config import Window
    >>> from datetime import timedelta
    >>> bounds(Window("relative", last=timedelta(days=7), offset=timedelta(days=1)),
    ...        datetime(2024, 3, 31))
    Bounds(start=datetime.datetime(2024, 3, 23, 0, 0), end=datetime.datetime(2024, 3, 30, 0, 0))
    """
    if window.kind == "fixed":
        return Bounds(window.start, window.end)
    if window.kind == "relative":
        assert window.last is not None
        end = as_of - window.offset
        return Bounds(end - window.last, end)
    if window.kind in ("rows", "all"):
        return Bounds(None, as_of)
    return Bounds(None, None)


def window_sql(engine: Engine, source: Sql, timestamp: str | None, window: Window,
               as_of: datetime, table: str | None = None) -> Sql:
    """A SELECT of the rows ``window`` holds, from ``source`` (a relation or an embedded query).

    ``table`` is the already-quoted relation for a ``{table: ...}`` window.
    """
    if window.kind == "table":
        assert table is not None
        return Sql(f"SELECT * FROM {table}")
    base = "SELECT * FROM " + source + " AS src"
    if timestamp is None:
        return base
    ts = engine.quote(timestamp)
    span = bounds(window, as_of)
    if window.kind == "rows":
        # The N newest rows; ties on the timestamp are broken by the engine (documented).
        return (base + f" WHERE {ts} < " + value(span.end) + f" ORDER BY {ts} DESC LIMIT "
                + value(window.rows))
    if span.start is None:
        return base + f" WHERE {ts} < " + value(span.end)
    return base + f" WHERE {ts} >= " + value(span.start) + f" AND {ts} < " + value(span.end)
