"""Feast's feature-server JSON shape, mapped onto ``online_features``.

Request (``POST /get-online-features``, as Feast's ``feast serve`` takes it)::

    {"features": ["customer_spend_7d:spend_7d", ...],   # or "feature_service": "name"
     "entities": {"customer_id": [1, 2]},
     "full_feature_names": false}

Feature references may use Feast's ``view:feature`` or featurekit's ``view.column``
(``view:*`` / ``view.*`` too). The answer is column-major, as Feast's protobuf turned JSON
is: ``metadata.feature_names`` lists the entity columns then the features, and ``results``
holds one vector per name with a value, a status and an event timestamp per requested entity.
Entity columns are ``PRESENT`` with the epoch as timestamp; a feature is ``PRESENT``,
``NOT_FOUND`` (no row for the entity) or ``OUTSIDE_MAX_AGE`` (older than the view's ttl: its
value is null), and its timestamp is the view's ``feature_ts`` of the row served.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from featurekit.errors import FeaturekitError
from featurekit.online import MISSING, PRESENT, STALE, _aware, _lookup

if TYPE_CHECKING:
    from featurekit.project import Project

#: featurekit's online status -> Feast's FieldStatus name
STATUS = {"present": "PRESENT", "missing": "NOT_FOUND", "stale": "OUTSIDE_MAX_AGE"}
EPOCH = "1970-01-01T00:00:00Z"


class OnlineLookup:
    """``online_features`` answered straight in Feast's JSON, without a DataFrame.

    The lookup itself (statement, parameters, its cache per request shape) is
    ``online._lookup``'s; only the rows' conversion differs: building a frame and reading it
    back cost more than the database round trip of a single-entity request.
    """

    def __init__(self) -> None:
        #: request shape -> (views, statement, key columns), filled by ``online._lookup``
        self.statements: dict[Any, Any] = {}

    def __call__(self, project: Project, features: Sequence[str],
                 entities: Mapping[str, list[Any]], full_names: bool,
                 now: datetime | None = None) -> dict[str, Any]:
        n = len(next(iter(entities.values()), []))
        shape = (tuple(features), full_names, (), tuple(entities), n)
        try:
            rows, views = _lookup(project, self.statements, shape, dict(entities), n)
        except FeaturekitError:
            raise
        except Exception:  # a view rebuilt with other columns since cached: look again once
            self.statements.clear()
            rows, views = _lookup(project, self.statements, shape, dict(entities), n)
        now = now or datetime.now(UTC)
        names = list(entities)
        results = [{"values": list(values), "statuses": ["PRESENT"] * n,
                    "event_timestamps": [EPOCH] * n} for values in entities.values()]
        position = 1  # after the request row number
        for view in views:
            oldest = now - view.model.ttl if view.model.ttl is not None else None
            times = [row[position] for row in rows]
            statuses = [MISSING if t is None
                        else STALE if oldest is not None and _aware(t) < oldest else PRESENT
                        for t in times]
            shown = [STATUS[s] for s in statuses]
            stamps = [timestamp_json(t) for t in times]
            for offset, (_, output) in enumerate(view.columns, start=1):
                values = [None if s == STALE else value_json(row[position + offset])
                          for row, s in zip(rows, statuses)]
                results.append({"values": values, "statuses": shown,
                                "event_timestamps": stamps})
                names.append(output)
            position += 1 + len(view.columns)
        return {"metadata": {"feature_names": names}, "results": results}


def feature_reference(reference: str) -> str:
    """A Feast ``view:feature`` reference as featurekit's ``view.feature``.

    >>> feature_reference("driver_hourly_stats:conv_rate")
    'driver_hourly_stats.conv_rate'
    >>> feature_reference("customer_spend_7d.spend_7d")
    'customer_spend_7d.spend_7d'
    """
    view, colon, feature = reference.partition(":")
    return f"{view}.{feature}" if colon else reference


def timestamp_json(value: Any) -> str:
    """A timestamp as protobuf's JSON writes one: RFC 3339 in UTC, ``Z``, fraction if any.

    >>> timestamp_json(datetime(2021, 12, 31, 23, 0))
    '2021-12-31T23:00:00Z'
    >>> timestamp_json(datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC))
    '2024-01-02T03:04:05.250Z'
    >>> timestamp_json(None)
    '1970-01-01T00:00:00Z'
    """
    if value is None or _missing(value):
        return EPOCH
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    elif isinstance(value, date):
        value = datetime(value.year, value.month, value.day)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        fraction = f"{value.microsecond:06d}"
        text += "." + (fraction[:3] if fraction.endswith("000") else fraction)
    return text + "Z"


def value_json(value: Any) -> Any:
    """A value as JSON can carry it: numpy scalars as Python, NaN/NaT as null.

    >>> import numpy as np
    >>> value_json(np.int64(3)), value_json(float("nan")), value_json(Decimal("1.5"))
    (3, None, 1.5)
    """
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)) or hasattr(value, "to_pydatetime"):
        return None if _missing(value) else timestamp_json(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _missing(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return False
