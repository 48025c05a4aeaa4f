"""Saved, reproducible training sets: a Parquet file plus a manifest in the state store.

``training_set(..., save="fraud_2024_01")`` writes the result to
``.featurekit/datasets/<target>/<name>-<hash>.parquet`` (content-addressed: a manifest never
points at a half-written file) and one row to ``<metadata schema>.datasets`` whose ``manifest``
(JSON) records how to rebuild it: the request (labels SQL, or the labels' content hash and
columns, which the file itself holds), the features (and the service they came from), per
feature view its SQL fingerprint, last successful run and high-water mark, the row count, the
content hash, featurekit's version and the target. ``verify`` rebuilds the set from that
request and says whether it is identical and, if not, which columns differ and which views'
SQL or data changed since.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.errors import DatasetError, did_you_mean
from featurekit.state import as_naive_utc, utcnow

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from featurekit.project import Project

TABLE = "datasets"
COLUMNS = ("target_schema TEXT, name TEXT, created_at TIMESTAMP, path TEXT, rows BIGINT, "
           "content_hash TEXT, manifest TEXT")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
FOLDER = Path(".featurekit") / "datasets"


@dataclass(frozen=True)
class SavedDataset:
    """One saved training set as its manifest row describes it."""

    name: str
    created_at: datetime
    path: str  # relative to the project
    rows: int
    content_hash: str
    manifest: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ViewChange:
    """What changed in one feature view since a dataset was saved."""

    view: str
    sql_changed: bool
    data_changed: bool
    saved: dict[str, Any]
    now: dict[str, Any]


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``: identical, or which columns, labels and views changed."""

    name: str
    identical: bool
    rows_saved: int
    rows_now: int
    hash_saved: str
    hash_now: str
    changed_columns: list[str]
    labels_changed: bool
    views: list[ViewChange]

    @property
    def changed_views(self) -> list[ViewChange]:
        return [v for v in self.views if v.sql_changed or v.data_changed]


# -- content hash ---------------------------------------------------------------------------
def _type_name(arrow_type: pa.DataType) -> str:
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return _type_name(arrow_type.value_type)
    if t.is_large_string(arrow_type):
        return "string"
    return str(arrow_type)


def column_digests(table: pa.Table) -> dict[str, bytes]:
    """Per column, a SHA-256 of its name, type, null mask and per-value hashes (in order)."""
    import hashlib

    import pandas as pd

    digests = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        digest = hashlib.sha256(f"{name}\0{_type_name(column.type)}\0".encode())
        digest.update(column.is_null().to_numpy(zero_copy_only=False).tobytes())
        values = column.to_numpy(zero_copy_only=False)
        digest.update(pd.util.hash_array(values, categorize=False).tobytes())
        digests[name] = digest.digest()
    return digests


def combine(rows: int, digests: Sequence[bytes]) -> str:
    """The content hash of ``rows`` rows whose columns have ``digests``, in column order."""
    import hashlib

    return hashlib.sha256(str(rows).encode() + b"".join(digests)).hexdigest()


def content_hash(table: pa.Table) -> str:
    """A SHA-256 of the table's column names, types and values, row order included.

    The same values give the same hash however they are chunked or were stored (Parquet round
    trips, string vs large_string); NULL and NaN differ from every value.

    >>> import pyarrow as pa
    >>> a = pa.table({"x": [1, None, 3], "s": ["a", "b", None]})
    >>> b = pa.concat_tables([a.slice(0, 1), a.slice(1)])
    >>> content_hash(a) == content_hash(b), content_hash(a) == content_hash(a.slice(1))
    (True, False)
    """
    return combine(table.num_rows, list(column_digests(table).values()))


# -- the manifest table ---------------------------------------------------------------------
class Manifests:
    """The ``datasets`` table in the metadata schema (one row per saved training set)."""

    def __init__(self, project: Project):
        self.engine = project.engine
        self.schema = self.engine.metadata_schema
        self.table = self.engine.relation(TABLE, self.schema)

    def exists(self) -> bool:
        return self.engine.relation_kind(TABLE, self.schema) is not None

    def ensure(self) -> None:
        self.engine.ensure_schema(self.schema)
        self.engine.run(f"CREATE TABLE IF NOT EXISTS {self.table} ({COLUMNS})")

    def all(self) -> list[SavedDataset]:
        if not self.exists():
            return []
        rows = self.engine.rows(
            f"SELECT name, created_at, path, rows, content_hash, manifest FROM {self.table} "
            "WHERE target_schema = :target_schema ORDER BY name",
            {"target_schema": self.engine.schema})
        return [SavedDataset(n, as_naive_utc(c), p, int(r), h, json.loads(m))
                for n, c, p, r, h, m in rows]

    def get(self, name: str) -> SavedDataset:
        saved = {d.name: d for d in self.all()}
        if name not in saved:
            known = f"; saved: {', '.join(saved)}" if saved else "; none is saved yet"
            raise DatasetError(f'no saved training set named "{name}"'
                               f"{did_you_mean(name, saved)}{known}")
        return saved[name]

    def replace(self, dataset: SavedDataset) -> None:
        """Write the dataset's row, replacing one of the same name, in one transaction."""
        params = {"target_schema": self.engine.schema, "name": dataset.name,
                  "created_at": dataset.created_at, "path": dataset.path, "rows": dataset.rows,
                  "content_hash": dataset.content_hash, "manifest": json.dumps(dataset.manifest)}
        with self.engine.transaction():
            self.engine.run(f"DELETE FROM {self.table} "
                            "WHERE target_schema = :target_schema AND name = :name", params)
            self.engine.run(
                f"INSERT INTO {self.table} VALUES (:target_schema, :name, :created_at, :path, "
                ":rows, :content_hash, :manifest)", params)


