"""Point-in-time training sets over feature views (online lookups: ``online.py``).

Semantics (as the README pins them, Feast-compatible): for each label row and each feature view,
the view's row with the same entity key and the greatest ``feature_ts`` such that
``feature_ts <= t`` and, when the view has a ttl, ``feature_ts >= t - ttl`` (both inclusive);
no such row gives NULLs. Every label row comes back once, in order, with all its columns.

The join runs in the engine (``Engine.point_in_time_join``); Python only validates the request,
hands the label keys to the engine (``Engine.temporary_table``) and puts the label order back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featurekit.engines.pit import COLUMN, KEY, ROW, TIME, PitView
from featurekit.errors import RetrievalError, did_you_mean, without_sql_excerpt

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from featurekit.model import Model
    from featurekit.project import Project

Progress = Callable[[str], None]


@dataclass
class ViewRequest:
    """The columns wanted from one feature view, with their output names."""

    model: Model
    schema: pa.Schema
    columns: list[tuple[str, str]]  # (view column, output name)
    keys: list[tuple[str, str]]  # (label / request column, view entity column)


#: True while ``featurekit train-set`` runs: messages then name its options, not keywords
_COMMAND_LINE: ContextVar[bool] = ContextVar("featurekit_command_line", default=False)


def _hint(keyword: str, option: str) -> str:
    """How a message names a setting: the Python keyword, or the train-set option."""
    return option if _COMMAND_LINE.get() else keyword


# -- resolving feature references ---------------------------------------------------------
def _view_schema(project: Project, name: str) -> pa.Schema:
    schema = project.engine.model_schema(name)
    if schema is None:
        raise RetrievalError(
            f"feature view {name} has not been built on target {project.target.name}; "
            f"run `featurekit refresh --select {name}` first"
        )
    return schema


def resolve_features(project: Project, features: Sequence[str], full_names: bool,
                     schema_of: Callable[[str], pa.Schema] | None = None) -> list[ViewRequest]:
    """Group ``view.column`` / ``view.*`` references by view, with output names; a feature
    service's name stands for its references.

    Raises RetrievalError for a malformed reference, an unknown view or column (naming the
    closest), a model that is not a feature view, or two features with one output name.
    """
    from featurekit.services import expand

    items = [features] if isinstance(features, str) else list(features)
    # Only a name without a dot can be a service: plain references need not load them (and
    # so parse every model's SQL).
    named = any("." not in str(item) for item in items)
    features = expand(items, project.feature_services if named else {})
    if not features:
        example = _hint("features=['view.*']", "--features 'view.*'")
        raise RetrievalError(f"no features requested; pass e.g. {example}")
    schema_of = schema_of or (lambda name: _view_schema(project, name))
    requests: dict[str, ViewRequest] = {}
    for ref in features:
        view, dot, column = str(ref).partition(".")
        if not dot or not view or not column:
            services = project.feature_services
            raise RetrievalError(
                f'feature reference "{ref}" must be "view.column" or "view.*" (or the name of a '
                f"feature service){did_you_mean(str(ref), services)}"
                + (f"; services: {', '.join(services)}" if services else "")
            )
        if view not in project.headers:  # headers: no need to parse every model's SQL
            raise RetrievalError(
                f'unknown feature view "{view}" in "{ref}"{did_you_mean(view, project.headers)}'
            )
        model = project.headers[view]
        if not model.is_feature_view:
            raise RetrievalError(
                f'model {view} is not a feature view (its header has no `entity:`), so '
                f'"{ref}" cannot be looked up point-in-time; add `entity:` and `timestamp:` '
                f"to {model.path}"
            )
        if view not in requests:
            requests[view] = ViewRequest(model, schema_of(view), [], [])
        request = requests[view]
        names = request.schema.names
        if column == "*":
            wanted = [c for c in names if c not in model.unique_key]
        elif column in names:
            wanted = [column]
        else:
            raise RetrievalError(
                f'feature view {view} has no column "{column}"{did_you_mean(column, names)}; '
                f"its columns: {', '.join(names)}"
            )
        for name in wanted:
            output = f"{view}__{name}" if full_names else name
            if (name, output) not in request.columns:
                request.columns.append((name, output))
    _check_collisions(list(requests.values()), set(), full_names)
    return list(requests.values())


def _check_collisions(requests: list[ViewRequest], taken: set[str], full_names: bool) -> None:
    seen: dict[str, str] = {}
    hint = "" if full_names else (
        f" (or pass {_hint('full_names=True', '--full-names')} for view__column names)")
    for request in requests:
        for column, output in request.columns:
            source = f"{request.model.name}.{column}"
            if output in seen:
                raise RetrievalError(
                    f'features {seen[output]} and {source} would both be named "{output}"; '
                    f"request only one{hint}"
                )
            if output in taken:
                raise RetrievalError(
                    f'feature {source} has the name of the label column "{output}"; rename '
                    f"that column{hint}"
                )
            seen[output] = source


def _key_column(view: str, entity: str, entity_columns: Mapping[str, str]) -> str:
    return entity_columns.get(f"{view}.{entity}", entity_columns.get(entity, entity))


def _match_keys(requests: list[ViewRequest], columns: Sequence[str],
                entity_columns: Mapping[str, str], what: str) -> None:
    for request in requests:
        view = request.model.name
        request.keys = []
        for entity in request.model.entity:
            column = _key_column(view, entity, entity_columns)
            if column not in columns:
                raise RetrievalError(
                    f'{what} has no column "{column}" for entity {entity} of feature view '
                    f"{view}{did_you_mean(column, columns)}; pass "
                    + _hint(f'entity_columns={{"{entity}": "<your column>"}}',
                            f"--entity {entity}=<your column>")
                    + " if it is named differently"
                )
            request.keys.append((column, entity))


# -- labels -------------------------------------------------------------------------------
def _labels_table(project: Project, labels: Any) -> pa.Table:
    """Labels as Arrow: a DataFrame or Arrow table as given, a SQL string run in the engine."""
    from featurekit.arrow import to_arrow

    if isinstance(labels, str):
        from featurekit.sql import parse

        expression = parse(labels, project.settings.dialect, "labels query")
        sql = project.compile_query(expression, "labels query")
        try:
            return project.engine.fetch_arrow(sql)
        except project.engine.errors as exc:
            raise RetrievalError(f"labels query failed on target {project.target.name}: "
                                 f"{without_sql_excerpt(str(exc))}") from None
    try:
        return to_arrow(labels)
    except TypeError as exc:
        raise RetrievalError(f"labels: {exc}, or a SQL query string") from None


def _category(arrow_type: pa.DataType) -> str:
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return _category(arrow_type.value_type)
    if t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "number"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "string"
    if t.is_timestamp(arrow_type) or t.is_date(arrow_type):
        return "time"
    return str(arrow_type)


def _key_array(column: pa.ChunkedArray, name: str, view_field: pa.Field,
               view: str) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_null(column.type):  # all NULL (e.g. an empty object column): take the view's type
        return column.cast(view_field.type)
    if t.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if t.is_timestamp(column.type):
        return _utc_naive(column, name)
    if _category(column.type) != _category(view_field.type):
        raise RetrievalError(
            f'label column "{name}" holds {column.type} values but entity {view_field.name} of '
            f"feature view {view} is {view_field.type}; convert the column"
        )
    return column.cast(pa.large_string()) if t.is_string(column.type) else column


def _utc_naive(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Naive UTC microseconds: naive input is UTC already, tz-aware input is converted."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as t

    if t.is_null(column.type) or t.is_date(column.type):
        return column.cast(pa.timestamp("us"))
    if not t.is_timestamp(column.type):
        raise RetrievalError(
            f'timestamp column "{name}" holds {column.type} values, not timestamps; convert it '
            f"(pandas: pd.to_datetime(labels[{name!r}]))"
        )
    if column.type.unit == "ns":  # floor, so a label never sees a row from its future
        column = pc.floor_temporal(column, unit="microsecond")
    # Casting away the zone keeps the UTC instant, which is what the engine compares.
    return column.cast(pa.timestamp("us"), safe=False)


def _label_keys(labels: pa.Table, timestamp: str,
                requests: list[ViewRequest]) -> tuple[pa.Table, dict[str, str]]:
    """The relation the engine joins, and the name it gives each label key column.

    Its columns have internal names only (``__fk_k<n>``, ``__fk_t``, ``__fk_row``), so a label
    column named like one of them can never be mistaken for it.
    """
    import numpy as np
    import pyarrow as pa

    names: dict[str, str] = {}
    columns: dict[str, pa.ChunkedArray] = {}
    for request in requests:
        for label_column, entity in request.keys:
            if label_column not in names:
                names[label_column] = f"{KEY}{len(names)}"
                field = request.schema.field(entity)
                columns[names[label_column]] = _key_array(
                    labels[label_column], label_column, field, request.model.name
                )
    columns[TIME] = _utc_naive(labels[timestamp], timestamp)
    columns[ROW] = pa.chunked_array([pa.array(np.arange(labels.num_rows, dtype=np.int64))])
    return pa.table(columns), names


# -- training sets ------------------------------------------------------------------------
def training_set(project: Project, labels: Any, features: Sequence[str],
                 timestamp: str = "event_timestamp", full_names: bool = False,
                 entity_columns: Mapping[str, str] | None = None, as_arrow: bool = False,
                 progress: Progress | None = None) -> pd.DataFrame | pa.Table:
    """Point-in-time correct feature values for every label row (see the module docstring).

    Args:
        project: the project whose target holds the feature views.
        labels: a pandas DataFrame, a pyarrow Table, or a SQL query (project dialect, may
            name models) run in the engine; it holds the entity columns and ``timestamp``.
        features: ``"view.column"`` / ``"view.*"`` references from any number of views, or
            a feature service's name (``models_sql/feature_services.yml``).
        timestamp: the label column with each row's point in time (naive = UTC).
        full_names: name feature columns ``view__column`` instead of ``column``.
        entity_columns: label column per entity column when they are named differently,
            e.g. ``{"customer_id": "buyer_id"}`` (or ``{"view.customer_id": ...}`` for one view).
        as_arrow: return a pyarrow Table instead of a pandas DataFrame.
        progress: called with a short description as each step starts.

    Returns:
        The label rows in their original order (duplicates kept, a DataFrame's index kept),
        with all their columns followed by the feature columns.

    Raises:
        RetrievalError: a missing timestamp or entity column, a timestamp column that is not
            a timestamp, an unknown view or column, a non-feature model, a name collision.
    """
    step = progress or (lambda message: None)
    step("resolving features")
    requests = resolve_features(project, features, full_names)
    step("reading labels")
    frame, table = (labels, None) if _is_frame(labels) else (None, _labels_table(project, labels))
    names = [str(c) for c in frame.columns] if frame is not None else table.column_names
    if timestamp not in names:
        raise RetrievalError(
            f'label set has no timestamp column "{timestamp}"{did_you_mean(timestamp, names)}; '
            f"pass {_hint('timestamp=', '--timestamp ')}<column holding each row's point in time>"
        )
    _match_keys(requests, names, entity_columns or {}, "label set")
    _check_collisions(requests, set(names), full_names)
    if table is None:  # a DataFrame: only its key columns go to the engine unless Arrow is out
        wanted = {timestamp, *(c for r in requests for c, _ in r.keys)}
        subset = labels if as_arrow else labels[[c for c in labels.columns if str(c) in wanted]]
        table = _labels_table(project, subset)
    keys, key_names = _label_keys(table, timestamp, requests)
    found, order = _join(project, keys, key_names, requests, step)
    step("assembling")
    if as_arrow:
        found = found.take(order)
        for name in found.column_names:
            table = table.append_column(name, found[name])
        return table
    import pandas as pd

    from featurekit.arrow import arrow_to_pandas

    # Reordering in pandas is several times faster than Arrow's take over nullable columns.
    values = arrow_to_pandas(found).take(order)
    frame = frame if frame is not None else arrow_to_pandas(table)
    values.index = frame.index
    return pd.concat([frame, values], axis=1) if len(values.columns) else frame.copy()


def _is_frame(labels: Any) -> bool:
    import sys

    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is imported already
    return pandas is not None and isinstance(labels, pandas.DataFrame)


def _join(project: Project, keys: pa.Table, key_names: Mapping[str, str],
          requests: list[ViewRequest], step: Progress) -> tuple[pa.Table, np.ndarray]:
    """Run the engine's point-in-time join.

    Returns the feature columns in the engine's row order and, per label row, the position of
    its result row (``take`` puts them in label order).
    """
    import numpy as np
    import pyarrow as pa

    engine = project.engine
    n = keys.num_rows
    views, outputs = [], []
    for r in requests:
        # Output columns get internal names in SQL: a feature called like an internal column
        # (or like a label column of the relation) cannot shadow it there.
        aliases = [(column, f"{COLUMN}{len(outputs) + i}") for i, (column, _) in
                   enumerate(r.columns)]
        outputs += [output for _, output in r.columns]
        views.append(PitView(
            relation=engine.model_reader(r.model.name),
            keys=[(key_names[label], entity) for label, entity in r.keys],
            timestamp=r.model.timestamp or "",
            ttl=r.model.ttl,
            columns=aliases,
        ))
    step(f"loading {n:,} label rows")
    with engine.temporary_table(keys) as labels:
        step("point-in-time join")
        result = engine.point_in_time_join(labels, views, n)
    if result.num_rows != n:  # feature views are unique on (entity, timestamp): one match
        raise RetrievalError(
            f"point-in-time join returned {result.num_rows} rows for {n} label rows; a feature "
            f"view repeats an (entity, timestamp) key: refresh it (refresh enforces uniqueness)"
        )
    order = np.empty(n, dtype=np.int64)
    order[result[ROW].to_numpy()] = np.arange(n)
    result = result.drop_columns([ROW]).rename_columns(outputs)
    # DECIMAL comes back as float64 on every engine (PostgreSQL's numeric already does), so a
    # training set has the same types wherever it was built and pandas gets numbers, not objects.
    for i, field in enumerate(result.schema):
        if pa.types.is_decimal(field.type):
            result = result.set_column(i, field.name, result[i].cast(pa.float64()))
    return result, order


def training_set_file(project: Project, labels: str, features: Sequence[str], out: str | None,
                      timestamp: str = "event_timestamp", full_names: bool = False,
                      entity_columns: Mapping[str, str] | None = None,
                      progress: Progress | None = None, save: str | None = None,
                      overwrite: bool = False) -> int:
    """``training_set`` from a file (or query) to a file: what ``featurekit train-set`` runs.

    Args:
        project: the project whose target holds the feature views.
        labels: a ``.parquet`` or ``.csv`` file, or a SQL query (``SELECT ...``).
        features: feature references, as for ``training_set``.
        out: where to write the result, ``.parquet`` or ``.csv`` (None: only ``save``).
        timestamp, full_names, entity_columns, progress: as for ``training_set``.
        save, overwrite: save the result under this name too (``datasets``).

    Returns:
        The number of rows written.
    """
    from pathlib import Path

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    formats = (".parquet", ".csv")
    target = Path(out or "unused.parquet")
    if target.suffix.lower() not in formats:
        raise RetrievalError(f"--out {out}: write .parquet or .csv")
    source: Any = labels
    path = Path(labels)
    if path.suffix.lower() in formats:
        if not path.is_file():
            raise RetrievalError(f"labels file {labels} does not exist")
        (progress or (lambda message: None))(f"reading {path.name}")
        source = pq.read_table(path) if path.suffix.lower() == ".parquet" else pacsv.read_csv(path)
    elif not labels.lstrip().lower().startswith(("select", "with", "(")):
        raise RetrievalError(
            f"--labels {labels}: give a .parquet or .csv file, or a SQL query (SELECT ...)"
        )
    spelling = _COMMAND_LINE.set(True)
    try:
        table = project.training_set(source, features, timestamp=timestamp,
                                     full_names=full_names, entity_columns=entity_columns,
                                     as_arrow=True, progress=progress, save=save,
                                     overwrite=overwrite)
    finally:
        _COMMAND_LINE.reset(spelling)
    if out is None:
        return table.num_rows
    (progress or (lambda message: None))(f"writing {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".parquet":
        pq.write_table(table, target)
    else:
        pacsv.write_csv(table, target)
    return table.num_rows
