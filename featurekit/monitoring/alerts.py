"""Webhook alerts on status changes: JSON POSTs with a timeout and retries.

A change is a check whose status differs from its previous one (a first run counts as coming
from ``ok``); ``no_data`` never alerts by itself. A delivery failure is reported and recorded
in ``monitor_alerts`` and never stops the other checks or monitors. An undelivered alert is
posted again at the monitor's later runs, while its status still holds and it has been posted
fewer than ``max_attempts`` times; a newer change of the same check supersedes it.
Credentials in the URL (``https://user:pass@host/...``) are sent as HTTP basic auth.
"""

from __future__ import annotations

import base64
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
        out.append(_entry(result, old))
    return out


def _entry(result: CheckResult, old: str | None) -> dict[str, Any]:
    return {
        "check": result.check, "column": result.column, "test": result.test,
        "old_status": old, "new_status": result.status, "statistic": result.statistic,
        "p_value": result.p_value, "warn": result.warn, "error": result.error,
        "message": result.message,
    }


def post_json(url: str, payload: dict[str, Any], timeout: float, retries: int
              ) -> tuple[bool, int, str | None]:
    """POST ``payload``; (delivered, attempts, last error). Never raises."""
    body = json.dumps(payload, default=str).encode()
    url, auth = _credentials(url)
    error: str | None = None
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "featurekit", **auth},
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


def _credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without ``user:password@`` and the basic-auth header they make.

    >>> _credentials("https://bot:p%40ss@hooks.example.com/x")
    ('https://hooks.example.com/x', {'Authorization': 'Basic Ym90OnBAc3M='})
    """
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    user_password = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    token = base64.b64encode(user_password.encode()).decode()
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, {"Authorization": f"Basic {token}"}


def send_alerts(monitor: Monitor, results: list[CheckResult],
                previous: dict[tuple[str, str, str | None], str],
                store: Results) -> list[Delivery]:
    """Post this monitor's status changes (and its undelivered alerts) to its webhook.

    Every post is recorded in ``monitor_alerts``; ``attempts`` counts the posts of an alert
    over all runs.
    """
    if not monitor.webhook:
        return []
    changed = changes(results, previous)
    fresh = {(c["check"], c["column"]) for c in changed}
    current = {(r.check, r.column): r for r in results}
    posted_before: dict[tuple[str, str | None], int] = {}
    for key, (old, new, attempts) in store.undelivered_alerts(monitor.name).items():
        result = current.get(key)
        if (key in fresh or result is None or result.status != new
                or attempts >= monitor.alert_max_attempts):
            continue  # superseded, no longer true, or given up
        changed.append(_entry(result, old))
        posted_before[key] = attempts
    if not changed:
        return []
    as_of = results[0].as_of if results else None
    payload = {"monitor": monitor.name, "as_of": as_of, "changes": changed,
               "text": _text(monitor.name, changed)}
    delivered, attempts, error = post_json(monitor.webhook, payload, monitor.alert_timeout,
                                           monitor.alert_retries)
    for change in changed:
        key = (change["check"], change["column"])
        store.record_alert(monitor.name, change["check"], change["column"],
                           change["old_status"], change["new_status"], delivered,
                           posted_before.get(key, 0) + attempts, error)
    return [Delivery(monitor.name, _safe(monitor.webhook), len(changed), delivered, attempts,
                     error)]


def _text(monitor: str, changed: list[dict[str, Any]]) -> str:
    """A one-line summary chat tools can show as is."""
    parts = [f"{c['check']}{'/' + c['column'] if c['column'] else ''}: "
             f"{c['old_status'] or 'ok'} -> {c['new_status']}" for c in changed]
    return f"featurekit monitor {monitor}: " + "; ".join(parts)


def _safe(url: str) -> str:
    """Scheme, host and port only: webhook URLs often carry tokens (or a password).

    >>> _safe("https://bot:pw@hooks.example.com/services/T000/SECRET?x=1")
    'https://hooks.example.com'
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
