"""Prediction and outcome logs: typed tables analysts and monitors can query.

``predictions_<model>`` holds one row per prediction: ``prediction_id``, ``model_version``,
``predicted_at`` and the frame's columns. ``outcomes_<model>`` holds ground truth keyed by
``prediction_id`` with ``observed_at``; the view ``predictions_<model>_labeled`` joins them.

Writes are idempotent and all-or-nothing: a batch is checked against the table first, then
written in one transaction that also creates the table, its index and the labeled view when
needed. A new log gets the rows loaded straight in. An existing one, where the engine has a
unique index on ``prediction_id``, gets them appended in one bulk step that the index refuses
if an id is already logged; then (and on other engines) the batch is staged in a temporary
table typed like the log and only its new ids are inserted (an anti-join). So a retried batch
writes nothing twice and a bad batch writes nothing at all. Writers of one model's logs take
turns for that transaction (a lock held until commit): two first writers cannot both create
the table, and each writer sees the rows the previous one committed, so overlapping batches
from concurrent writers are written once.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from featurekit.errors import LogSchemaError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from featurekit.engines.base import Engine
    from featurekit.project import Project

PREDICTION_ID = "prediction_id"
MODEL_VERSION = "model_version"
PREDICTED_AT = "predicted_at"
OBSERVED_AT = "observed_at"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAMPLE = 5


class LogWrite(int):
    """The number of rows written, with what else happened as attributes.

    Attributes:
        table: the table written to.
        prediction_ids: the batch's prediction ids (the generated ones when none were given).
        skipped: rows not written because their prediction_id was already logged.
        unknown_ids: (outcomes) prediction ids with no logged prediction; their rows are kept.
    """

    table: str
    prediction_ids: list[Any]
    skipped: int
    unknown_ids: list[Any]

    def __new__(cls, written: int, table: str, prediction_ids: list[Any], skipped: int = 0,
                unknown_ids: list[Any] | None = None) -> LogWrite:
        value = super().__new__(cls, written)
        value.table = table
        value.prediction_ids = prediction_ids
        value.skipped = skipped
        value.unknown_ids = unknown_ids or []
        return value


class UnknownPredictionWarning(UserWarning):
    """Outcomes arrived for prediction ids that are not (yet) in the prediction log."""


def log_predictions(project: Project, model: str, frame: Any, version: str | None = None,
                    allow_new_columns: bool = False) -> LogWrite:
    """Append a batch of predictions to ``predictions_<model>`` (created on first use).

    Args:
        project: the project whose target receives the log.
        model: the model's name (letters, digits, underscores).
        frame: a pandas DataFrame or pyarrow Table: entity keys, features as served, outputs.
            An optional ``prediction_id`` column is kept (else uuid4 hex ids are generated;
            pass your own ids to make retries idempotent); an optional ``predicted_at``
            timestamp column is kept (naive = UTC), else the time of the call is used.
        version: stored in ``model_version`` (or the frame's own ``model_version`` column).
        allow_new_columns: add frame columns the table lacks instead of rejecting the batch.

    Returns:
        A LogWrite: the rows written (an int), with ``prediction_ids`` and ``skipped``.

    Raises:
        LogSchemaError: columns the table lacks, columns missing from the frame, a wrong
            type, NULL or repeated prediction ids; nothing of the batch is written then.
    """
    table = f"predictions_{_check_name(model)}"
    data = _to_arrow(frame, table)
    now = datetime.now(UTC)
    if PREDICTION_ID in data.column_names:
        ids = _ids(data[PREDICTION_ID], table)
    else:
        ids = _new_ids(data.num_rows)
    if version is not None and MODEL_VERSION in data.column_names:
        raise LogSchemaError(f"{table}: pass version=... or a {MODEL_VERSION} column, not both")
    import pyarrow as pa

    # Values shared by every row are bound once as parameters rather than sent per row.
    versions = data[MODEL_VERSION] if MODEL_VERSION in data.column_names else pa.scalar(
        version, pa.string())
    times = _times(data, PREDICTED_AT, now, table)
    batch = _assemble(data, {PREDICTION_ID: ids, MODEL_VERSION: versions, PREDICTED_AT: times})
    written, skipped = _write(project.engine, model, table, batch, allow_new_columns)
    return LogWrite(written, table, ids.to_pylist(), skipped)


def log_outcomes(project: Project, model: str, frame: Any,
                 allow_new_columns: bool = False) -> LogWrite:
    """Record ground truth for logged predictions in ``outcomes_<model>``.

    Args:
        project: the project whose target receives the log.
        model: the model's name, as given to ``log_predictions``.
        frame: a ``prediction_id`` column plus the outcome columns (e.g. ``is_fraud``); an
            optional ``observed_at`` timestamp column (naive = UTC), else the time of the call.
        allow_new_columns: add frame columns the table lacks instead of rejecting the batch.

    Returns:
        A LogWrite: the rows written (an int); ``skipped`` counts outcomes already recorded
        for their prediction_id; ``unknown_ids`` lists prediction ids with no logged
        prediction. Those rows are kept (they join once the prediction is logged) and an
        ``UnknownPredictionWarning`` says how many there were.

    Raises:
        LogSchemaError: as ``log_predictions``, or when ``prediction_id`` is missing.
    """
    name = _check_name(model)
    table, predictions = f"outcomes_{name}", f"predictions_{name}"
    data = _to_arrow(frame, table)
    if PREDICTION_ID not in data.column_names:
        raise LogSchemaError(
            f"{table}: the frame needs a {PREDICTION_ID} column saying which prediction each "
            f"outcome belongs to{did_you_mean(PREDICTION_ID, data.column_names)}"
        )
    ids = _ids(data[PREDICTION_ID], table)
    times = _times(data, OBSERVED_AT, datetime.now(UTC), table)
    batch = _assemble(data, {PREDICTION_ID: ids, OBSERVED_AT: times})
    engine = project.engine
    logged = dict(engine.columns(predictions))
    if (PREDICTION_ID in logged and len(ids)
            and _kind(logged[PREDICTION_ID]) != _kind(engine.sql_type(ids.type))):
        raise LogSchemaError(
            f"{table}: {PREDICTION_ID} holds {ids.type} values but {predictions}.{PREDICTION_ID} "
            f"is {logged[PREDICTION_ID]}; nothing was written"
        )
    unknown: list[Any] = []
    written, skipped = _write(engine, name, table, batch, allow_new_columns,
                              unknown_in=predictions, unknown=unknown)
    if unknown:
        warnings.warn(
            f"{len(unknown)} outcomes for model {name} name prediction ids not in {predictions} "
            f"(e.g. {', '.join(map(str, unknown[:_SAMPLE]))}); they are kept and join once those "
            f"predictions are logged",
            UnknownPredictionWarning,
            stacklevel=3,
        )
    return LogWrite(written, table, ids.to_pylist(), skipped, unknown)


# -- building the batch -------------------------------------------------------------------
def _check_name(model: str) -> str:
    if not isinstance(model, str) or not _NAME.match(model):
        raise LogSchemaError(
            f"model name {model!r} must be letters, digits and underscores (it names tables)"
        )
    return model


def _to_arrow(frame: Any, table: str) -> pa.Table:
    import pyarrow as pa

    from featurekit.arrow import to_arrow

    try:
        data = to_arrow(frame)
    except (TypeError, OverflowError, pa.ArrowException) as exc:
        raise LogSchemaError(f"{table}: cannot read the frame: {_unreadable(frame, exc)}; "
                             f"nothing was written") from None
    columns = {}
    for name, column in zip(data.column_names, data.columns):
        if pa.types.is_dictionary(column.type):  # pandas categoricals: store the values
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = _utc(column)
        if pa.types.is_integer(column.type) and column.type != pa.int64():
            column = _int64(column, name, table)
        columns[name] = column
    return pa.table(columns)


def _unreadable(frame: Any, exc: Exception) -> str:
    """Which column of a pandas frame Arrow cannot convert, and why."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(frame, pd.DataFrame):
        for name in frame.columns:
            try:
                pa.Array.from_pandas(frame[name])
            except (TypeError, OverflowError, pa.ArrowException) as column_exc:
                hint = (" (integers are stored as 64-bit: -2**63 to 2**63 - 1; log larger ones "
                        "as strings)" if isinstance(column_exc, OverflowError) else "")
                return f'column "{name}": {column_exc}{hint}'
    return str(exc)


def _int64(column: pa.ChunkedArray, name: str, table: str) -> pa.ChunkedArray:
    """Integer columns are stored as 64-bit (BIGINT), whatever width the first batch had."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return column.cast(pa.int64())
    except pa.ArrowInvalid:
        raise LogSchemaError(
            f'{table}: column "{name}" holds {pc.max(column).as_py()}, more than the largest '
            f"64-bit integer (2**63 - 1) a log stores; log such values as strings; nothing was "
            f"written"
        ) from None


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Microsecond UTC instants; naive timestamps are UTC already."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type.unit == "ns":
        column = pc.floor_temporal(column, unit="microsecond")
    return column.cast(pa.timestamp("us"), safe=False).cast(pa.timestamp("us", tz="UTC"))


def _ids(column: pa.ChunkedArray, table: str) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    if column.null_count:
        raise LogSchemaError(f"{table}: {PREDICTION_ID} has {column.null_count} NULLs; "
                             f"every row needs an id (or drop the column to generate ids)")
    if len(pc.unique(column)) < len(column):  # a third of the time value_counts takes
        counts = pc.value_counts(column)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
        sample = ", ".join(map(str, repeated.to_pylist()[:_SAMPLE]))
        raise LogSchemaError(f"{table}: {PREDICTION_ID} repeats within the batch ({sample})")
    return column


def _new_ids(n: int) -> pa.ChunkedArray:
    """``n`` random uuid4 ids as 32 hex digits, built in bulk (uuid.uuid4() is ~1 µs each)."""
    import numpy as np
    import pyarrow as pa

    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    pairs = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)
    text = pairs[raw].tobytes()  # two hex digits per byte, 32 per id
    offsets = np.arange(0, 32 * n + 1, 32, dtype=np.int32)
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return pa.chunked_array([array], pa.string())


def _times(data: pa.Table, column: str, now: datetime,
           table: str) -> pa.ChunkedArray | pa.Scalar:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column not in data.column_names:
        return pa.scalar(now, pa.timestamp("us", tz="UTC"))
    values = data[column]
    if pa.types.is_null(values.type):
        values = values.cast(pa.timestamp("us", tz="UTC"))
    if not pa.types.is_timestamp(values.type):
        raise LogSchemaError(f'{table}: column "{column}" holds {values.type} values, not '
                             f"timestamps; convert it or drop it to use the current time")
    return pc.fill_null(values, pa.scalar(now, pa.timestamp("us", tz="UTC")))


@dataclass
class Batch:
    """Rows to log: ``schema`` is every column in table order; ``data`` the columns sent as
    rows; ``constants`` the columns with one value for every row (bound as parameters)."""

    schema: pa.Schema
    data: pa.Table
    constants: dict[str, pa.Scalar]

    @property
    def num_rows(self) -> int:
        return self.data.num_rows


def _assemble(data: pa.Table, first: dict[str, pa.ChunkedArray | pa.Scalar]) -> Batch:
    import pyarrow as pa

    columns = {**first, **{n: data[n] for n in data.column_names if n not in first}}
    schema = pa.schema([(name, value.type) for name, value in columns.items()])
    constants = {n: v for n, v in columns.items() if isinstance(v, pa.Scalar)}
    rows = pa.table({n: v for n, v in columns.items() if n not in constants})
    return Batch(schema, rows, constants)


# -- checking and writing -----------------------------------------------------------------
_KINDS = (("bool", "boolean"), ("timestamp", "timestamp"), ("date", "date"),
          ("int", "integer"), ("double", "float"), ("float", "float"), ("real", "float"),
          ("numeric", "float"), ("decimal", "float"), ("char", "string"), ("text", "string"),
          ("string", "string"), ("interval", "interval"), ("time", "time"))


def _kind(sql_type: str) -> str:
    """A coarse family of a column type name, the same on every engine.

    >>> _kind("timestamp with time zone"), _kind("BIGINT"), _kind("VARCHAR")
    ('timestamp', 'integer', 'string')
    """
    lowered = sql_type.lower()
    return next((kind for word, kind in _KINDS if word in lowered), lowered)


def _fits(value_kind: str, column_kind: str) -> bool:
    return value_kind == column_kind or (value_kind, column_kind) == ("integer", "float")


def _check(engine: Engine, table: str, schema: pa.Schema, existing: list[tuple[str, str]],
           allow_new_columns: bool, empty: set[str]) -> list[tuple[str, str]]:
    """Raise LogSchemaError naming every column that does not fit; returns columns to add.

    ``empty`` names the batch's columns without a single value (all NULL, or no rows): they
    fit a column of any type, and are loaded typed like it.
    """
    have = dict(existing)
    extra = [c for c in schema.names if c not in have]
    missing = [c for c in have if c not in schema.names]
    problems = []
    if missing:
        problems.append(f"the frame lacks column(s) {', '.join(missing)} (log None for values "
                        f"you do not have)")
    if extra and not allow_new_columns:
        hints = "".join(did_you_mean(c, missing) for c in extra[:1])
        problems.append(f"the table has no column(s) {', '.join(extra)}{hints} (pass "
                        f"allow_new_columns=True to add them)")
    wrong = []
    for field in schema:
        if field.name in have and field.name not in empty:
            value_kind, column_kind = _kind(engine.sql_type(field.type)), _kind(have[field.name])
            if not _fits(value_kind, column_kind):
                wrong.append(f"{field.name} is {field.type} but the column is {have[field.name]}")
    if wrong:
        problems.append("wrong types: " + "; ".join(wrong))
    if allow_new_columns:
        problems += _untyped(schema, extra)
    if problems:
        raise LogSchemaError(f"{table}: " + "; ".join(problems) + "; nothing was written")
    return [(c, engine.sql_type(schema.field(c).type)) for c in extra]


def _new_table(engine: Engine, table: str, schema: pa.Schema) -> list[tuple[str, str]]:
    """The columns of a log table created for this batch; raises when one has no type."""
    problems = _untyped(schema, schema.names)
    if problems:
        raise LogSchemaError(f"{table}: {problems[0]}; nothing was written")
    return [(field.name, engine.sql_type(field.type)) for field in schema]


def _untyped(schema: pa.Schema, names: list[str]) -> list[str]:
    import pyarrow as pa

    untyped = [c for c in names if pa.types.is_null(schema.field(c).type)]
    if not untyped:
        return []
    return [f"column(s) {', '.join(untyped)} hold only NULLs, so the new column's type is "
            f"unknown; give them a dtype"]


def _empty_columns(batch: Batch) -> set[str]:
    """Columns sent as rows that hold no value at all (constants always hold one)."""
    return {n for n, c in zip(batch.data.column_names, batch.data.columns)
            if c.null_count == len(c)}


def _write(engine: Engine, model: str, table: str, batch: Batch, allow_new_columns: bool,
           unknown_in: str | None = None, unknown: list[Any] | None = None) -> tuple[int, int]:
    """Check, then insert the rows whose prediction_id is new, in one transaction.

    The transaction also creates the table (with its unique index on PostgreSQL), adds new
    columns and (re)creates the labeled view, so a crash leaves all of it or none of it.
    ``unknown`` receives the batch's ids that ``unknown_in`` does not hold.

    Returns (rows written, rows skipped as already logged).
    """
    lock = f"log {engine.schema}.{model}"
    while True:
        existing = engine.columns(table)
        if existing:
            done = _append(engine, model, table, batch, existing, allow_new_columns, lock,
                           unknown_in, unknown)
        else:
            done = _create(engine, model, table, batch, lock, unknown_in, unknown)
        if done is not None:
            return done, batch.num_rows - done
        # Another writer created or changed the table meanwhile: check the batch again.


def _create(engine: Engine, model: str, table: str, batch: Batch, lock: str,
            unknown_in: str | None, unknown: list[Any] | None) -> int | None:
    """Create the log with the batch's rows; None (nothing done) when it exists by now."""
    target = engine.relation(table)
    columns = _new_table(engine, table, batch.schema)
    rows = _rows(batch)
    with engine.serialized(lock):
        if engine.columns(table):
            return None
        view = _labeled_view_kind(engine, model)  # refused before anything is written
        engine.create_table(table, columns)
        try:
            engine.load_arrow(rows, table, mode="append")  # every row is new
            # Built after the rows are in (faster); guards against other writers.
            engine.unique_index(table, PREDICTION_ID)
            if unknown_in is not None and unknown is not None:
                unknown.extend(_unknown_ids(engine, target, unknown_in))
            _ensure_labeled_view(engine, model, view, rebuild=True)
        except BaseException:
            if not engine.transactional_ddl:  # else the rollback drops it
                engine.drop(table)
            raise
    return batch.num_rows


def _append(engine: Engine, model: str, table: str, batch: Batch,
            existing: list[tuple[str, str]], allow_new_columns: bool, lock: str,
            unknown_in: str | None, unknown: list[Any] | None) -> int | None:
    """Insert the rows whose id is new; None (nothing done) when the table changed meanwhile."""
    added = _check(engine, table, batch.schema, existing, allow_new_columns,
                   _empty_columns(batch))
    # Outcomes need the batch on the server anyway (to find unknown ids): always staged.
    direct = _rows(batch) if unknown_in is None else None
    with engine.serialized(lock):
        if engine.columns(table) != existing:
            return None
        view = _labeled_view_kind(engine, model)  # refused before anything is written
        for name, sql_type in added:
            engine.add_column(table, name, sql_type)
        if direct is not None and engine.append_if_all_new(direct, table, PREDICTION_ID):
            fresh = batch.num_rows
        else:
            # Staged typed like the table: a column of NULLs (or of narrower integers) then
            # inserts into a column of any type without a cast per column.
            types = {**dict(existing), **dict(added)}
            temp_name = f"__fk_log_{uuid.uuid4().hex[:12]}"
            temp = engine.temporary_relation(temp_name)
            engine.load_arrow(batch.data, temp_name, temporary=True,
                              column_types={n: types[n] for n in batch.data.column_names})
            constants = {n: (v.as_py(), types[n]) for n, v in batch.constants.items()}
            fresh = engine.insert_missing(table, temp, batch.schema.names, PREDICTION_ID,
                                          constants)
            if unknown_in is not None and unknown is not None:
                unknown.extend(_unknown_ids(engine, temp, unknown_in))
            engine.drop_temporary(temp_name)  # on failure, the rollback drops it
        _ensure_labeled_view(engine, model, view, rebuild=bool(added))
    return fresh


def _rows(batch: Batch) -> pa.Table:
    """Every column of the batch as rows, constants repeated (for loading into the log)."""
    import pyarrow as pa

    return pa.table({
        name: pa.repeat(batch.constants[name], batch.num_rows) if name in batch.constants
        else batch.data[name]
        for name in batch.schema.names
    })


def _unknown_ids(engine: Engine, temp: str, predictions: str) -> list[Any]:
    """The batch's prediction ids that ``predictions`` does not hold (all, when it is missing)."""
    key = engine.quote(PREDICTION_ID)
    logged = engine.relation(predictions)
    if not engine.columns(predictions):
        return [row[0] for row in engine.rows(f"SELECT {key} FROM {temp}")]
    from featurekit.engines.base import STAGED_ALIAS as new
    from featurekit.engines.base import TARGET_ALIAS as old

    return [row[0] for row in engine.rows(
        f"SELECT {new}.{key} FROM {temp} AS {new} WHERE NOT EXISTS "
        f"(SELECT 1 FROM {logged} AS {old} WHERE {old}.{key} = {new}.{key})"
    )]


def _labeled_view_kind(engine: Engine, model: str) -> str | None:
    """"view" or None: what holds the name of ``model``'s labeled view.

    Raises LogSchemaError when something else holds it. Writers call this before writing, so
    that engines without transactional DDL write nothing either.
    """
    name = f"predictions_{model}_labeled"
    kind = engine.relation_kind(name)
    if kind not in (None, "view"):
        raise LogSchemaError(
            f"a {kind.replace('_', ' ')} named {name} is where the labeled view of model "
            f"{model} goes; rename or drop it; nothing was written"
        )
    return kind


def _ensure_labeled_view(engine: Engine, model: str, kind: str | None, rebuild: bool) -> None:
    """(Re)create ``predictions_<model>_labeled`` when both logs exist and the view is missing
    (``kind``, from ``_labeled_view_kind`` under the write's lock) or ``rebuild`` (their
    columns changed): every prediction with its outcome columns (NULL until the outcome is
    known); clashing names get ``outcome_``. Runs inside the write's transaction, so the view
    appears with the tables, and a missing one is recreated."""
    q = engine.quote
    name = f"predictions_{model}_labeled"
    predictions = [c for c, _ in engine.columns(f"predictions_{model}")]
    outcomes = [c for c, _ in engine.columns(f"outcomes_{model}")]
    if not predictions or not outcomes or (kind == "view" and not rebuild):
        return
    select = [f"p.{q(c)}" for c in predictions]
    for column in outcomes:
        if column != PREDICTION_ID:
            alias = f"outcome_{column}" if column in predictions else column
            select.append(f"o.{q(column)} AS {q(alias)}")
    view = engine.relation(name)
    logged = engine.relation_in_view(f"predictions_{model}", engine.schema)
    outcome = engine.relation_in_view(f"outcomes_{model}", engine.schema)
    engine.run(f"DROP VIEW IF EXISTS {view}")
    engine.run(
        f"CREATE VIEW {view} AS SELECT {', '.join(select)} FROM {logged} AS p "
        f"LEFT JOIN {outcome} AS o ON o.{q(PREDICTION_ID)} = p.{q(PREDICTION_ID)}"
    )
