"""Durations as users write them: ``30s``, ``15m``, ``1h``, ``7d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def is_duration(text: object) -> bool:
    """True when ``text`` reads as a duration such as ``15m``.

    >>> is_duration("15m"), is_duration("0 * * * *")
    (True, False)
    """
    return isinstance(text, str) and _DURATION.match(text) is not None


def parse_duration(text: object) -> timedelta:
    """Parse ``30m`` / ``1h`` / ``7d`` into a timedelta; raise ValueError otherwise.

    >>> parse_duration("7d")
    datetime.timedelta(days=7)
    >>> parse_duration("90m").total_seconds()
    5400.0
    """
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f'"{text}" is not a duration; write e.g. 30m, 1h, 7d')
    amount, unit = float(match.group(1)), match.group(2)
    return timedelta(**{_UNITS[unit]: amount})


def format_duration(delta: timedelta) -> str:
    """Compact human form of a timedelta.

    >>> format_duration(timedelta(days=1, hours=2))
    '1d 2h'
    >>> format_duration(timedelta(seconds=42))
    '42s'
    """
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])
