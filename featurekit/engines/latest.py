"""Online lookup plans: the latest row of each feature view per requested entity.

Built as engine SQL directly (no sqlglot): the statement is built once per request shape and
then run on every ``online_features`` call, whose p99 target is a few milliseconds.

The request rows arrive as bound parameters in a ``VALUES`` list, one row per entity with its
position (``__fk_row``); the key values are cast to the view's column types so the view's
(entity, timestamp) index applies. Each plan returns, in request order, the row position and
per view its latest ``__fk_ts`` and feature columns (NULL when the view has no row):

* ``lateral_sql``: one ``LEFT JOIN LATERAL (... ORDER BY ts DESC LIMIT 1)`` index probe per
  view and request row.
* ``window_sql``: for engines without LATERAL, the requested entities' rows numbered newest
  first per entity, the first joined back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from featurekit.engines.pit import ROW
from featurekit.engines.statements import Rendered

#: The output column holding each view's row time.
TS = "__fk_ts"

Quote = Callable[[str], str]


@dataclass(frozen=True)
class LatestView:
    """One feature view in an online lookup.

    ``keys`` pairs each request column with the view's entity column; ``columns`` pairs each
    view column with its output name. Names are raw; plans quote them.
    """

    relation: str  # already quoted, schema-qualified
    keys: list[tuple[str, str]]
    timestamp: str
    columns: list[tuple[str, str]]


@dataclass(frozen=True)
class RequestShape:
    """The request relation: its key columns with their SQL types, and its row count."""

    key_columns: list[tuple[str, str]]  # (request column, the engine's SQL type)
    rows: int


def _request(q: Quote, marker: Callable[[str, int], str], shape: RequestShape) -> Rendered:
    """``(SELECT CAST(...) ... FROM (VALUES ...))``: the request as a relation, and its names.

    Parameters are named ``k<column>_<row>`` and numbered row by row, key column by column.
    """
    width = len(shape.key_columns)
    names, rows = [], []
    for i in range(max(shape.rows, 1)):
        row = []
        for j in range(width):
            names.append(f"k{j}_{i}")
            row.append(marker(names[-1], len(names)))
        rows.append(f"({', '.join([*row, str(i)])})")
    casts = [f"CAST(r.{q(column)} AS {sql_type}) AS {q(column)}"
             for column, sql_type in shape.key_columns]
    listed = ", ".join(q(c) for c in [*(column for column, _ in shape.key_columns), ROW])
    sql = (f"(SELECT {', '.join(casts)}, r.{q(ROW)} "
           f"FROM (VALUES {', '.join(rows)}) AS r({listed}))")
    return Rendered(sql, tuple(names))


def lateral_sql(q: Quote, marker: Callable[[str, int], str], views: Sequence[LatestView],
                shape: RequestShape) -> Rendered:
    """One backward index probe per view and request row."""
    request = _request(q, marker, shape)
    select, joins = [f"l.{q(ROW)}"], []
    for i, view in enumerate(views):
        f, ts = f"f{i}", q(view.timestamp)
        where = " AND ".join(f"{f}.{q(e)} = l.{q(c)}" for c, e in view.keys)
        # The entity columns lead the ORDER BY so the planner sees the index order exactly.
        order = ", ".join([*(f"{f}.{q(e)} DESC" for _, e in view.keys), f"{f}.{ts} DESC"])
        inner = ", ".join([f"{f}.{ts} AS {q(TS)}",
                           *(f"{f}.{q(c)} AS {q(out)}" for c, out in view.columns)])
        joins.append(f"LEFT JOIN LATERAL (SELECT {inner} FROM {view.relation} AS {f} "
                     f"WHERE {where} ORDER BY {order} LIMIT 1) AS j{i} ON TRUE")
        select += [f"j{i}.{q(TS)}", *(f"j{i}.{q(out)}" for _, out in view.columns)]
    sql = (f"SELECT {', '.join(select)} FROM {request.sql} AS l {' '.join(joins)} "
           f"ORDER BY l.{q(ROW)}")
    return Rendered(sql, request.names)


def window_sql(q: Quote, marker: Callable[[str, int], str], views: Sequence[LatestView],
               shape: RequestShape) -> Rendered:
    """Per view, the requested entities' rows numbered newest first; the first joined back."""
    request = _request(q, marker, shape)
    select, ctes, joins = [f"l.{q(ROW)}"], [f"l AS {request.sql}"], []
    for i, view in enumerate(views):
        f, ts = f"f{i}", q(view.timestamp)
        entities = ", ".join(f"{f}.{q(e)}" for _, e in view.keys)
        wanted = " AND ".join(f"l.{q(c)} = {f}.{q(e)}" for c, e in view.keys)
        columns = ", ".join([f"{f}.{ts} AS {q(TS)}",
                             *(f"{f}.{q(c)} AS {q(out)}" for c, out in view.columns),
                             *(f"{f}.{q(e)} AS {q(f'{ROW}_k{n}')}"
                               for n, (_, e) in enumerate(view.keys))])
        ctes.append(
            f"j{i} AS (SELECT * FROM (SELECT {columns}, row_number() OVER (PARTITION BY "
            f"{entities} ORDER BY {f}.{ts} DESC) AS {q(f'{ROW}_n')} FROM {view.relation} "
            f"AS {f} WHERE EXISTS (SELECT 1 FROM l WHERE {wanted})) AS ranked "
            f"WHERE {q(f'{ROW}_n')} = 1)"
        )
        on = " AND ".join(f"j{i}.{q(f'{ROW}_k{n}')} = l.{q(c)}"
                          for n, (c, _) in enumerate(view.keys))
        joins.append(f"LEFT JOIN j{i} ON {on}")
        select += [f"j{i}.{q(TS)}", *(f"j{i}.{q(out)}" for _, out in view.columns)]
    sql = (f"WITH {', '.join(ctes)} SELECT {', '.join(select)} FROM l {' '.join(joins)} "
           f"ORDER BY l.{q(ROW)}")
    return Rendered(sql, request.names)