def check_name(project: Project, name: str, overwrite: bool) -> None:
    """Refuse a malformed name, or a saved one unless ``overwrite`` (before any work is done)."""
    if not _NAME.fullmatch(name):
        raise DatasetError(f'dataset name "{name}" must be letters, digits, "_", "-" or "." '
                           f"(starting with a letter or digit, at most 128 characters)")
    manifests = Manifests(project)
    if not overwrite and any(d.name == name for d in manifests.all()):
        raise DatasetError(f'a training set named "{name}" is already saved; pass '
                           f"overwrite=True (train-set: --overwrite) to replace it, or pick "
                           f"another name")


# -- building the manifest ------------------------------------------------------------------
def view_states(project: Project, views: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per view: the SQL fingerprint now, and its last successful run as the state records."""
    state = project.state_store.state
    runs = state.last_runs() if state.exists() else {}
    out: dict[str, dict[str, Any]] = {}
    for view in views:
        run = runs.get(view)
        out[view] = {
            "fingerprint": project.fingerprint(view),
            "built_fingerprint": run.fingerprint if run else None,
            "last_success": _iso(run.last_success if run else None),
            "high_water_mark": _iso(run.high_water_mark if run else None),
            "rows": run.rows if run else None,
        }
    return out


def _iso(value: Any) -> str | None:
    moment = as_naive_utc(value)
    return moment.isoformat() if moment is not None else None


def build_manifest(project: Project, labels: Any, label_table: pa.Table,
                   features: str | Sequence[str], resolved: list[str],
                   columns: Mapping[str, str], timestamp: str, full_names: bool,
                   entity_columns: Mapping[str, str] | None, result: pa.Table) -> dict[str, Any]:
    """Everything ``verify`` needs to rebuild the set and explain a difference."""
    import featurekit

    asked = [features] if isinstance(features, str) else list(features)
    services = {name: {"version": s.version, "fingerprint": s.fingerprint,
                       "features": list(s.features)}
                for name in asked if (s := project.feature_services.get(name)) is not None}
    label_request: dict[str, Any] = {"sql": labels} if isinstance(labels, str) else {}
    label_request.update(columns=label_table.column_names, rows=label_table.num_rows,
                         content_hash=content_hash(label_table))
    views = list(dict.fromkeys(ref.split(".", 1)[0] for ref in columns.values()))
    return {
        "request": {
            "labels": label_request,
            "features": asked,
            "resolved_features": resolved,
            "services": services,
            "timestamp": timestamp,
            "full_names": full_names,
            "entity_columns": dict(entity_columns or {}),
        },
        "columns": dict(columns),  # output column -> view.column
        "views": view_states(project, views),
        "rows": result.num_rows,
        "content_hash": content_hash(result),
        "featurekit_version": featurekit.__version__,
        "target": {"name": project.target.name, "type": project.target.type,
                   "schema": project.target.schema},
    }


def save(project: Project, name: str, result: pa.Table, manifest: dict[str, Any],
         overwrite: bool) -> SavedDataset:
    """Write the Parquet file, then the manifest row; an older version's file goes last."""
    import pyarrow.parquet as pq

    check_name(project, name, overwrite)
    manifests = Manifests(project)
    manifests.ensure()
    old = next((d for d in manifests.all() if d.name == name), None)
    relative = FOLDER / project.target.name / f"{name}-{manifest['content_hash'][:16]}.parquet"
    path = project.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(result, partial)
    os.replace(partial, path)
    dataset = SavedDataset(name, utcnow(), str(relative), result.num_rows,
                           manifest["content_hash"], manifest)
    try:
        manifests.replace(dataset)
    except BaseException:
        if old is None or old.path != str(relative):
            path.unlink(missing_ok=True)
        raise
    if old is not None and old.path != str(relative):
        (project.root / old.path).unlink(missing_ok=True)
    return dataset


# -- the facade's entry points --------------------------------------------------------------
def training_set(project: Project, labels: Any, features: str | Sequence[str], *,
                 save_as: str | None, overwrite: bool, log_to_mlflow: bool, timestamp: str,
                 full_names: bool, entity_columns: Mapping[str, str] | None, as_arrow: bool,
                 progress: Any = None) -> pd.DataFrame | pa.Table:
    """``retrieval.training_set``, then save it and/or log it to MLflow."""
    from featurekit import retrieval
    from featurekit.services import expand

    if log_to_mlflow and save_as is None:
        raise DatasetError("log_to_mlflow=True records a saved training set: pass save=NAME too")
    if save_as is not None:
        check_name(project, save_as, overwrite)  # fail before the work, not after
    resolved = expand(features, project.feature_services)
    result = retrieval.training_set(project, labels, resolved, timestamp=timestamp,
                                    full_names=full_names, entity_columns=entity_columns,
                                    as_arrow=True, progress=progress)
    requests = retrieval.resolve_features(project, resolved, full_names)
    columns = {out: f"{r.model.name}.{col}" for r in requests for col, out in r.columns}
    label_table = result.drop_columns(list(columns))
    step = progress or (lambda message: None)
    step("hashing")
    manifest = build_manifest(project, labels, label_table, features, resolved, columns,
                              timestamp, full_names, entity_columns, result)
    if save_as is not None:
        step(f"saving {save_as}")
        dataset = save(project, save_as, result, manifest, overwrite)
        if log_to_mlflow:
            from featurekit.mlflow_log import log_dataset

            log_dataset(save_as, manifest, project.root / dataset.path)
    if as_arrow:
        return result
    return _as_frame(labels, result, list(columns))


def _as_frame(labels: Any, result: pa.Table, feature_columns: list[str]) -> pd.DataFrame:
    """The result as ``retrieval.training_set`` returns it: a label frame keeps its index."""
    import pandas as pd

    from featurekit.arrow import arrow_to_pandas

    if not isinstance(labels, pd.DataFrame):
        return arrow_to_pandas(result)
    values = arrow_to_pandas(result.select(feature_columns))
    values.index = labels.index
    return pd.concat([labels, values], axis=1) if feature_columns else labels.copy()


def load(project: Project, name: str, as_arrow: bool = False) -> pd.DataFrame | pa.Table:
    """The saved training set ``name`` as it was saved."""
    import pyarrow.parquet as pq

    from featurekit.arrow import arrow_to_pandas

    dataset = Manifests(project).get(name)
    table = pq.read_table(_file(project, dataset))
    return table if as_arrow else arrow_to_pandas(table)


def _file(project: Project, dataset: SavedDataset) -> Path:
    path = project.root / dataset.path
    if not path.is_file():
        raise DatasetError(f"training set {dataset.name}: its file {dataset.path} is missing "
                           f"(saved on another machine, or deleted); save it again")
    return path


def verify(project: Project, name: str, progress: Any = None) -> Verification:
    """Rebuild the saved training set from its manifest and compare (see the module doc)."""
    import pyarrow.parquet as pq

    from featurekit import retrieval

    step = progress or (lambda message: None)
    dataset = Manifests(project).get(name)
    request = dataset.manifest["request"]
    step(f"reading {dataset.path}")
    saved = pq.read_table(_file(project, dataset))
    label_request = request["labels"]
    # SQL labels run again (their rows may have changed); other labels are the file's own
    labels = label_request.get("sql") or saved.select(label_request["columns"])
    rebuilt = retrieval.training_set(project, labels, request["resolved_features"],
                                     timestamp=request["timestamp"],
                                     full_names=request["full_names"],
                                     entity_columns=request["entity_columns"], as_arrow=True,
                                     progress=progress)
    step("hashing")
    digests = column_digests(rebuilt)
    hash_now = combine(rebuilt.num_rows, list(digests.values()))
    identical = hash_now == dataset.content_hash
    changed = [] if identical else _changed_columns(saved, rebuilt, digests)
    wanted = label_request["columns"]
    labels_changed = not set(wanted) <= set(digests) or combine(
        rebuilt.num_rows, [digests[c] for c in wanted]) != label_request["content_hash"]
    recorded = dataset.manifest["views"]
    now = view_states(project, list(recorded))
    views = [ViewChange(view, sql_changed=now[view]["fingerprint"] != then["fingerprint"],
                        data_changed=any(now[view][k] != then[k] for k in
                                         ("last_success", "high_water_mark", "rows")),
                        saved=then, now=now[view])
             for view, then in recorded.items()]
    return Verification(name, identical, dataset.rows, rebuilt.num_rows, dataset.content_hash,
                        hash_now, changed, labels_changed, views)


def _changed_columns(saved: pa.Table, rebuilt: pa.Table,
                     digests: Mapping[str, bytes]) -> list[str]:
    """Columns whose values differ (all of them when the row counts differ)."""
    names = list(dict.fromkeys([*saved.column_names, *rebuilt.column_names]))
    if saved.num_rows != rebuilt.num_rows:
        return names
    before = column_digests(saved)
    return [n for n in names if before.get(n) is None or before.get(n) != digests.get(n)]


def ls(project: Project) -> list[SavedDataset]:
    return Manifests(project).all()


def show(project: Project, name: str) -> SavedDataset:
    return Manifests(project).get(name)
