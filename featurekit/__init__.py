"""featurekit: a SQL-first feature store and model-monitoring layer.

>>> import featurekit
>>> project = featurekit.Project(".")            # doctest: +SKIP
>>> project.refresh()                            # doctest: +SKIP

Heavy modules (drivers, pandas, sqlglot) load on first use, so importing is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurekit.errors import (
    CompileError,
    ConfigError,
    FeaturekitError,
    ModelError,
    RefreshError,
)

if TYPE_CHECKING:
    from featurekit.project import Project

__version__ = "0.1.0"
__all__ = [
    "CompileError",
    "ConfigError",
    "FeaturekitError",
    "ModelError",
    "Project",
    "RefreshError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Project":
        from featurekit.project import Project

        return Project
    raise AttributeError(f"module 'featurekit' has no attribute {name!r}")
