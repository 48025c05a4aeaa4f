"""Reading a user's YAML file with errors that point at the line to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from featurekit.errors import ConfigError


def load_yaml(path: Path) -> Any:
    """The file's YAML document ({} when empty); bad YAML raises ConfigError at ``file:line``."""
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
        return yaml.load(path.read_text(), Loader=loader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
