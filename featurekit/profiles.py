"""profiles.yml: connection targets in dbt's layout, with ``{{ env_var('X', 'default') }}``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurekit.errors import ConfigError, did_you_mean
from featurekit.yamlfile import load_yaml

ENGINE_TYPES = ("duckdb", "postgres", "spark")
_ENV_VAR = re.compile(
    r"""\{\{\s*env_var\(\s*(['"])(?P<name>[^'"]+)\1\s*(?:,\s*(['"])(?P<default>[^'"]*)\3\s*)?\)\s*\}\}"""
)
_SECRET_KEYS = ("password", "pass", "secret", "token")


def render_env_vars(value: str, where: str) -> str:
    """Replace ``{{ env_var('NAME', 'default') }}`` with the environment's value.

    >>> os.environ["FK_DOCTEST"] = "x"
    >>> render_env_vars("a-{{ env_var('FK_DOCTEST') }}-{{ env_var('FK_NOPE', 'd') }}", "t")
    'a-x-d'
    """

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{where}: environment variable {name} is not set and has no default; "
            f"export it or write {{{{ env_var('{name}', 'default') }}}}"
        )

    return _ENV_VAR.sub(substitute, value)


def _render(value: Any, where: str) -> Any:
    if isinstance(value, str):
        return render_env_vars(value, where)
    if isinstance(value, dict):
        return {key: _render(item, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, where) for item in value]
    return value


@dataclass(frozen=True)
class Target:
    """One output of a profile: which engine and how to reach it.

    ``options`` holds the engine's settings (host, port, path, ...). Secrets are kept out of
    ``repr`` and ``describe`` so they never reach logs or error messages.
    """

    name: str
    type: str
    schema: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    threads: int = 1
    metadata_schema: str = "featurekit"

    def __repr__(self) -> str:
        return f"Target(name={self.name!r}, type={self.type!r}, {self.describe()})"

    def describe(self) -> str:
        """Where this target points, safe to print (no password)."""
        if self.type == "duckdb":
            return f"duckdb file {self.options.get('path', 'featurekit.duckdb')}"
        if self.type == "spark":
            where = self.options.get("remote") or (
                f"{self.options.get('master', 'local[*]')}, warehouse "
                f"{self.options.get('warehouse')}")
            return f"spark {where}, database {self.schema}"
        opts = self.options
        user = opts.get("user", "postgres")
        return (
            f"postgres {user}@{opts.get('host', '127.0.0.1')}:{opts.get('port', 5432)}"
            f"/{opts.get('dbname', 'postgres')} schema {self.schema}"
        )

    @property
    def secrets(self) -> list[str]:
        """Values that must never be printed."""
        return [
            str(value)
            for key, value in self.options.items()
            if any(word in key.lower() for word in _SECRET_KEYS) and value
        ]


def _from_url(url: str, where: str) -> dict[str, Any]:
    """Connection settings from a SQLAlchemy/libpq URL such as postgresql://u:p@host:5432/db.

    Keys given next to ``url:`` win over the URL's parts.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{where}: url is not a database URL (postgresql://...)") from None
    if not parsed.drivername.startswith("postgres"):
        raise ConfigError(
            f"{where}: url is a {parsed.drivername} URL; a postgres target needs postgresql://"
        )
    parts = {
        "host": parsed.host, "port": parsed.port, "user": parsed.username,
        "password": parsed.password, "dbname": parsed.database,
        "sslmode": parsed.query.get("sslmode"),
    }
    return {key: value for key, value in parts.items() if value is not None}


def find_profiles_file(project_dir: Path, profiles_dir: str | Path | None = None) -> Path:
    """profiles.yml from --profiles-dir, FEATUREKIT_PROFILES_DIR, the project or ~/.featurekit."""
    explicit = profiles_dir or os.environ.get("FEATUREKIT_PROFILES_DIR")
    candidates = (
        [Path(explicit)] if explicit else [project_dir, Path.home() / ".featurekit"]
    )
    for directory in candidates:
        path = Path(directory) / "profiles.yml"
        if path.is_file():
            return path
    looked = ", ".join(str(Path(d) / "profiles.yml") for d in candidates)
    raise ConfigError(
        f"no profiles.yml found (looked in {looked}); run `featurekit init` or pass --profiles-dir"
    )


def load_target(
    path: Path,
    profile: str = "featurekit",
    target: str | None = None,
    project_dir: Path | None = None,
) -> Target:
    """Read one target of one profile from ``path``.

    Args:
        path: the profiles.yml file.
        profile: the profile name (``[tool.featurekit] profile``).
        target: the output name; default ``FEATUREKIT_TARGET`` or the profile's ``target:``.
        project_dir: relative DuckDB paths resolve against it (default: the file's folder).
    """
    document = load_yaml(path)
    if not isinstance(document, dict) or profile not in document:
        known = list(document) if isinstance(document, dict) else []
        raise ConfigError(
            f'{path}: no profile "{profile}"{did_you_mean(profile, known)}; '
            f"profiles in the file: {', '.join(known) or 'none'}"
        )
    body = document[profile] or {}
    outputs = body.get("outputs") or {}
    if not isinstance(outputs, dict) or not outputs:
        raise ConfigError(f'{path}: profile "{profile}" has no outputs:')
    name = target or os.environ.get("FEATUREKIT_TARGET") or body.get("target")
    if name is None:
        name = next(iter(outputs))
    if name not in outputs:
        raise ConfigError(
            f'{path}: profile "{profile}" has no target "{name}"{did_you_mean(name, outputs)}; '
            f"targets: {', '.join(outputs)}"
        )
    where = f'{path}: target "{name}"'
    options = _render(dict(outputs[name] or {}), where)
    engine = options.pop("type", None)
    if engine not in ENGINE_TYPES:
        raise ConfigError(
            f'{where}: unknown type "{engine}"{did_you_mean(str(engine), ENGINE_TYPES)}; '
            f"use one of: {', '.join(ENGINE_TYPES)}"
        )
    default_schema = {"duckdb": "main", "postgres": "public", "spark": "default"}[engine]
    schema = str(options.pop("schema", default_schema))
    try:
        threads = int(options.pop("threads", 4 if engine == "postgres" else 1))
    except ValueError:
        raise ConfigError(f"{where}: threads must be a whole number") from None
    metadata_schema = str(options.pop("metadata_schema", "featurekit"))
    if engine == "postgres" and options.get("url"):
        options = {**_from_url(str(options.pop("url")), where), **options}
    if engine == "duckdb":
        raw = str(options.get("path", "featurekit.duckdb"))
        if raw != ":memory:" and not Path(raw).is_absolute():
            raw = str((project_dir or path.parent) / raw)
        options["path"] = raw
    if engine == "spark":
        options = _spark_options(options, where, project_dir or path.parent)
    return Target(name, engine, schema, options, threads, metadata_schema)


def _spark_options(options: dict[str, Any], where: str, project_dir: Path) -> dict[str, Any]:
    """A spark target's settings: ``remote`` (Spark Connect) or in-process ``master`` and
    ``warehouse`` (relative to the project), and any Spark ``conf``."""
    conf = options.get("conf") or {}
    if not isinstance(conf, dict):
        raise ConfigError(f"{where}: conf must be a mapping of Spark settings, e.g. "
                          f"conf: {{spark.sql.shuffle.partitions: 8}}")
    if options.get("remote"):
        local = [key for key in ("master", "warehouse") if key in options]
        if local:
            raise ConfigError(f"{where}: remote: (a Spark Connect server) and "
                              f"{' and '.join(local)} (in-process Spark) exclude each other; "
                              f"keep one")
        return {"remote": str(options["remote"]), "conf": conf}
    warehouse = Path(str(options.get("warehouse", ".featurekit/spark")))
    if not warehouse.is_absolute():
        warehouse = project_dir / warehouse
    return {"master": str(options.get("master", "local[*]")), "warehouse": str(warehouse),
            "conf": conf}
