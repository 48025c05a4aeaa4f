"""An engine's part of a profiles.yml target: its own keys, parsed and checked in one class.

``profiles.load_target`` reads the keys every target has (type, schema, threads,
metadata_schema) and hands the rest to the ``EngineConfig`` subclass its engine names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from featurekit.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """Base class: one dataclass field per option key of the engine, with its default.

    Mark a secret field ``dataclasses.field(repr=False, metadata={"secret": True})``:
    its value then never reaches ``repr``, ``describe`` or error messages.
    """

    #: The schema and threads of a target that does not set them.
    default_schema: ClassVar[str] = "main"
    default_threads: ClassVar[int] = 1
    #: Keys accepted besides the fields (read by ``from_options``, e.g. ``url``).
    extra_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def keys(cls) -> list[str]:
        """Every option key a target of this engine may set."""
        return [f.name for f in dataclasses.fields(cls)] + list(cls.extra_keys)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str,
                     project_dir: Path) -> EngineConfig:
        """The config of a target's engine keys (already checked against ``keys()``).

        ``where`` names the file and target for error messages; relative paths resolve
        against ``project_dir``. Subclasses convert and check values here.
        """
        return cls(**options)

    def describe(self, schema: str) -> str:
        """Where the target points, safe to print (no secret)."""
        raise NotImplementedError

    @property
    def secrets(self) -> list[str]:
        """The values of the secret fields that are set: never to be printed."""
        return [
            str(getattr(self, f.name)) for f in dataclasses.fields(self)
            if f.metadata.get("secret") and getattr(self, f.name)
        ]

    def options(self) -> dict[str, Any]:
        """Every field by name (secrets included: for the engine, not for printing)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def whole_number(value: Any, key: str, where: str) -> int:
    """``value`` as an int, or a ConfigError naming ``key`` (YAML or env_var may give text).

    >>> whole_number("5432", "port", "t")
    5432
    """
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key} must be a whole number, not {value!r}") from None
