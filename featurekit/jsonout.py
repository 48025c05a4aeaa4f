"""``--output json``: what a command found, as one JSON document on stdout.

Every document is an object with ``command``, ``target`` and ``exit_code`` (what the command
exits with) plus the command's own lists; docs/json-output.md describes each one. Times are
ISO 8601 UTC strings ending in ``Z``, durations are seconds, missing values are ``null``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, datetime, timedelta
from typing import Any

from featurekit.state import as_naive_utc

#: fields never written: the report's plot data (large, not a result)
_SKIP = {"plot"}


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses become objects, times ISO strings.

    >>> plain({"at": datetime(2024, 1, 2, 3), "age": timedelta(hours=1), "x": float("nan")})
    {'at': '2024-01-02T03:00:00Z', 'age': 3600.0, 'x': None}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name))
                for f in dataclasses.fields(value) if f.name not in _SKIP}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return as_naive_utc(value).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def document(command: str, target: str, exit_code: int, **parts: Any) -> str:
    """The JSON document a command prints with ``--output json``."""
    body = {"command": command, "target": target, "exit_code": exit_code, **parts}
    return json.dumps(plain(body), indent=2)
