"""SQL fragments with their ``?`` parameters, so values never get pasted into SQL text.

Identifiers are quoted by the engine (``Engine.quote``); values travel as parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sql:
    """A piece of SQL and the values of its ``?`` placeholders, in order.

    >>> (Sql("SELECT * FROM t WHERE a >= ?", (1,)) + Sql(" AND b < ?", (2,))).params
    (1, 2)
    """

    text: str
    params: tuple[Any, ...] = field(default=())

    def __add__(self, other: Sql | str) -> Sql:
        if isinstance(other, str):
            return Sql(self.text + other, self.params)
        return Sql(self.text + other.text, self.params + other.params)

    def __radd__(self, other: str) -> Sql:
        return Sql(other + self.text, self.params)


def join(parts: Iterable[Sql | str], separator: str = ", ") -> Sql:
    """Concatenate fragments with ``separator``, keeping parameters in order.

    >>> join([Sql("?", (1,)), "x", Sql("?", (2,))]).text
    '?, x, ?'
    """
    out = Sql("")
    for i, part in enumerate(parts):
        if i:
            out = out + separator
        out = out + part
    return out

