"""Training-serving skew: the features a model was served, against the feature store's values.

For each prediction log row in the window, the point-in-time values of the service's features
at the row's ``predicted_at`` (its logged entity keys as the label set) are recomputed in the
engine by the same join ``training_set`` uses, and compared with the values logged as served:
a number differs when ``|served - recomputed| > tolerance`` or exactly one of them is NULL, any
other value when ``IS DISTINCT FROM``. Only one row of counts leaves the engine.

The join is the engine's own SQL (``Engine.point_in_time_sql``): it enters the canonical
comparison query as an expression parsed in the engine's dialect (``query.native``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from featurekit.engines.pit import ROW, TIME, PitView
from featurekit.errors import FeaturekitError, MonitorError, did_you_mean
from featurekit.monitoring.query import Sql, join, native, run, value
from featurekit.monitoring.query import rows as query_rows

if TYPE_CHECKING:
    from featurekit.monitoring.config import Check, Monitor
    from featurekit.project import Project
    from featurekit.retrieval import ViewRequest

DOUBLE = "DOUBLE PRECISION"


@dataclass(frozen=True)
class Compared:
    """One served feature column: the view column it is recomputed from, and its kind."""

    column: str  # in the prediction log (the feature's output name)
    view: str
    view_column: str
    numeric: bool


def compared_columns(requests: Sequence[ViewRequest],
                     kinds: Mapping[str, str]) -> list[Compared]:
    """The requested features as columns of the log (``kinds``: log column -> kind)."""
    return [Compared(output, r.model.name, column, kinds.get(output) == "numeric")
            for r in requests for column, output in r.columns]


def plan(project: Project, monitor: Monitor, check: Check, kinds: Mapping[str, str],
         label: str) -> tuple[str, list[ViewRequest], list[Compared]]:
    """(time column, view requests keyed by log columns, compared columns) of a skew check.

    Any mistake (unknown service, view, column or entity column, a feature the log lacks)
    is a MonitorError at the check's ``file:line``.
    """
    from featurekit.retrieval import _match_keys, resolve_features

    where = monitor.where(check.line)
    service = check.options.get("service")
    services = project.feature_services
    if service is not None and service not in services:
        raise MonitorError(f'{where}: unknown feature service "{service}"'
                           f"{did_you_mean(service, services)}; services are defined in "
                           f"{project.settings.models}/feature_services.yml")
    features = services[service].features if service else check.options["features"]
    try:
        requests = resolve_features(project, list(features),
                                    bool(check.options.get("full_names")))
        _match_keys(requests, list(kinds), check.options.get("entity_columns", {}), label)
    except FeaturekitError as exc:
        raise MonitorError(f"{where}: {exc}") from None
    at = check.options.get("at") or monitor.timestamp or ""
    if at not in kinds:
        raise MonitorError(f'{where}: unknown column "{at}" in {label}'
                           f"{did_you_mean(at, kinds)}; give the prediction time as `at:`")
    compared = compared_columns(requests, kinds)
    missing = [c.column for c in compared if c.column not in kinds]
    if missing:
        raise MonitorError(
            f"{where}: {label} has no served value for {', '.join(missing)}; log every "
            f"feature of the service under its output name (or list the logged ones with "
            f"`features:`)")
    return at, requests, compared


def skew_counts(project: Project, window: Sql, at: str, requests: Sequence[ViewRequest],
                compared: Sequence[Compared], tolerance: float) -> tuple[int, list[int]]:
    """(rows compared, rows differing per compared column) over the window's log rows.

    ``requests`` carry each view's keys as (log column, entity column) pairs; rows whose
    ``at`` time is NULL are not compared.
    """
    engine = project.engine
    q = engine.quote
    name = f"__fk_skew_{uuid.uuid4().hex[:12]}"
    # The rows to compare, numbered, stored once: the join reads them twice, and a view
    # would number them anew each time. (``Engine.create_temporary`` takes no bound values.)
    labels = engine.temporary_relation(name)
    create = "CREATE TEMPORARY TABLE" if engine.temporary_tables else "CREATE TABLE"
    keys = list(dict.fromkeys(lc for r in requests for lc, _ in r.keys))
    served = [f"w.{q(c.column)} AS {q(f'__fk_s{i}')}" for i, c in enumerate(compared)]
    select = ", ".join([*(f"w.{q(k)}" for k in keys), f"CAST(w.{q(at)} AS TIMESTAMP) AS {q(TIME)}",
                        f"row_number() OVER (ORDER BY NULL) AS {q(ROW)}", *served])
    run(engine, f"{create} {labels} AS SELECT {select} FROM (" + window
        + f") AS w WHERE w.{q(at)} IS NOT NULL")
    try:
        index = {(c.view, c.view_column): i for i, c in enumerate(compared)}
        views = [PitView(relation=engine.relation(r.model.name), keys=r.keys,
                         timestamp=r.model.timestamp or "", ttl=r.model.ttl,
                         columns=[(col, f"__fk_r{index[(r.model.name, col)]}")
                                  for col, _ in r.columns])
                 for r in requests]
        [(rows,)] = engine.rows(f"SELECT count(*) FROM {labels}")
        if rows == 0:
            return 0, [0] * len(compared)
        pit = native(engine, engine.point_in_time_sql(labels, views, int(rows)))
        tolerance_value = value(float(tolerance))
        differs: list[Sql | str] = ["count(*)"]
        for i, c in enumerate(compared):
            s, r = f"l.{q(f'__fk_s{i}')}", f"p.{q(f'__fk_r{i}')}"
            if c.numeric:
                test = (f"({s} IS NULL) <> ({r} IS NULL) OR ABS(CAST({s} AS {DOUBLE}) - "
                        f"CAST({r} AS {DOUBLE})) > CAST(" + tolerance_value + f" AS {DOUBLE})")
            else:
                test = Sql(f"CAST({s} AS TEXT) IS DISTINCT FROM CAST({r} AS TEXT)")
            differs.append("sum(CASE WHEN " + test + " THEN 1 ELSE 0 END)")
        counts = query_rows(engine, "SELECT " + join(differs) + f" FROM {labels} AS l JOIN "
                            + pit + f" AS p ON p.{q(ROW)} = l.{q(ROW)}")[0]
    finally:
        engine.drop_temporary(name)
    return int(counts[0]), [int(n or 0) for n in counts[1:]]
