"""PostgreSQL: materialized views refreshed CONCURRENTLY, COPY bulk paths, advisory locks."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.engines.base import Engine
from featurekit.engines.config import EngineConfig, whole_number
from featurekit.errors import ConfigError, ConnectionFailed, EngineError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from sqlglot import exp

    from featurekit.engines.pit import PitView

_NEW = "__fk_new"
_BITS = 62  # NULL flags per bigint mask in fetch_doubles
_KIND = {"r": "table", "p": "table", "v": "view", "m": "materialized_view"}


def _arrow_to_pg(arrow_type: pa.DataType) -> str:
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_boolean(arrow_type):
        return "BOOLEAN"
    if t.is_integer(arrow_type):  # uint64 above 2**63 - 1 is refused by the caller
        return "BIGINT"
    if t.is_floating(arrow_type):
        return "DOUBLE PRECISION"
    if t.is_decimal(arrow_type):
        return f"NUMERIC({arrow_type.precision}, {arrow_type.scale})"
    if t.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if t.is_date(arrow_type):
        return "DATE"
    if t.is_time(arrow_type):
        return "TIME"
    if t.is_duration(arrow_type):
        return "INTERVAL"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or arrow_type == pa.null():
        return "TEXT"
    if t.is_dictionary(arrow_type):
        return _arrow_to_pg(arrow_type.value_type)
    raise EngineError(f"cannot store Arrow type {arrow_type} in PostgreSQL")


def _pg_to_arrow(type_name: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "bool": pa.bool_(), "int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64(),
        "float4": pa.float32(), "float8": pa.float64(), "numeric": pa.float64(),
        "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(), "text": pa.string(), "varchar": pa.string(), "bpchar": pa.string(),
        "name": pa.string(), "uuid": pa.string(),
    }.get(type_name, pa.string())


def _key_order(column: pa.ChunkedArray) -> Any:
    """Row positions in (about) the order of a btree on ``column``, or None for other types.

    Integers are sorted exactly; strings by their first 8 bytes, which is the order of the
    "C" and C.UTF-8 collations (UTF-8 bytes sort like code points) and, for hex ids, of
    every collation; numpy does that in a third of the time Arrow takes to sort the strings.
    Only speed depends on it: ties and other collations just visit pages less in order.
    """
    import numpy as np
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        return np.argsort(column.to_numpy(), kind="stable")
    large = pa.types.is_large_string(column.type)  # what pandas 3 strings become
    if not (large or pa.types.is_string(column.type)) or column.null_count or len(column) < 2:
        return None
    strings = column.combine_chunks()
    width = np.int64 if large else np.int32
    offsets = np.frombuffer(strings.buffers()[1], width)[strings.offset:][:len(strings) + 1]
    data = np.frombuffer(strings.buffers()[2], np.uint8)
    if not len(data):
        return None
    positions = offsets[:-1, None] + np.arange(8)
    prefix = np.where(positions < offsets[1:, None],
                      data[np.minimum(positions, len(data) - 1)], 0).astype(np.uint8)
    return np.argsort(prefix.view(">u8").ravel(), kind="stable")


def _naive_utc_times(data: pa.Table) -> pa.Table:
    """Zoned timestamp columns as their naive UTC times (the same instants).

    Arrow writes a zoned timestamp to CSV 20-30x slower than a naive one (about 1 s per
    million values); the session's zone is UTC (set on connect), so the server reads the
    naive text as the same instant, into TIMESTAMPTZ and TIMESTAMP columns alike.
    """
    import pyarrow as pa

    for index, field in enumerate(data.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = data.column(index).cast(pa.timestamp(field.type.unit))
            data = data.set_column(index, field.name, naive)
    return data


def _lock_id(key: str) -> int:
    """The 64-bit advisory lock number for a lock name."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


