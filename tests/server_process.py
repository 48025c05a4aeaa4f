"""Run ``featurekit serve`` as a real process on 127.0.0.1 (an ephemeral port) for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(project_dir: Path, *args: str, timeout: float = 60.0) -> Iterator[str]:
    """Start the server, wait until it answers (without touching the database), yield its URL.

    The wait polls ``/openapi.json``, which needs no database: a test can then decide when
    the first connection is made (e.g. while a DuckDB file is locked).
    """
    port = free_port()
    log = open(project_dir / f"serve-{port}.log", "w+")  # noqa: SIM115 - closed below
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "featurekit", "serve", "--project-dir", str(project_dir),
         "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"featurekit serve exited {process.returncode}:\n{log.read()}")
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"featurekit serve did not start in {timeout}s:\n{log.read()}")
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
