"""The state store: where featurekit keeps its own bookkeeping.

Run and seed state (``state.State``), stored monitor reference statistics
(``monitoring.results.References``) and the per-model refresh locks live here. By default
that is the target itself, in its metadata schema. A profile output's ``state:`` names a
separate store (a DuckDB file, or a PostgreSQL server whose advisory locks then guard the
models for several schedulers); an engine that cannot hold state itself
(``Engine.holds_state``) gets a DuckDB file under the project, ``DEFAULT_PATH``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from featurekit.errors import EngineError
from featurekit.state import State

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.monitoring.results import References
    from featurekit.profiles import Target

DEFAULT_PATH = ".featurekit/state.duckdb"


def state_target(target: Target, root: Path) -> Target | None:
    """The separate store for ``target``'s state, or None when the target holds it."""
    from featurekit.engines import engine_class
    from featurekit.profiles import state_from_output

    if target.state is not None:
        return target.state
    if engine_class(target.type).holds_state:
        return None
    return state_from_output(target, {"type": "duckdb", "path": DEFAULT_PATH},
                             f'target "{target.name}" (its engine keeps state apart)', root)


class StateStore:
    """The connection state goes through: the target's own, or one to a separate store.

    Args:
        target: the target whose state this is.
        separate: the separate store (``state_target``), or None to use the target.
        target_engine: the target's open connection (called when state needs it).
    """

    def __init__(self, target: Target, separate: Target | None,
                 target_engine: Callable[[], Engine]):
        self.target = target
        self.separate = separate
        self._target_engine = target_engine
        self._engine: Engine | None = None  # of the separate store, opened on first use
        #: where the state tables are
        self.schema = separate.schema if separate else target.metadata_schema

    def __repr__(self) -> str:
        where = self.separate.describe() if self.separate else "the target"
        return f"StateStore({where}, schema {self.schema})"

    @property
    def engine(self) -> Engine:
        """The open connection to the store (the target's when it holds the state)."""
        if self.separate is None:
            return self._target_engine()
        if self._engine is None:
            self._engine = self._connect()
        return self._engine

    def _connect(self, read_only: bool = False) -> Engine:
        from featurekit.engines import connect

        assert self.separate is not None
        try:
            return connect(self.separate, read_only=read_only)
        except EngineError as exc:
            raise type(exc)(
                f'state store of target "{self.target.name}" ({self.separate.describe()}): '
                f"{exc}; fix state: of that target in profiles.yml"
            ) from None

    def _state(self, engine: Engine) -> State:
        return State(engine, self.schema, self.target.schema)

    @property
    def state(self) -> State:
        """Run and seed state, on the store's connection."""
        return self._state(self.engine)

    def worker(self, engine: Engine) -> State:
        """State for a worker thread refreshing on ``engine`` (a target connection).

        When the target holds the state that is ``engine`` itself; else a new connection to
        the store (its own session, so its locks are its own), which the caller closes:
        ``state.engine``.
        """
        if self.separate is None:
            return self._state(engine)
        return self._state(self.engine.clone())

    @contextlib.contextmanager
    def reader(self, engine: Engine) -> Iterator[State]:
        """State to read, for a block that reads the target through ``engine``.

        A separate store not open yet is opened read-only for the block: nothing is created.
        """
        if self.separate is None:
            yield self._state(engine)
        elif self._engine is not None:
            yield self.state
        else:
            store = self._connect(read_only=True)
            try:
                yield self._state(store)
            finally:
                store.close()

    @cached_property
    def references(self) -> References:
        """Stored statistics of fixed monitor reference windows."""
        from featurekit.monitoring.results import References

        return References(self.engine, self.schema, self.target.schema)

    def close(self) -> None:
        """Close the separate store's connection (the target's is its owner's to close)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self.__dict__.pop("references", None)
