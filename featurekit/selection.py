"""dbt-style node selection: ``--select`` / ``--exclude`` over a project's models.

A selector is ``[+]BODY[+]``: a leading ``+`` adds the ancestors of what BODY matches, a
trailing ``+`` its descendants. BODY is a model name or glob (``customer_*``) or
``METHOD:VALUE``:

- ``tag:NAME`` models whose ``tags:`` header lists NAME;
- ``path:models_sql/sub`` models in that folder (or that file), relative to the project;
- ``config.KEY:VALUE`` models whose header KEY is VALUE (``config.materialized:incremental``;
  a list such as ``entity`` matches when any item does);
- ``source:NAME`` models that read the source NAME directly.

Values may be globs. Several selectors (separate words, or words separated by spaces or
commas in one option) are a union; ``--exclude`` takes the same selectors and removes what
they match. A selector that matches nothing is an error naming the closest known value.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from featurekit.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from featurekit.model import Model
    from featurekit.project import Project

METHODS = ("tag", "path", "config.KEY", "source")
#: header keys ``config.KEY`` can select on
CONFIG_KEYS = ("materialized", "refresh", "entity", "timestamp", "ttl", "lookback", "restate")


def select_models(project: Project, select: Iterable[str] | None = None,
                  exclude: Iterable[str] | None = None) -> list[str]:
    """Names of the models the selectors pick, minus the excluded ones, in dependency order.

    Args:
        project: the loaded project.
        select: selectors (None or empty: every model).
        exclude: selectors whose models are removed from the selection.
    """
    graph = project.graph
    chosen = set(graph.order) if not words(select) else _union(project, select, "--select")
    if words(exclude):
        chosen -= _union(project, exclude, "--exclude")
    return [name for name in graph.order if name in chosen]


def words(selectors: Iterable[str] | None) -> list[str]:
    """Every selector word: options may hold several, separated by spaces or commas."""
    return [w for s in (selectors or []) for w in s.replace(",", " ").split()]


def _union(project: Project, selectors: Iterable[str] | None, option: str) -> set[str]:
    graph = project.graph
    chosen: set[str] = set()
    for word in words(selectors):
        up, down = word.startswith("+"), word.endswith("+")
        body = word.strip("+")
        names = _match(project, body, f"{option} {word}")
        for name in names:
            chosen.add(name)
            if up:
                chosen |= graph.ancestors(name)
            if down:
                chosen |= graph.descendants(name)
    return chosen


def _match(project: Project, body: str, where: str) -> list[str]:
    models = project.models
    method, _, value = body.partition(":") if ":" in body else ("", "", body)
    if not method:
        names = fnmatch.filter(project.graph.order, value)
        if not names:
            raise ConfigError(f'{where}: no model named "{value}"'
                              f"{did_you_mean(value, project.graph.order)}")
        return names
    if method.startswith("config."):
        key = method.removeprefix("config.")
        if key not in CONFIG_KEYS:
            raise ConfigError(f'{where}: cannot select on config "{key}"'
                              f"{did_you_mean(key, CONFIG_KEYS)}; "
                              f"config keys: {', '.join(CONFIG_KEYS)}")
        return _by_values(models, value, where, f"config.{key}",
                          lambda m: _config_values(m, key))
    if method == "tag":
        return _by_values(models, value, where, "tag", lambda m: m.tags)
    if method == "source":
        return _by_values(models, value, where, "source", lambda m: m.sources)
    if method == "path":
        return _by_path(models, value, where)
    raise ConfigError(f'{where}: unknown selector method "{method}"'
                      f"{did_you_mean(method, ('tag', 'path', 'config', 'source'))}; methods: "
                      f"{', '.join(f'{m}:' for m in METHODS)} (or a model name or glob)")


def _config_values(model: Model, key: str) -> list[str]:
    from featurekit.durations import format_duration

    value = getattr(model, key)
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if key in ("ttl", "lookback", "restate"):
        return [format_duration(value)]
    return [str(value)]


def _by_values(models: dict[str, Model], pattern: str, where: str, label: str,
               values: Callable[[Model], list[str]]) -> list[str]:
    names = [name for name, model in models.items()
             if any(fnmatch.fnmatchcase(v, pattern) for v in values(model))]
    if not names:
        known = sorted({v for model in models.values() for v in values(model)})
        raise ConfigError(f'{where}: no model has {label} "{pattern}"'
                          f"{did_you_mean(pattern, known)}; known: {', '.join(known) or '(none)'}")
    return names


def _by_path(models: dict[str, Model], pattern: str, where: str) -> list[str]:
    wanted = PurePosixPath(pattern.rstrip("/") or ".")
    names = []
    for name, model in models.items():
        path = PurePosixPath(model.path.as_posix())
        if (path == wanted or wanted in path.parents or str(wanted) == "."
                or fnmatch.fnmatchcase(str(path), str(wanted))):
            names.append(name)
    if not names:
        folders = sorted({str(PurePosixPath(m.path.as_posix()).parent) for m in models.values()})
        raise ConfigError(f'{where}: no model file under "{pattern}"'
                          f"{did_you_mean(str(wanted), folders)}; model folders: "
                          f"{', '.join(folders)}")
    return names
