"""Run ``featurekit serve`` as a real process on 127.0.0.1 (an ephemeral port) for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def answers(url: str) -> bool:
    """``url`` answers a GET with 200."""
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


@contextlib.contextmanager
def background_process(command: list[str], ready: Callable[[], bool], log_path: Path,
                       what: str, timeout: float = 60.0, **popen: Any
                       ) -> Iterator[subprocess.Popen]:
    """Run ``command`` in a process group of its own, its output in ``log_path``; wait until
    ``ready()`` (else fail with the log), and stop the whole group afterwards."""
    log = open(log_path, "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, **popen)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                state = (f"exited {process.returncode}" if process.poll() is not None
                         else f"did not start in {timeout:.0f}s")
                raise RuntimeError(f"{what} {state}:\n{log.read()[-4000:]}")
            time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextlib.contextmanager
def running_server(project_dir: Path, *args: str, timeout: float = 60.0) -> Iterator[str]:
    """Start the server, wait until it answers (without touching the database), yield its URL.

    The wait polls ``/openapi.json``, which needs no database: a test can then decide when
    the first connection is made (e.g. while a DuckDB file is locked).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "featurekit", "serve", "--project-dir", str(project_dir),
               "--port", str(port), *args]
    with background_process(command, lambda: answers(f"{url}/openapi.json"),
                            project_dir / f"serve-{port}.log", "featurekit serve",
                            timeout=timeout, env=env):
        yield url
