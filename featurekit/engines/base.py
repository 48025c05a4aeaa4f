"""The engine interface: everything engine-specific lives behind these methods.

Two kinds of SQL reach an engine. ``execute``/``fetchall``/``fetch_arrow`` take SQL already
in the engine's dialect (model SQL rendered by ``sql.render``, or an engine's own statements).
``run``/``rows``/``run_count`` take featurekit's own statements, written once in the canonical
dialect with named ``:value`` placeholders (``engines.statements``), and render them for the
engine. Identifiers are quoted with ``Engine.quote`` in both.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from featurekit.errors import DuplicateKeyError, RefreshError

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from sqlglot import exp

    from featurekit.engines.pit import PitView
    from featurekit.profiles import Target

DUPLICATE_SAMPLE = 5
_STAGE = "__fk_stage"


class Engine:
    """Base class: shared SQL that works on every engine; subclasses add the native paths."""

    type: str = ""
    dialect: str = ""
    #: True when the database has real materialized views (else they are swapped tables).
    native_materialized_views = False
    #: True when several models may be refreshed at once (one connection each).
    concurrent_writers = False
    _in_transaction = False  # set while a transaction() block is open on this connection
    #: How identifiers are quoted (a quote inside one is doubled).
    identifier_quote = '"'
    #: Connect without creating anything and refuse writes (``engines.connect(read_only=)``).
    read_only = False
    #: True when the driver takes parameters by position (``$1``...) rather than by name.
    positional_parameters = False

    def __init__(self, target: Target):
        self.target = target
        self.schema = target.schema
        self.metadata_schema = target.metadata_schema

    # -- connection ---------------------------------------------------------------------
    def connect(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def execute(self, sql: str, params: Any = None) -> None:
        raise NotImplementedError

    def execute_count(self, sql: str, params: Any = None) -> int:
        """Run an INSERT/UPDATE/DELETE; the number of rows it touched."""
        raise NotImplementedError

    def fetchall(self, sql: str, params: Any = None) -> list[tuple]:
        raise NotImplementedError

    def fetch_arrow(self, sql: str) -> pa.Table:
        raise NotImplementedError

    # -- featurekit's own statements (canonical SQL, named parameters) -------------------
    def prepare(self, statement: str, params: Mapping[str, Any] | None = None
                ) -> tuple[str, Any]:
        """A canonical statement as this engine's SQL, with the values its driver binds."""
        from featurekit.engines.statements import render

        rendered = render(statement, self.dialect, self.positional_parameters)
        return rendered.sql, rendered.values(params, self.positional_parameters)

    def native(self, statement: str) -> str:
        """A canonical statement without parameters as this engine's SQL."""
        return self.prepare(statement)[0]

    def run(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a canonical statement (see ``engines.statements``)."""
        self.execute(*self.prepare(statement, params))

    def run_count(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a canonical INSERT/UPDATE/DELETE; the number of rows it touched."""
        return self.execute_count(*self.prepare(statement, params))

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """The rows of a canonical query."""
        return self.fetchall(*self.prepare(statement, params))

    def fetch_doubles(self, sql: str, params: Any = None,
                      nullable: Sequence[bool] | None = None) -> list[np.ndarray]:
        """The non-NULL values of each column of a query whose columns are all DOUBLE PRECISION.

        Read in bulk as float64 arrays (no Python object per value), in the query's order.
        ``nullable`` may say which columns can hold NULLs (a hint an engine may use).
        """
        raise NotImplementedError

    def fetch_df(self, sql: str) -> pd.DataFrame:
        from featurekit.arrow import arrow_to_pandas

        return arrow_to_pandas(self.fetch_arrow(sql))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all.

        Nested use joins the outer transaction (so e.g. ``load_arrow`` can run inside one).
        """
        if self._in_transaction:
            yield
            return
        self.execute("BEGIN")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            self.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self.execute("COMMIT")

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[bool]:
        """Hold a lock named ``key`` while the block runs; yields False when it is taken."""
        yield True

    @contextlib.contextmanager
    def serialized(self, key: str) -> Iterator[None]:
        """A transaction that waits for, and holds until it ends, a lock named ``key``.

        Sessions that create objects only when missing (``IF NOT EXISTS``, or a check then a
        CREATE) do it inside one of these, so two first users cannot both create them. Nested
        use joins the outer transaction. The default has no lock: engines with one writer
        (DuckDB) need none.
        """
        with self.transaction():
            self._wait_for_lock(key)
            yield

    def _wait_for_lock(self, key: str) -> None:
        """Inside a transaction: take the lock named ``key`` until the transaction ends."""

    # -- catalog ------------------------------------------------------------------------
    @staticmethod
    def unsupported(expression: exp.Expression) -> list[str]:
        """Constructs in ``expression`` this engine cannot run (named for the user)."""
        return []

    def syntax_error(self, sql: str) -> str | None:
        """The database's own parser's complaint about ``sql``, without running it (or None).

        Only syntax is judged: tables the query reads need not exist yet.
        """
        return None

    def quote(self, name: str) -> str:
        """The quoted identifier, or dotted name, in this engine's SQL.

        Done here rather than by sqlglot so that reading features never imports it.

        >>> Engine.__new__(Engine).quote('main.a"b')
        '"main"."a""b"'
        """
        q = self.identifier_quote
        return ".".join(q + part.replace(q, q + q) + q for part in name.split("."))

    def relation(self, name: str, schema: str | None = None) -> str:
        return self.quote(f"{schema or self.schema}.{name}")

    def ensure_schema(self, schema: str) -> None:
        with self.serialized(f"schema {schema}"):
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}")

    def relation_kind(self, name: str, schema: str | None = None) -> str | None:
        """'table', 'view', 'materialized_view' or None when nothing has that name."""
        raise NotImplementedError

    def columns(self, name: str, schema: str | None = None) -> list[tuple[str, str]]:
        """(column, type) pairs of a relation, in order; [] when it does not exist."""
        raise NotImplementedError

    def relation_names(self, schema: str | None = None) -> list[str]:
        """Names of the tables, views and materialized views in a schema (for suggestions)."""
        raise NotImplementedError

    def drop(self, name: str, schema: str | None = None) -> None:
        kind = self.relation_kind(name, schema)
        if kind is not None:
            self.execute(f"DROP {kind.replace('_', ' ').upper()} {self.relation(name, schema)}")

    def count(self, name: str, schema: str | None = None) -> int:
        return self.count_rows(self.relation(name, schema))

    def count_rows(self, relation: str) -> int:
        return int(self.fetchall(f"SELECT count(*) FROM {relation}")[0][0])

    def clone(self) -> Engine:
        """Another open connection to the same target, for a worker thread."""
        other = type(self)(self.target)
        other.connect()
        return other

    # -- bulk data ----------------------------------------------------------------------
    def load_arrow(self, data: pa.Table, name: str, schema: str | None = None,
                   mode: str = "replace", temporary: bool = False,
                   column_types: Mapping[str, str] | None = None) -> int:
        """Write an Arrow table: mode 'replace' (atomically), 'create' or 'append'.

        ``column_types`` gives the SQL type of some columns of a table this creates (e.g. to
        load rows typed like the table they go to next); the others follow ``sql_type``.
        """
        raise NotImplementedError

    @contextlib.contextmanager
    def temporary_table(self, data: pa.Table) -> Iterator[str]:
        """``data`` as a relation (its quoted name) while the block runs; gone afterwards."""
        name = f"__fk_tmp_{uuid.uuid4().hex[:12]}"
        self.load_arrow(data, name, temporary=True)
        try:
            yield self.quote(name)
        finally:
            self.execute(f"DROP TABLE IF EXISTS {self.quote(name)}")

    def append_if_all_new(self, data: pa.Table, name: str, key: str) -> bool:
        """Inside a transaction: append ``data`` to table ``name`` in one bulk step if no row
        collides with the table's unique index on ``key``; False, with nothing appended, if
        one does.

        The default always answers False (engines without unique indexes cannot tell), and
        callers then insert only the new rows the slower way.
        """
        return False

    # -- materializations ---------------------------------------------------------------
    def create_view(self, name: str, select_sql: str) -> None:
        with self.transaction():
            kind = self.relation_kind(name)
            if kind not in (None, "view"):
                self.drop(name)
            self.execute(f"CREATE OR REPLACE VIEW {self.relation(name)} AS {select_sql}")

    def replace_table(self, name: str, select_sql: str, unique_key: Sequence[str],
                      time_column: str | None = None) -> int:
        """Build the query into a new table, check keys, swap it in atomically; rows.

        ``time_column`` marks a table later read and rewritten by time ranges (incremental
        models): it must never be NULL, and each engine makes range scans on it cheap.
        """
        raise NotImplementedError

    def replace_rows_since(self, name: str, stage_sql: str, time_column: str, start: datetime,
                           unique_key: Sequence[str]) -> tuple[int, Any]:
        """Make table ``name``'s rows with ``time_column >= start`` those of ``stage_sql``.

        Returns the stage's row count and its max(time_column). The default stages the rows
        in a temporary table, checks them, and deletes and inserts in one transaction.
        """
        stage = self.quote(name + _STAGE)
        # A temporary table lives as long as its connection, and the `finally` below drops it.
        rows = self.execute_count(f"CREATE TEMP TABLE {stage} AS {stage_sql}")
        try:
            newest = self.check_output(name, stage, unique_key, time_column)
            columns = [column for column, _ in self.columns(name)]
            with self.transaction():
                self._replace_window(name, stage, time_column, start, unique_key, columns)
        finally:
            self.execute(f"DROP TABLE IF EXISTS {stage}")
        return rows, newest

    def _replace_window(self, name: str, stage: str, time_column: str, start: datetime,
                        unique_key: Sequence[str], columns: list[str]) -> None:
        """Make the table's rows from ``start`` on equal the stage's (inside a transaction).

        Rows with an identity (entity, timestamp) that are recomputed unchanged — most of a
        restated window — are left in place; only rows that differ are deleted and inserted,
        which spares index maintenance and dead tuples on large tables.
        """
        q = self.quote
        table, ts = self.relation(name), q(time_column)
        listed = ", ".join(q(c) for c in columns)
        if not unique_key:  # rows have no identity: replace the window wholesale
            self.execute(f"DELETE FROM {table} WHERE {ts} >= ?", [start])
            self.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {stage}")
            return
        match = " AND ".join(
            [f"s.{q(k)} = t.{q(k)}" for k in unique_key]
            + [f"s.{q(c)} IS NOT DISTINCT FROM t.{q(c)}" for c in columns
               if c not in unique_key]
        )
        self.execute(
            f"DELETE FROM {table} AS t WHERE t.{ts} >= ? "
            f"AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match})", [start]
        )
        self.execute(
            f"INSERT INTO {table} ({listed}) SELECT {', '.join(f's.{q(c)}' for c in columns)} "
            f"FROM {stage} AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} AS t WHERE t.{ts} >= ? AND {match})", [start]
        )

    def materialized_view(self, name: str, select_sql: str, unique_key: Sequence[str],
                          rebuild: bool) -> int:
        """Refresh (or rebuild when ``rebuild``) a materialized view; rows."""
        return self.replace_table(name, select_sql, unique_key)

    def check_time_column(self, model: str, relation: str, column: str | None) -> None:
        """Raise RefreshError when an incremental model's time column holds NULLs."""
        if column is None:
            return
        missing = self.count_rows(f"{relation} WHERE {self.quote(column)} IS NULL")
        if missing:
            raise RefreshError(
                f"model {model}: {missing} rows have a NULL {column}; every row of an "
                f"incremental model needs it to fall in a window (filter them out in the "
                f"SQL); the previous data is unchanged"
            )

    def check_output(self, model: str, relation: str, unique_key: Sequence[str],
                     time_column: str) -> Any:
        """``check_unique`` and ``check_time_column`` in one pass; returns max(time_column).

        One grouped scan answers all three questions; the keys themselves are only looked
        up (by ``check_unique``) when some repeat.
        """
        ts = self.quote(time_column)
        keys = ", ".join(self.quote(k) for k in unique_key)
        if keys:
            source = f"(SELECT {keys}, count(*) AS n FROM {relation} GROUP BY {keys}) AS g"
            repeated, nulls = "sum(CASE WHEN n > 1 THEN 1 ELSE 0 END)", "n"
        else:
            source, repeated, nulls = relation, "0", "1"
        row = self.fetchall(
            f"SELECT {repeated}, sum(CASE WHEN {ts} IS NULL THEN {nulls} ELSE 0 END), "
            f"max({ts}) FROM {source}"
        )[0]
        if row[0]:
            self.check_unique(model, relation, unique_key)
        if row[1]:
            self.check_time_column(model, relation, time_column)
        return row[2]

    def check_unique(self, model: str, relation: str, unique_key: Sequence[str]) -> None:
        """Raise DuplicateKeyError showing a few keys that occur more than once."""
        if not unique_key:
            return
        keys = ", ".join(self.quote(k) for k in unique_key)
        rows = self.fetchall(
            f"SELECT {keys}, count(*) FROM {relation} GROUP BY {keys} "
            f"HAVING count(*) > 1 ORDER BY count(*) DESC, {keys} LIMIT {DUPLICATE_SAMPLE}"
        )
        if rows:
            shown = "; ".join(
                ", ".join(f"{k}={v!s}" for k, v in zip(unique_key, row[:-1])) + f" ({row[-1]} rows)"
                for row in rows
            )
            raise DuplicateKeyError(
                f"model {model}: ({', '.join(unique_key)}) must be unique in a feature view, "
                f"but these keys repeat: {shown}. Aggregate or deduplicate in the model's SQL; "
                f"the previous data is unchanged"
            )

    # -- retrieval and logs (python layer) ----------------------------------------------
    def point_in_time_sql(self, labels: str, views: list[PitView], n_labels: int) -> str:
        """The point-in-time join of ``labels`` (a quoted relation) with ``views``.

        Returns one row per label row: ``__fk_row`` and the feature columns, any order.
        The portable default probes the (entity, timestamp) index once per label row.
        """
        from featurekit.engines import pit

        return pit.lateral_sql(self.quote, labels, views)

    def sql_type(self, arrow_type: pa.DataType) -> str:
        """The column type this engine stores an Arrow type as (for log tables).

        Every integer type is stored as 64-bit (BIGINT), so a later batch of wider integers
        fits the column its first batch created.
        """
        raise NotImplementedError

    # -- monitoring ---------------------------------------------------------------------
    def describe_query(self, sql: str) -> list[tuple[str, str]]:
        """(column, type) pairs of a query's result, without running it over the data."""
        raise NotImplementedError

    @staticmethod
    def column_kind(type_name: str) -> str:
        """'numeric', 'categorical', 'temporal' or 'other' for a column type of this engine.

        >>> Engine.column_kind("DOUBLE"), Engine.column_kind("character varying(20)")
        ('numeric', 'categorical')
        """
        name = type_name.lower().split("(")[0].strip()
        if name in _NUMERIC_TYPES or name.startswith(("decimal", "numeric")):
            return "numeric"
        if name in _CATEGORICAL_TYPES or name.startswith(("varchar", "char", "enum")):
            return "categorical"
        if name.startswith(("timestamp", "date", "time", "interval")):
            return "temporal"
        return "other"

    def prepare_for_monitoring(self) -> None:
        """Session settings that suit the wide aggregate queries monitors run (default none)."""

    def relation_in_view(self, name: str, schema: str) -> str:
        """How a view created in ``schema`` names the relation ``schema.name``."""
        return self.relation(name, schema)


_NUMERIC_TYPES = {
    "tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint", "usmallint",
    "uinteger", "ubigint", "uhugeint", "float", "double", "real", "double precision",
    "int2", "int4", "int8", "float4", "float8", "numeric", "decimal",
}
_CATEGORICAL_TYPES = {
    "varchar", "text", "string", "bool", "boolean", "uuid", "character varying", "character",
    "bpchar", "name", "enum",
}
