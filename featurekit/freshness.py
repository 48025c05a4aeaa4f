"""Source freshness: how old the newest row of each declared source is.

A source with ``freshness: {warn_after: 2h, error_after: 1d}`` (and a ``timestamp:``) in
sources.yml is checked by ``featurekit freshness``, shown by ``featurekit ls`` and used by a
monitor's ``{test: freshness}`` on that source. The engine computes the newest timestamp at or
before the evaluation time (one ``max()`` per source); its age is compared with the thresholds:
older than ``error_after`` is ``error``, older than ``warn_after`` is ``warn``, else ``ok``. A
source without rows, or whose table is missing, is ``error``. Each ``featurekit freshness``
run appends its rows to ``<metadata schema>.source_freshness``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from featurekit.errors import ConfigError, did_you_mean
from featurekit.monitoring.checks import ERROR, OK, SEVERITY, WARN
from featurekit.state import as_naive_utc, utcnow

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.project import Project
    from featurekit.sources import Source

__all__ = ["SEVERITY", "SourceFreshness", "judge", "monitor_thresholds", "source_freshness"]
TABLE = "source_freshness"
COLUMNS = (
    ("target_schema", "TEXT"), ("source", "TEXT"), ("relation", "TEXT"),
    ("timestamp_column", "TEXT"), ("newest", "TIMESTAMP"), ("age_seconds", "DOUBLE PRECISION"),
    ("warn_after_seconds", "DOUBLE PRECISION"), ("error_after_seconds", "DOUBLE PRECISION"),
    ("status", "TEXT"),
    ("message", "TEXT"), ("as_of", "TIMESTAMP"), ("checked_at", "TIMESTAMP"),
)


@dataclass(frozen=True)
class SourceFreshness:
    """The freshness of one source at one time."""

    source: str
    relation: str
    timestamp_column: str
    newest: datetime | None
    age_seconds: float | None
    warn_after_seconds: float | None
    error_after_seconds: float | None
    status: str
    message: str
    as_of: datetime
    checked_at: datetime


def judge(age: timedelta | None, warn_after: timedelta | None,
          error_after: timedelta | None) -> str:
    """ok / warn / error for the age of the newest row (None: no rows at all).

    >>> judge(timedelta(hours=3), timedelta(hours=2), timedelta(days=1))
    'warn'
    >>> judge(timedelta(hours=2), timedelta(hours=2), None), judge(None, None, None)
    ('ok', 'error')
    """
    if age is None:
        return ERROR
    if error_after is not None and age > error_after:
        return ERROR
    if warn_after is not None and age > warn_after:
        return WARN
    return OK


def select_sources(project: Project, select: list[str] | None = None) -> list[Source]:
    """Sources that declare ``freshness:``, by name or glob (all of them by default)."""
    declared = [s for s in project.sources.values() if s.freshness is not None]
    if not select:
        return declared
    chosen: dict[str, Source] = {}
    for pattern in select:
        matched = [s for s in project.sources.values() if fnmatch.fnmatchcase(s.name, pattern)]
        if not matched:
            raise ConfigError(f'no source named "{pattern}"{did_you_mean(pattern, project.sources)}'
                              f"; sources: {', '.join(project.sources) or '(none)'}")
        for source in matched:
            if source.freshness is None:
                raise ConfigError(f'source "{source.name}" declares no freshness: in '
                                  f"{project.settings.models}/sources.yml; add e.g. "
                                  f"freshness: {{warn_after: 2h, error_after: 1d}}")
            chosen[source.name] = source
    return list(chosen.values())


def newest_row(project: Project, source: Source, as_of: datetime) -> tuple[str, datetime | None]:
    """(relation as users name it, newest timestamp at or before ``as_of``), in the engine.

    Raises LookupError when the source's table does not exist.
    """
    from sqlglot import exp

    engine = project.engine
    resolved = project.resolve(exp.to_table(source.relation))
    assert resolved is not None and source.timestamp is not None  # a declared source
    schema, name, _ = resolved
    if engine.relation_kind(name, schema) is None:
        raise LookupError(f"{schema}.{name}")
    column = engine.quote(source.timestamp)
    where = f'{project.settings.models}/sources.yml: source "{source.name}"'
    try:
        value = engine.rows(f"SELECT max({column}) FROM {engine.relation(name, schema)} "
                            f"WHERE {column} <= :as_of", {"as_of": as_of})[0][0]
    except engine.errors as exc:  # e.g. a timestamp: column the table does not have
        reason = " ".join(str(exc).strip().splitlines()[:1])
        raise ConfigError(f"{where}: cannot read the newest {source.timestamp} of "
                          f"{schema}.{name}: {reason}") from None
    return f"{schema}.{name}", as_naive_utc(value)


def check_source(project: Project, source: Source, as_of: datetime,
                 checked_at: datetime) -> SourceFreshness:
    """The freshness of one source that declares ``freshness:``."""
    assert source.freshness is not None
    rule = source.freshness
    relation, newest, age = source.relation, None, None
    try:
        relation, newest = newest_row(project, source, as_of)
    except LookupError as missing:
        message = (f"table {missing.args[0]} does not exist"
                   + ("; `featurekit refresh` loads a seed with the models that read it"
                      if source.seed else ""))
    else:
        if newest is None:
            message = f"no rows with a {source.timestamp} at or before {as_of:%Y-%m-%d %H:%M:%S}"
        else:
            age = as_of - newest
            message = f"newest row {newest:%Y-%m-%d %H:%M:%S}"
    return SourceFreshness(
        source=source.name, relation=relation, timestamp_column=source.timestamp or "",
        newest=newest, age_seconds=age.total_seconds() if age is not None else None,
        warn_after_seconds=_seconds(rule.warn_after),
        error_after_seconds=_seconds(rule.error_after),
        status=judge(age, rule.warn_after, rule.error_after), message=message,
        as_of=as_of, checked_at=checked_at,
    )


def source_freshness(project: Project, select: list[str] | None = None,
                     as_of: datetime | None = None, record: bool = True
                     ) -> list[SourceFreshness]:
    """Check the selected sources; with ``record``, append the results to the metadata schema."""
    checked_at = utcnow()
    found = [check_source(project, s, as_of or checked_at, checked_at)
             for s in select_sources(project, select)]
    if record and found:
        _record(project.engine, found)
    return found


def _seconds(delta: timedelta | None) -> float | None:
    return delta.total_seconds() if delta is not None else None


def _record(engine: Engine, results: list[SourceFreshness]) -> None:
    table = engine.relation(TABLE, engine.metadata_schema)
    engine.ensure_schema(engine.metadata_schema)
    rows = [(engine.schema, r.source, r.relation, r.timestamp_column, r.newest, r.age_seconds,
             r.warn_after_seconds, r.error_after_seconds, r.status, r.message, r.as_of,
             r.checked_at)
            for r in results]
    columns = ", ".join(f"{engine.quote(name)} {kind}" for name, kind in COLUMNS)
    with engine.transaction():
        engine.run(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        engine.insert_rows(table, [name for name, _ in COLUMNS], rows)


def monitor_thresholds(project: Project, source_name: str | None, warn: timedelta | None,
                       error: timedelta | None) -> tuple[timedelta | None, timedelta | None]:
    """A monitor freshness check's thresholds.

    The check's own ``warn:`` / ``error:``; when it gives neither and the monitor's source is a
    declared source with ``freshness:``, that source's ``warn_after`` / ``error_after``;
    otherwise the test's defaults fill what is missing (warn 1d, error 3d).
    """
    from featurekit.durations import parse_duration
    from featurekit.monitoring.specs import TESTS

    source = next((s for s in project.sources.values()
                   if source_name in (s.name, s.relation)), None)
    if warn is None and error is None and source is not None and source.freshness is not None:
        return source.freshness.warn_after, source.freshness.error_after
    spec = TESTS["freshness"]
    return (warn if warn is not None else parse_duration(spec.warn),
            error if error is not None else parse_duration(spec.error))
