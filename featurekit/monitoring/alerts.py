"""Webhook alerts on status changes: JSON POSTs with a timeout and retries.

A change is a check whose status differs from its previous one (a first run counts as coming
from ``ok``); ``no_data`` never alerts by itself. A delivery failure is reported and recorded
in ``monitor_alerts`` and never stops the other checks or monitors.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featurekit.monitoring.checks import NO_DATA, OK

if TYPE_CHECKING:
    from featurekit.monitoring.config import Monitor
    from featurekit.monitoring.results import CheckResult, Results

RETRY_PAUSE = 0.5  # seconds, doubled after each failed attempt


@dataclass(frozen=True)
class Delivery:
    """One webhook POST for one monitor's status changes."""

    monitor: str
    url: str
    changes: int
    delivered: bool
    attempts: int
    error: str | None = None


def changes(results: list[CheckResult],
            previous: dict[tuple[str, str, str | None], str]) -> list[dict[str, Any]]:
    """The results whose status changed since the previous run, as payload entries."""
    out = []
    for result in results:
        old = previous.get(result.key)
        if result.status == NO_DATA or result.status == (old or OK):
            continue
        out.append({
            "check": result.check, "column": result.column, "test": result.test,
            "old_status": old, "new_status": result.status, "statistic": result.statistic,
            "p_value": result.p_value, "warn": result.warn, "error": result.error,
            "message": result.message,
        })
    return out


def post_json(url: str, payload: dict[str, Any], timeout: float, retries: int
              ) -> tuple[bool, int, str | None]:
    """POST ``payload``; (delivered, attempts, last error). Never raises."""
    body = json.dumps(payload, default=str).encode()
    error: str | None = None
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "featurekit"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                if 200 <= response.status < 300:
                    return True, attempt, None
                error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"{type(reason).__name__}: {reason}"
        if attempt <= retries:
            time.sleep(RETRY_PAUSE * 2 ** (attempt - 1))
    return False, retries + 1, error


def send_alerts(monitor: Monitor, results: list[CheckResult],
                previous: dict[tuple[str, str, str | None], str],
                store: Results) -> list[Delivery]:
    """Post this monitor's status changes to its webhook, record the attempt."""
    if not monitor.webhook:
        return []
    changed = changes(results, previous)
    if not changed:
        return []
    as_of = results[0].as_of if results else None
    payload = {"monitor": monitor.name, "as_of": as_of, "changes": changed,
               "text": _text(monitor.name, changed)}
    delivered, attempts, error = post_json(monitor.webhook, payload, monitor.alert_timeout,
                                           monitor.alert_retries)
    for change in changed:
        store.record_alert(monitor.name, change["check"], change["column"],
                           change["old_status"], change["new_status"], delivered, attempts,
                           error)
    return [Delivery(monitor.name, _safe(monitor.webhook), len(changed), delivered, attempts,
                     error)]


def _text(monitor: str, changed: list[dict[str, Any]]) -> str:
    """A one-line summary chat tools can show as is."""
    parts = [f"{c['check']}{'/' + c['column'] if c['column'] else ''}: "
             f"{c['old_status'] or 'ok'} -> {c['new_status']}" for c in changed]
    return f"featurekit monitor {monitor}: " + "; ".join(parts)


def _safe(url: str) -> str:
    """Scheme, host and port only: webhook URLs often carry tokens in the path or query.

    >>> _safe("https://hooks.example.com/services/T000/SECRET?x=1")
    'https://hooks.example.com'
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