@dataclasses.dataclass(frozen=True)
class PostgresConfig(EngineConfig):
    """A PostgreSQL target: libpq's connection settings, or a ``url:`` whose parts the
    explicit keys override."""

    default_schema = "public"
    default_threads = 4
    #: ``url: postgresql://user:pass@host:5432/db?sslmode=...``; ``database`` = ``dbname``.
    extra_keys = ("url", "database")

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = dataclasses.field(default=None, repr=False,
                                             metadata={"secret": True})
    dbname: str = "postgres"
    sslmode: str | None = None
    connect_timeout: int = 10

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str,
                     project_dir: Path) -> PostgresConfig:
        values = dict(options)
        if "database" in values:
            values.setdefault("dbname", values.pop("database"))
        if values.get("url"):
            values = {**_from_url(str(values["url"]), where), **values}
        values.pop("url", None)
        for key in ("port", "connect_timeout"):
            if key in values:
                values[key] = whole_number(values[key], key, where)
        return cls(**values)

    def describe(self, schema: str) -> str:
        return f"postgres {self.user}@{self.host}:{self.port}/{self.dbname} schema {schema}"


def _from_url(url: str, where: str) -> dict[str, Any]:
    """Connection settings from a SQLAlchemy/libpq URL such as postgresql://u:p@host:5432/db."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{where}: url is not a database URL (postgresql://...)") from None
    if not parsed.drivername.startswith("postgres"):
        raise ConfigError(
            f"{where}: url is a {parsed.drivername} URL; a postgres target needs postgresql://"
        )
    parts = {
        "host": parsed.host, "port": parsed.port, "user": parsed.username,
        "password": parsed.password, "dbname": parsed.database,
        "sslmode": parsed.query.get("sslmode"),
    }
    return {key: value for key, value in parts.items() if value is not None}


class PostgresEngine(Engine):
    type = "postgres"
    dialect = "postgres"
    config_class = PostgresConfig
    transactional_ddl = True
    native_materialized_views = True
    unique_indexes = True
    advisory_locks = True
    concurrent_writers = True
    temporary_tables = True
    asof_join = False
    lateral_join = True
    holds_state = True
    positional_parameters = True  # psycopg RawCursor: the server binds $1, $2, ...
    #: Label sets at least this large use the sort/window plan instead of index probes
    #: (None: always probe). benchmarks/bench_training_set.py, 10M feature rows: probes in
    #: entity order took 0.5-0.7 s / 2.6-7 s for 100k / 1M labels, the window plan 10-40 s /
    #: 17-52 s (it sorts every feature row).
    window_plan_min_labels: int | None = None

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        import psycopg  # already loaded: connect() imported it

        return (psycopg.Error,)

    def connect(self) -> None:
        import psycopg

        config = self.target.config
        params = {
            "host": config.host, "port": config.port, "user": config.user,
            "dbname": config.dbname, "connect_timeout": config.connect_timeout,
            "application_name": "featurekit",
        }
        if config.password:
            params["password"] = config.password
        if config.sslmode:
            params["sslmode"] = config.sslmode
        try:
            self.conn = psycopg.connect(
                autocommit=True, cursor_factory=psycopg.RawCursor, **params
            )
        except psycopg.OperationalError as exc:
            reason, answered = connect_failure(str(exc))
            for secret in self.target.secrets:
                reason = reason.replace(secret, "***")
            where = f"target {self.target.name!r} in profiles.yml"
            hint = (f"fix dbname, user or password of {where}" if answered else
                    f"Is the server running, and do host and port of {where} point at it?")
            raise ConnectionFailed(
                f"cannot connect to PostgreSQL at {params['host']}:{params['port']} "
                f"(database {params['dbname']}, user {params['user']}): {reason}; {hint}"
            ) from None
        self.execute("SET TIME ZONE 'UTC'")
        if self.read_only:
            self.execute("SET default_transaction_read_only = on")
        else:
            self.ensure_schema(self.schema)

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.execute(sql, params)

    def execute_count(self, sql: str, params: Any = None) -> int:
        return self.conn.execute(sql, params).rowcount

    def fetchall(self, sql: str, params: Any = None) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def fetch_arrow(self, sql: str) -> pa.Table:
        """Stream the result as CSV through COPY and parse it with Arrow's C++ reader."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        described = self.describe_query(sql)
        names, types = [n for n, _ in described], [t for _, t in described]
        schema = pa.schema([(n, _pg_to_arrow(t)) for n, t in zip(names, types)])
        buffer = self._copy_out(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)")
        if buffer.tell() == 0:
            return schema.empty_table()
        buffer.seek(0)
        timestamps = [n for n, t in zip(names, types) if t == "timestamptz"]
        read_types = {
            n: (pa.string() if n in timestamps else schema.field(n).type) for n in names
        }
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(names))]),
            # A one-column row holding NULL is an empty line: keep it.
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f"c{i}": read_types[n] for i, n in enumerate(names)},
                null_values=[""],  # only an unquoted empty field is NULL ("NA" is a string)
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t"],
                false_values=["f"],
            ),
        ).rename_columns(names)
        for name in timestamps:  # "2024-01-01 00:00:00+00": the session zone is UTC
            naive = pc.replace_substring_regex(table[name], r"\+00$", "")
            column = naive.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
            table = table.set_column(names.index(name), name, column)
        return table

    def fetch_doubles(self, statement: str | exp.Expression,
                      params: Mapping[str, Any] | None = None,
                      nullable: Sequence[bool] | None = None) -> list[np.ndarray]:
        """Binary COPY, read by numpy as one structured array (float8send is a byte copy;
        CSV would print and parse every number).

        A NULL would make its row shorter, so NULLs of a ``nullable`` column travel as 0 plus
        one bit in a bigint mask: every row then has the same layout. A column said not to be
        nullable that has a NULL anyway is caught (the first NULL's length word reads -1 where
        8 was expected) and the query read again with every column masked.
        """
        from psycopg.sql import Literal

        from featurekit.engines.statements import render_with_literals

        # COPY takes no bind parameters: the values are written in by psycopg's own quoting
        sql = render_with_literals(statement, self.dialect, params,
                                   lambda value: Literal(value).as_string(self.conn))
        names = [self.quote(name) for name, _ in self.describe_query(sql)]
        if not names:
            return []
        masked = [True] * len(names) if nullable is None else [bool(n) for n in nullable]
        found = self._copy_doubles(sql, names, masked)
        if found is None:
            found = self._copy_doubles(sql, names, [True] * len(names))
        assert found is not None
        return found

    def _copy_doubles(self, sql: str, names: list[str],
                      masked: list[bool]) -> list[np.ndarray] | None:
        import numpy as np

        nullable = [i for i, m in enumerate(masked) if m]
        groups = [nullable[i:i + _BITS] for i in range(0, len(nullable), _BITS)]
        selected = [" + ".join(f"(CASE WHEN q.{names[i]} IS NULL THEN {1 << bit} ELSE 0 END)"
                               "::int8" for bit, i in enumerate(group)) for group in groups]
        selected += [f"COALESCE(q.{name}, 0)::float8" if m else f"q.{name}"
                     for name, m in zip(names, masked)]
        buffer = self._copy_out(f"COPY (SELECT {', '.join(selected)} FROM ({sql}) AS q) "
                                "TO STDOUT (FORMAT binary)")
        fields = [("n", ">i2")]
        fields += [x for j in range(len(groups)) for x in ((f"ml{j}", ">i4"), (f"m{j}", ">i8"))]
        fields += [x for i in range(len(names)) for x in ((f"vl{i}", ">i4"), (f"v{i}", ">f8"))]
        row = np.dtype(fields)
        data = buffer.getbuffer()
        header = 19  # signature (11 bytes), flags, header-extension length (0)
        count, rest = divmod(len(data) - header - 2, row.itemsize)
        rows = np.frombuffer(data, dtype=row, offset=header, count=count)
        # A NULL shortens its row by 8 bytes, and rows are longer than 8 bytes per column, so
        # the first NULL's length word (-1) is always among the rows read.
        if rest or not (rows["n"] == len(groups) + len(names)).all() or any(
                (rows[f"vl{i}"] != 8).any() for i in range(len(names))):
            return None  # a NULL where none was expected: the rows are not all alike
        out = []
        for i in range(len(names)):
            values = rows[f"v{i}"]
            if masked[i]:
                j = nullable.index(i)
                nulls = (rows[f"m{j // _BITS}"] >> (j % _BITS)) & 1
                values = values[nulls == 0] if nulls.any() else values
            out.append(values.astype(np.float64))
        return out

    def _copy_out(self, copy_sql: str) -> io.BytesIO:
        """The output of ``COPY ... TO STDOUT``, read straight from libpq.

        Each row is one CopyData message; psycopg's ``Copy`` iterator costs ~5 µs per message
        (4-5 s of a million-row training set), a blocking libpq loop a fraction of that.
        """
        import psycopg
        from psycopg import pq

        buffer = io.BytesIO()
        pgconn, encoding = self.conn.pgconn, self.conn.info.encoding
        errors: list[BaseException] = []
        with self.conn.lock:  # nothing else may use the connection meanwhile
            blocking, pgconn.nonblocking = pgconn.nonblocking, 0  # libpq waits by itself
            try:
                pgconn.send_query(copy_sql.encode(encoding))  # raises if it cannot be sent
                result = pgconn.get_result()
                if result is not None and result.status == pq.ExecStatus.COPY_OUT:
                    while (size_data := pgconn.get_copy_data(0))[0] >= 0:
                        buffer.write(size_data[1])
                    result = pgconn.get_result()
                while result is not None:  # COMMAND_OK, or the error that ended the COPY
                    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.COPY_OUT):
                        errors.append(psycopg.errors.error_from_result(result, encoding=encoding))
                    result = pgconn.get_result()
            finally:
                pgconn.nonblocking = blocking
        if errors:
            raise errors[0]
        return buffer

    def syntax_error(self, sql: str) -> str | None:
        import psycopg

        # PREPARE parses before it looks up any table: a syntax error is the parser's verdict,
        # a missing relation (an upstream model not built yet) is not this check's business.
        try:
            self.execute(f"PREPARE fk_syntax_check AS {sql}")
        except psycopg.errors.SyntaxError as exc:
            return str(exc).strip().splitlines()[0]
        except psycopg.Error:
            return None
        self.execute("DEALLOCATE fk_syntax_check")
        return None

    def _type_name(self, oid: int) -> str:
        info = self.conn.adapters.types.get(oid)
        return info.name if info is not None else "text"

    def relation_kind(self, name: str, schema: str | None = None) -> str | None:
        rows = self.fetchall(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r','p','v','m')",
            [schema or self.schema, name],
        )
        return _KIND[rows[0][0]] if rows else None

    def relation_names(self, schema: str | None = None) -> list[str]:
        return [name for (name,) in self.fetchall(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m')",
            [schema or self.schema],
        )]

    def columns(self, name: str, schema: str | None = None) -> list[tuple[str, str]]:
        return [
            (column, data_type)
            for column, data_type in self.fetchall(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum",
                [schema or self.schema, name],
            )
        ]

    def _has_dependents(self, name: str) -> bool:
        """True when views or materialized views read this relation (DROP would need CASCADE)."""
        rows = self.fetchall(
            "SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
            "WHERE d.refobjid = to_regclass($1) AND r.ev_class <> d.refobjid LIMIT 1",
            [f"{self.relation(name)}"],
        )
        return bool(rows)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[bool]:
        """A session advisory lock: two schedulers never refresh one model at once."""
        lock_id = _lock_id(key)
        got = self.fetchall("SELECT pg_try_advisory_lock($1)", [lock_id])[0][0]
        try:
            yield bool(got)
        finally:
            if got:
                self.execute("SELECT pg_advisory_unlock($1)", [lock_id])

    def _wait_for_lock(self, key: str) -> None:
        # Released at commit or rollback, so a crashed session never leaves it held.
        self.execute("SELECT pg_advisory_xact_lock($1)", [_lock_id(key)])

    # -- bulk data ----------------------------------------------------------------------
    def _copy_in(self, relation: str, data: pa.Table) -> None:
        import pyarrow.csv as pacsv

        columns = ", ".join(self.quote(c) for c in data.column_names)
        data = _naive_utc_times(data)
        with self.conn.cursor() as cur, cur.copy(
            f"COPY {relation} ({columns}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            for batch in data.to_batches(max_chunksize=200_000):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                copy.write(buffer.getbuffer())

    def _create_from_arrow(self, relation: str, data: pa.Table, temporary: bool = False,
                           column_types: Mapping[str, str] | None = None) -> None:
        types = column_types or {}
        columns = ", ".join(
            f"{self.quote(f.name)} {types.get(f.name) or _arrow_to_pg(f.type)}"
            for f in data.schema
        )
        self.execute(f"CREATE {'TEMP ' if temporary else ''}TABLE {relation} ({columns})")

    def load_arrow(self, data: pa.Table, name: str, schema: str | None = None,
                   mode: str = "replace", temporary: bool = False,
                   column_types: Mapping[str, str] | None = None) -> int:
        if temporary:
            relation = self.quote(name)
            with self.transaction():
                self.execute(f"DROP TABLE IF EXISTS {relation}")
                self._create_from_arrow(relation, data, True, column_types)
                self._copy_in(relation, data)
            self.execute(f"ANALYZE {relation}")
            return data.num_rows
        relation = self.relation(name, schema)
        if mode == "append":
            with self.transaction():
                self._copy_in(relation, data)
            return data.num_rows
        if mode == "create":
            with self.transaction():
                self._create_from_arrow(relation, data, column_types=column_types)
                self._copy_in(relation, data)
            return data.num_rows
        new = self.relation(name + _NEW, schema)
        # Serialized: two processes loading one seed at once would both create ``new``.
        with self.serialized(f"relation {relation}"):
            self.execute(f"DROP TABLE IF EXISTS {new}")
            self._create_from_arrow(new, data, column_types=column_types)
            self._copy_in(new, data)
            self._swap_table(name, schema or self.schema, new)
        self.execute(f"ANALYZE {relation}")
        return data.num_rows

    def append_if_all_new(self, data: pa.Table, name: str, key: str) -> bool:
        # COPY straight into the table: no staging copy, no anti-join, no server-side sort. A
        # batch with a key already there (a retry) fails on the unique index and is undone to
        # the savepoint. Rows in key order keep the index's page accesses sequential: appending
        # 1M rows to a 1M-row log took 38% less server CPU than in random order.
        import psycopg

        order = _key_order(data[key])
        if order is not None:
            data = data.take(order)
        self.execute("SAVEPOINT fk_append")
        try:
            self._copy_in(self.relation(name), data)
        except psycopg.errors.UniqueViolation:
            self.execute("ROLLBACK TO SAVEPOINT fk_append")
            return False
        self.execute("RELEASE SAVEPOINT fk_append")
        return True

    # -- materializations ---------------------------------------------------------------
    def _swap_table(self, name: str, schema: str, new: str) -> None:
        """Inside a transaction: put table ``new`` in place of ``name``.

        Views that read the old table keep working: when any exist and the columns match,
        the rows are replaced in place (MVCC: readers see old rows until commit).
        """
        old = self.relation(name, schema)
        kind = self.relation_kind(name, schema)
        if kind == "table" and self._has_dependents(name) and self.columns(
            name, schema
        ) == self.columns(name + _NEW, schema):
            self.execute(f"DELETE FROM {old}")
            self.execute(f"INSERT INTO {old} SELECT * FROM {new}")
            self.execute(f"DROP TABLE {new}")
            return
        if kind is not None:
            self.execute(f"DROP {kind.replace('_', ' ').upper()} {old} CASCADE")
        self.execute(f"ALTER TABLE {new} RENAME TO {self.quote(name)}")

    def _unique_index(self, name: str, relation: str, unique_key: Sequence[str]) -> None:
        """The (entity, timestamp) index; building it is also the duplicate check."""
        import psycopg

        if unique_key:
            keys = ", ".join(self.quote(k) for k in unique_key)
            try:
                self.execute(f"CREATE UNIQUE INDEX ON {relation} ({keys})")
            except psycopg.errors.UniqueViolation:
                self.check_unique(name, relation, unique_key)  # names the repeated keys
                raise

    def replace_table(self, name: str, select_sql: str, unique_key: Sequence[str],
                      time_column: str | None = None) -> int:
        new = self.relation(name + _NEW)
        if time_column:
            # Rows stored in time order keep a window's rows on few pages: the window's reads,
            # deletes and anti-joins then visit those pages, not nearly every page of the table.
            select_sql = f"SELECT * FROM ({select_sql}) AS q ORDER BY {self.quote(time_column)}"
        self.execute(f"DROP TABLE IF EXISTS {new}")
        self.execute(f"CREATE TABLE {new} AS {select_sql}")
        try:
            self.check_time_column(name, new, time_column)
            self._unique_index(name, new, unique_key)  # built before the swap: short lock
            with self.transaction():
                self._swap_table(name, self.schema, new)
        except BaseException:
            self.execute(f"DROP TABLE IF EXISTS {new}")
            raise
        if time_column:
            self._index_time(name, time_column)
        self.execute(f"ANALYZE {self.relation(name)}")
        return self.count(name)

    def _index_time(self, name: str, column: str) -> None:
        """An index led by the time column: incremental windows delete and read by range."""
        leading = self.fetchall(
            "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass($1) AND a.attname = $2",
            [self.relation(name), column],
        )
        if not leading:
            self.execute(f"CREATE INDEX ON {self.relation(name)} ({self.quote(column)})")

    def materialized_view(self, name: str, select_sql: str, unique_key: Sequence[str],
                          rebuild: bool) -> int:
        import psycopg

        relation = self.relation(name)
        if not rebuild and unique_key and self.relation_kind(name) == "materialized_view":
            try:
                self.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {relation}")
            except (psycopg.errors.CardinalityViolation, psycopg.errors.UniqueViolation):
                # Whole rows repeated (cardinality) or keys repeated (the unique index):
                # either way the view keeps its rows; say which keys repeat.
                self.check_unique(name, f"({select_sql}) AS q", unique_key)
                raise
            self.execute(f"ANALYZE {relation}")
            return self.count(name)
        new = self.relation(name + _NEW)
        self.execute(f"DROP MATERIALIZED VIEW IF EXISTS {new}")
        self.execute(f"CREATE MATERIALIZED VIEW {new} AS {select_sql} WITH DATA")
        try:
            self._unique_index(name, new, unique_key)
            with self.transaction():
                kind = self.relation_kind(name)
                if kind is not None:
                    self.execute(f"DROP {kind.replace('_', ' ').upper()} {relation} CASCADE")
                self.execute(f"ALTER MATERIALIZED VIEW {new} RENAME TO {self.quote(name)}")
        except BaseException:
            self.execute(f"DROP MATERIALIZED VIEW IF EXISTS {new}")
            raise
        self.execute(f"ANALYZE {relation}")
        return self.count(name)

    @classmethod
    def unsupported(cls, expression: exp.Expression) -> list[str]:
        from sqlglot import exp

        problems = super().unsupported(expression)
        for group in expression.find_all(exp.Group):
            if group.args.get("all"):
                problems.append("GROUP BY ALL (list the grouping columns)")
        for order in expression.find_all(exp.Order):
            if any(
                isinstance(o.this, exp.Column) and o.this.name.upper() == "ALL"
                for o in order.expressions
            ):
                problems.append("ORDER BY ALL (list the ordering columns)")
        for star in expression.find_all(exp.Star):
            if star.args.get("except") or star.args.get("replace"):
                problems.append("SELECT * EXCLUDE/REPLACE (list the columns)")
        return sorted(set(problems))

    # -- retrieval and logs (python layer) ----------------------------------------------
    def point_in_time_sql(self, labels: str, views: list[PitView], n_labels: int) -> str:
        from featurekit.engines import pit

        threshold = self.window_plan_min_labels
        if threshold is not None and n_labels >= threshold:
            return pit.window_sql(self.quote, labels, views)
        return super().point_in_time_sql(labels, views, n_labels)

    def sql_type(self, arrow_type: pa.DataType) -> str:
        return _arrow_to_pg(arrow_type)

    def describe_query(self, sql: str) -> list[tuple[str, str]]:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
            return [(d.name, self._type_name(d.type_code)) for d in cur.description]

    def prepare_for_monitoring(self) -> None:
        # JIT compiling hundreds of aggregate expressions costs more than it saves here.
        self.execute("SET jit = off")


def connect_failure(message: str) -> tuple[str, bool]:
    """The driver's cause of a failed connection on one line, and whether the server answered.

    >>> connect_failure('connection failed: connection to server at "127.0.0.1", port 1 '
    ...                 'failed: Connection refused\\n\\tIs the server running on that host?')
    ('Connection refused', False)
    >>> connect_failure('connection to server at "h", port 5432 failed: FATAL:  database '
    ...                 '"x" does not exist')
    ('database "x" does not exist', True)
    """
    causes: list[str] = []
    answered = False
    for line in message.splitlines():
        if " failed: " not in line:
            continue  # libpq's own hints ("Is the server running...") repeat the guess
        cause = " ".join(line.rsplit(" failed: ", 1)[1].split())
        if cause.startswith("FATAL: "):
            answered, cause = True, cause.removeprefix("FATAL: ")
        if cause not in causes:
            causes.append(cause)
    if not causes:
        causes = [" ".join(message.split()) or "no answer"]
    return "; ".join(causes), answered
