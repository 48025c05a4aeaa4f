"""One exception hierarchy for everything a user can get wrong.

Every message names the file (and line), model or column involved and says what to do.
The CLI prints these without a traceback and exits 2 (usage/config) — see ``cli.py``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


class FeaturekitError(Exception):
    """Root of every error featurekit raises on purpose."""

    exit_code = 2


class ConfigError(FeaturekitError):
    """A project, profiles or monitor file is missing or malformed."""


class ModelError(FeaturekitError):
    """A model file is malformed: header, SQL syntax, references, cycles."""


class CompileError(ModelError):
    """A model cannot be run on the chosen target (e.g. an unsupported construct)."""


class EngineError(FeaturekitError):
    """The database refused something or cannot be reached."""


class ConnectionFailed(EngineError):
    """The database server cannot be reached."""


class DatabaseLocked(EngineError):
    """Another process holds the database (DuckDB allows one writer per file)."""


class RefreshError(FeaturekitError):
    """A model failed to materialize; its previous data is untouched."""

    exit_code = 1


class DuplicateKeyError(RefreshError):
    """A feature view would contain two rows for one (entity, timestamp)."""


class RetrievalError(FeaturekitError):
    """A training-set or online-feature request does not fit the feature views."""


class DatasetError(FeaturekitError):
    """A saved training set cannot be saved, found or rebuilt as asked."""


class LogSchemaError(FeaturekitError):
    """A prediction or outcome frame does not fit its log table."""


class MonitorError(FeaturekitError):
    """A monitor definition is malformed or cannot run."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Suffix suggesting the closest known name, or "" when nothing is close.

    >>> did_you_mean("custmer_id", ["customer_id", "amount"])
    ' (did you mean "customer_id"?)'
    >>> did_you_mean("zzz", ["customer_id"])
    ''
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def without_sql_excerpt(message: str) -> str:
    r"""A database's error message on one line, without its excerpt of the SQL it ran.

    That SQL is featurekit's compiled text (qualified names, internal relations), which means
    nothing to the user: PostgreSQL's ``LINE 1: ...`` and caret, Spark's ``== SQL (line 1,
    position n) ==`` block, and anything after them, are dropped.

    >>> without_sql_excerpt('syntax error at "x"\nLINE 1: SELECT x y z\n               ^')
    'syntax error at "x"'
    """
    kept = []
    for line in message.splitlines():
        if re.match(r"\s*(LINE \d+:|\^|== SQL\b)", line):
            break
        kept.append(line.strip())
    return " ".join(part for part in kept if part)
