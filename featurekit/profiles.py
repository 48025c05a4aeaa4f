"""profiles.yml: connection targets in dbt's layout, with ``{{ env_var('X', 'default') }}``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from featurekit.engines import ENGINES, engine_class
from featurekit.engines.config import EngineConfig, whole_number
from featurekit.errors import ConfigError, did_you_mean
from featurekit.yamlfile import load_yaml

#: Keys every target has, whatever its engine; the rest belong to the engine's config class.
#: ``state`` (a separate state store) is read by ``load_target`` before the others.
TARGET_KEYS = ("type", "schema", "threads", "metadata_schema", "state")
_ENV_VAR = re.compile(
    r"""\{\{\s*env_var\(\s*(['"])(?P<name>[^'"]+)\1\s*(?:,\s*(['"])(?P<default>[^'"]*)\3\s*)?\)\s*\}\}"""
)


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

    ``config`` holds the engine's own settings (host, port, path, ...), parsed by the
    engine's config class. Secrets are kept out of ``repr`` and ``describe`` so they never
    reach logs or error messages.
    """

    name: str
    type: str
    schema: str
    config: EngineConfig = field(repr=False)
    threads: int = 1
    metadata_schema: str = "featurekit"
    #: A separate state store (``state:``); None keeps run state in the target itself.
    state: Target | None = None

    def __repr__(self) -> str:
        return f"Target(name={self.name!r}, type={self.type!r}, {self.describe()})"

    def describe(self) -> str:
        """Where this target points, safe to print (no password)."""
        return self.config.describe(self.schema)

    @property
    def options(self) -> dict[str, Any]:
        """The engine's settings by key, defaults filled in (secrets too: never print)."""
        return self.config.options()

    @property
    def secrets(self) -> list[str]:
        """Values that must never be printed."""
        return self.config.secrets


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
    base = project_dir or path.parent
    options = _render(dict(outputs[name] or {}), where)
    state = options.pop("state", None)
    target = target_from_output(name, options, where, base)
    if state is None:
        return target
    return replace(target, state=state_from_output(target, state, where, base))


def state_from_output(target: Target, state: Any, where: str, base: Path) -> Target:
    """The separate state store a target's ``state:`` names (see ``statestore``).

    It is read like an output, so url, env_var and relative paths work the same; its
    ``schema`` is where the state tables go, by default the target's metadata schema.
    """
    where = f"{where}: state"
    if not isinstance(state, dict):
        raise ConfigError(f"{where}: expected a mapping such as "
                          f"{{type: duckdb, path: .featurekit/state.duckdb}}")
    if "state" in state:
        raise ConfigError(f"{where}: a state store keeps its own state; remove its state: key")
    options = {"schema": target.metadata_schema, **state}
    return target_from_output(f"{target.name}.state", options, where, base)


def target_from_output(name: str, options: dict[str, Any], where: str, base: Path) -> Target:
    """A Target from one output mapping (env vars already rendered; ``where`` names it in
    errors; relative paths resolve against ``base``)."""
    options = dict(options)
    engine = options.pop("type", None)
    if engine not in ENGINES:
        raise ConfigError(
            f'{where}: unknown type "{engine}"{did_you_mean(str(engine), ENGINES)}; '
            f"use one of: {', '.join(ENGINES)}"
        )
    config_class = engine_class(engine).config_class
    known = [*TARGET_KEYS, *config_class.keys()]
    for key in options:
        if key not in known:
            raise ConfigError(
                f'{where}: unknown key "{key}" for a {engine} target'
                f"{did_you_mean(str(key), known)}; {engine} targets take: {', '.join(known)}"
            )
    schema = str(options.pop("schema", config_class.default_schema))
    threads = whole_number(options.pop("threads", config_class.default_threads), "threads", where)
    metadata_schema = str(options.pop("metadata_schema", "featurekit"))
    config = config_class.from_options(options, where, base)
    return Target(name, engine, schema, config, threads, metadata_schema)
