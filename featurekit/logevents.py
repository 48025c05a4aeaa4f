"""``--log-format json``: one JSON object per line on stderr for each event, for log shippers.

Every object has ``ts`` (ISO 8601 UTC, ``Z``), ``level`` (``info``, ``warn``, ``error``),
``event``, ``command``, ``invocation_id`` and ``msg`` (a sentence for people), plus the
event's own fields; docs/artifacts.md lists them. stdout keeps what a command returns
(``--output json`` documents, ``compile`` SQL), so the two never mix.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from featurekit.jsonout import plain
from featurekit.state import utcnow


class EventLog:
    """Writes JSON event lines (``json``) or nothing (``text``: the rich console speaks)."""

    def __init__(self, fmt: str = "text", command: str = "", invocation_id: str = "",
                 stream: TextIO | None = None):
        self.json = fmt == "json"
        self.command = command
        self.invocation_id = invocation_id
        self.stream = stream
        self._lock = threading.Lock()  # refresh workers report from several threads

    def emit(self, event: str, msg: str = "", level: str = "info", **fields: Any) -> None:
        if not self.json:
            return
        line = {"ts": utcnow().isoformat() + "Z", "level": level, "event": event,
                "command": self.command, "invocation_id": self.invocation_id, "msg": msg,
                **fields}
        text = json.dumps(plain(line), default=str)
        stream = self.stream or sys.stderr
        with self._lock:
            stream.write(text + "\n")
            stream.flush()

    def model_event(self, kind: str, name: str, result: Any) -> None:
        """A refresh/build progress callback (``on_event``) as events."""
        if not self.json:
            return
        if kind == "start":
            self.emit("model_started", f"refreshing {name}", model=name)
        elif kind == "recovered":
            self.emit("run_recovered", f"{name}: its last run was interrupted; marked so",
                      level="warn", model=name)
        elif kind == "seed":
            self.emit("seed_loaded", f"loaded seed {name} ({result.rows} rows)", source=name,
                      rows=result.rows, seconds=result.seconds)
        elif kind == "finish":
            level = {"failed": "error", "skipped": "warn"}.get(result.status, "info")
            self.emit("model_finished", f"{name} {result.status} {result.message}".strip(),
                      level=level, model=name, status=result.status, action=result.action,
                      rows=result.rows, seconds=result.seconds, reason=result.reason,
                      message=result.message)
        elif kind == "test_start":
            self.emit("test_started", f"testing {name}", test=name)
        elif kind == "test_finish":
            level = {"fail": "error", "error": "error", "warn": "warn",
                     "skipped": "warn"}.get(result.status, "info")
            self.emit("test_finished", f"{name} {result.status} {result.message}".strip(),
                      level=level, test=name, model=result.model, kind=result.kind,
                      status=result.status, severity=result.severity,
                      failures=result.failures, seconds=result.seconds,
                      message=result.message)
