"""``featurekit serve``: the HTTP feature server (FastAPI + uvicorn, the ``[serve]`` extra).

``app.create_app(project)`` builds the application; ``serve(...)`` runs it with uvicorn,
in one process or several workers (each with its own connection).
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from featurekit.errors import ConfigError

if TYPE_CHECKING:
    from featurekit.project import Project


def serve(project: Project, host: str = "127.0.0.1", port: int = 6566, workers: int = 1,
          access_log: bool = False) -> None:
    """Serve ``project`` over HTTP until interrupted.

    Args:
        project: the project to serve (its folder, target and profiles are handed to workers).
        host, port: where to listen (Feast's default port is 6566).
        workers: uvicorn worker processes; more than one needs an engine with
            ``concurrent_writers`` (PostgreSQL): a DuckDB file admits one process.
        access_log: log every request (off by default: it costs latency).
    """
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("featurekit serve needs the serve extra: "
                          "pip install 'featurekit[serve]'") from None
    from featurekit.engines import engine_class
    from featurekit.server.app import ENV_PROFILES, ENV_PROJECT, ENV_TARGET

    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and not engine_class(project.target.type).concurrent_writers:
        raise ConfigError(
            f"--workers {workers}: target {project.target.name!r} is {project.target.type}, "
            f"which admits one writing process; use --workers 1 (or a target whose engine "
            f"allows concurrent writers, such as PostgreSQL)")
    os.environ[ENV_PROJECT] = str(project.root)
    if project.target_name:
        os.environ[ENV_TARGET] = project.target_name
    if project.profiles_dir:
        os.environ[ENV_PROFILES] = str(project.profiles_dir)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # latency histograms of every worker in any worker's /metrics
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="featurekit-metrics-")
    project.close()  # each worker opens its own connection
    uvicorn.run("featurekit.server.app:app_from_environment", factory=True, host=host,
                port=port, workers=workers, access_log=access_log, log_level="info")
