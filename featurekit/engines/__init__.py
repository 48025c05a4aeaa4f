"""Database engines behind one small interface (see ``base.Engine``).

Each engine lives in its own module (its ``Engine`` subclass and its ``EngineConfig``) and
imports its driver only when it connects, so ``import featurekit`` stays light and a project
that never touches PostgreSQL never loads psycopg. Adding one is a module and a line below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.profiles import Target

#: profiles.yml ``type:`` -> the module and class of its engine.
ENGINES = {
    "duckdb": ("featurekit.engines.duckdb", "DuckDBEngine"),
    "postgres": ("featurekit.engines.postgres", "PostgresEngine"),
    "spark": ("featurekit.engines.spark", "SparkEngine"),
}


def engine_class(engine_type: str) -> type[Engine]:
    """The Engine subclass for a profile ``type:`` (importing its module, not its driver)."""
    module, name = ENGINES[engine_type]
    return getattr(importlib.import_module(module), name)


def connect(target: Target, read_only: bool = False) -> Engine:
    """An open engine for ``target``; raises ConnectionFailed / DatabaseLocked with clear text.

    ``read_only`` connects without creating anything (not even the schema or the database
    file) and refuses writes: what ``refresh --dry-run`` reads through.
    """
    engine = engine_class(target.type)(target)
    engine.read_only = read_only
    engine.connect()
    return engine
