"""Online features: the latest row of each feature view per requested entity, fast.

One statement per call, built by the engine (``Engine.latest_rows_sql``): the request becomes
a ``VALUES`` list of bound parameters and each view, where the engine can, one ``LATERAL``
probe of its (entity, timestamp) index. The statement for a given request shape is built once
and cached on the project, so a single-entity lookup costs one round trip plus building a
small frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from featurekit.errors import FeaturekitError, RetrievalError
from featurekit.retrieval import ViewRequest, _check_collisions, _match_keys, _view_schema
from featurekit.retrieval import resolve_features as _resolve

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from featurekit.engines.statements import Rendered
    from featurekit.project import Project

_CACHE_SIZE = 256
PRESENT, MISSING, STALE = "present", "missing", "stale"


def online_features(project: Project, features: Sequence[str],
                    entities: Mapping[str, Sequence[Any]] | pd.DataFrame,
                    full_names: bool = False, entity_columns: Mapping[str, str] | None = None,
                    now: datetime | None = None) -> pd.DataFrame:
    """The latest row of each view per requested entity, with its time and a status.

    Args:
        project: the project whose target holds the feature views.
        features: ``"view.column"`` or ``"view.*"`` references, or a feature service's name.
        entities: entity key values by column, e.g. ``{"customer_id": [1, 2]}``, or a frame.
        full_names: name feature columns ``view__column``.
        entity_columns: request column per entity column when named differently.
        now: the time staleness is judged at (default: now, UTC).

    Returns:
        One row per requested entity, in request order: the request columns, the features,
        and per view ``<view>__feature_ts`` and ``<view>__status``: ``present``, ``missing``
        (no row) or ``stale`` (older than the view's ttl, like Feast's OUTSIDE_MAX_AGE; its
        values are then NULL, exactly what ``training_set`` would give at ``now``).

    Raises:
        RetrievalError: an unknown view or column, a missing entity column, a collision, an
            integer key beyond 64 bits.
    """
    import pandas as pd

    if isinstance(entities, pd.DataFrame):
        request = {name: entities[name].tolist() for name in entities.columns}
    else:
        request = {name: list(values) for name, values in entities.items()}
    n = len(next(iter(request.values()), []))
    mapping = dict(entity_columns or {})
    cache = project.__dict__.setdefault("_online_cache", {})
    shape = (tuple(features) if not isinstance(features, str) else (features,), full_names,
             tuple(sorted(mapping.items())), tuple(request), n)
    try:
        rows, requests = _lookup(project, cache, shape, request, n)
    except FeaturekitError:
        raise
    except Exception:  # a view rebuilt with other columns since cached: look again once
        cache.clear()
        rows, requests = _lookup(project, cache, shape, request, n)
    return _frame(request, requests, rows, now or datetime.now(UTC))


def _lookup(project: Project, cache: dict, shape: tuple, request: dict[str, list[Any]],
            n: int) -> tuple[list[tuple], list[ViewRequest]]:
    if shape not in cache:
        features, full_names, mapping, columns, _ = shape
        schemas = cache.setdefault("schemas", {})

        def schema_of(name: str) -> pa.Schema:
            if name not in schemas:
                schemas[name] = _view_schema(project, name)
            return schemas[name]

        requests = _resolve(project, features, full_names, schema_of)
        _match_keys(requests, list(columns), dict(mapping), "entities")
        _check_collisions(requests, set(columns), full_names)
        if len(cache) > _CACHE_SIZE:
            cache.clear()
        cache[shape] = (requests, *online_sql(project, requests, n), _integer_keys(requests))
    requests, statement, key_columns, integer_keys = cache[shape]
    if n == 0:
        return [], requests
    params = [_plain(value) for row in zip(*(request[c] for c in key_columns)) for value in row]
    for position, column in enumerate(key_columns):
        if column in integer_keys:
            _check_int64(column, integer_keys[column], params[position::len(key_columns)])
    return project.engine.bound_rows(statement, dict(zip(statement.names, params))), requests


def _integer_keys(requests: list[ViewRequest]) -> dict[str, str]:
    """Request columns matched to an integer entity column, with that ``view.column``."""
    import pyarrow as pa

    return {c: f"{r.model.name}.{e}" for r in requests for c, e in r.keys
            if pa.types.is_integer(r.schema.field(e).type)}


def _check_int64(column: str, view_column: str, values: list[Any]) -> None:
    """Integer keys are compared as 64-bit: a value beyond that can be no view's key."""
    for value in values:
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise RetrievalError(
                f'entities column "{column}" holds {value}, outside the 64-bit integer range '
                f"of {view_column}; request keys between -2**63 and 2**63 - 1"
            )


def online_sql(project: Project, requests: list[ViewRequest],
               n: int) -> tuple[Rendered, list[str]]:
    """The lookup statement for ``n`` request rows, and the key columns its values follow
    (request row by request row)."""
    from featurekit.engines.latest import LatestView, RequestShape

    engine = project.engine
    key_columns = list(dict.fromkeys(c for r in requests for c, _ in r.keys))
    typed = []
    for column in key_columns:  # typed like the view's column, so its index applies
        field = next(r.schema.field(e) for r in requests for c, e in r.keys if c == column)
        typed.append((column, engine.sql_type(field.type)))
    views = [LatestView(engine.relation(r.model.name), r.keys, r.model.timestamp or "",
                        r.columns) for r in requests]
    return engine.latest_rows_sql(views, RequestShape(typed, n)), key_columns


def _plain(value: Any) -> Any:
    """numpy scalars as Python values and NaN/NaT as None (what drivers bind)."""
    if value is None or isinstance(value, (str, int)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if value != value:  # NaN, NaT
        return None
    return value


def _frame(request: dict[str, list[Any]], requests: list[ViewRequest], rows: list[tuple],
           now: datetime) -> pd.DataFrame:
    import pandas as pd

    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    out: dict[str, list[Any]] = dict(request)
    position = 1
    for r in requests:
        width = 1 + len(r.columns)
        block = [row[position:position + width] for row in rows]
        position += width
        oldest = now - r.model.ttl if r.model.ttl is not None else None
        statuses = [
            MISSING if values[0] is None
            else STALE if oldest is not None and _aware(values[0]) < oldest
            else PRESENT
            for values in block
        ]
        for n, (_, output) in enumerate(r.columns, start=1):
            out[output] = [None if s == STALE else v[n] for v, s in zip(block, statuses)]
        out[f"{r.model.name}__feature_ts"] = [values[0] for values in block]
        out[f"{r.model.name}__status"] = statuses
    return pd.DataFrame(out)


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)  # a DATE
