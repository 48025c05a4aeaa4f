"""``featurekit docs``: a static site documenting a project, and a local server for it.

``generate_docs`` writes ``index.html`` (one self-contained file: data, graph, styles and
script inside) to ``target/docs`` by default; ``serve_docs`` serves that folder on localhost.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from featurekit.errors import ConfigError

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from featurekit.project import Project

DEFAULT_FOLDER = Path("target") / "docs"
DEFAULT_PORT = 8080


def generate_docs(project: Project, folder: str | Path | None = None) -> Path:
    """Document ``project`` into ``folder`` (default ``<project>/target/docs``); the page."""
    from featurekit.docsite.catalog import collect
    from featurekit.docsite.site import write_site

    return write_site(collect(project), docs_folder(project, folder))


def docs_folder(project: Project, folder: str | Path | None = None) -> Path:
    return Path(folder) if folder is not None else project.root / DEFAULT_FOLDER


def docs_server(folder: str | Path, port: int = DEFAULT_PORT,
                host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server for ``folder`` bound to ``host:port`` (call ``serve_forever``).

    Raises ConfigError when the folder has no generated site or the port is taken.
    """
    import functools
    import logging
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise ConfigError(f"{folder} holds no docs site; run `featurekit docs generate` first")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            logging.getLogger("featurekit.docs").debug(format, *args)

    handler = functools.partial(Quiet, directory=str(folder))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            reason = "is taken" if exc.errno == errno.EADDRINUSE else "needs privileges"
            raise ConfigError(
                f"port {port} on {host} {reason} (another docs server or program uses it); "
                f"choose another with --port, e.g. --port {port + 1 if port < 65535 else 8081}"
            ) from None
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def serve_docs(folder: str | Path, port: int = DEFAULT_PORT,
               on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``folder`` on localhost until interrupted; ``on_ready(url)`` once listening."""
    server = docs_server(folder, port)
    try:
        if on_ready is not None:
            on_ready(f"http://127.0.0.1:{server.server_address[1]}/")
        server.serve_forever()
    finally:
        server.server_close()
