"""Feature services: named, versioned lists of features (``models_sql/feature_services.yml``).

```yaml
feature_services:
  fraud_v1:
    description: Features of the fraud model v1.
    version: 1                      # optional; bump it when the list changes meaning
    features: [customer_spend_7d.*, merchant_risk_30d.risk_30d]
```

A service's name is accepted wherever a feature list is: ``training_set("...", "fraud_v1")``,
``online_features("fraud_v1", ...)``, ``featurekit train-set --features fraud_v1``, inside a
list next to plain references, and in monitors (``skew``'s ``service:``, ``columns: [name]``).
Unknown views and columns are errors when the project loads, at the file's line, naming the
closest name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from featurekit.model import Model

FILE_NAME = "feature_services.yml"
SERVICE_KEYS = ("description", "version", "features", "tags")


@dataclass(frozen=True)
class FeatureService:
    """One named feature list; ``features`` are ``view.column`` / ``view.*`` references."""

    name: str
    features: tuple[str, ...]
    description: str = ""
    version: str | None = None
    tags: tuple[str, ...] = ()
    path: str = ""
    line: int = 0
    views: tuple[str, ...] = field(default=(), repr=False)

    @property
    def fingerprint(self) -> str:
        """A hash of the feature list: two services with one fingerprint ask for the same.

        >>> FeatureService("a", ("v.x", "w.*")).fingerprint == FeatureService("b", ("v.x", "w.*")).fingerprint
        True
        """  # noqa: E501
        text = json.dumps(list(self.features))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_feature_services(path: Path, root: Path,
                          models: Mapping[str, Model]) -> dict[str, FeatureService]:
    """Parse and check ``feature_services.yml`` ({} when the file does not exist).

    Raises:
        ConfigError: bad YAML or keys, a malformed reference, an unknown view or column, a
            model that is not a feature view, a service named like a model: at ``file:line``.
    """
    if not path.is_file():
        return {}
    import yaml

    shown = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        node = yaml.compose(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else str(shown)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        return {}
    top = _mapping(node, shown, "the file")
    unknown = [k for k in top if k != "feature_services"]
    if unknown or "feature_services" not in top:
        key_node = top[unknown[0]][0] if unknown else node
        raise ConfigError(f"{shown}:{key_node.start_mark.line + 1}: the file holds one key, "
                          f"feature_services: {{<name>: {{features: [view.column, ...]}}}}")
    services: dict[str, FeatureService] = {}
    for name, (name_node, body) in _mapping(top["feature_services"][1], shown,
                                            "feature_services").items():
        line = name_node.start_mark.line + 1
        if name in models:
            raise ConfigError(f'{shown}:{line}: feature service "{name}" has the name of a '
                              f"model; rename the service")
        if "." in name:  # "a.b" reads as view a, column b wherever features are listed
            raise ConfigError(f'{shown}:{line}: feature service "{name}" has a dot in its '
                              f"name; rename the service")
        services[name] = _service(name, body, shown, line, models)
    return services


def _mapping(node: Any, shown: Path, what: str) -> dict[str, tuple[Any, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{shown}:{node.start_mark.line + 1}: {what} must be a mapping "
                          f"(key: value lines)")
    return {str(k.value): (k, v) for k, v in node.value}


def _service(name: str, node: Any, shown: Path, line: int,
             models: Mapping[str, Model]) -> FeatureService:
    import yaml

    body = _mapping(node, shown, f"feature service {name}")
    for key, (key_node, _) in body.items():
        if key not in SERVICE_KEYS:
            raise ConfigError(
                f'{shown}:{key_node.start_mark.line + 1}: unknown key "{key}" in feature '
                f"service {name}{did_you_mean(key, SERVICE_KEYS)}; known: {', '.join(SERVICE_KEYS)}"
            )
    if "features" not in body:
        raise ConfigError(f"{shown}:{line}: feature service {name} has no features: list "
                          f"(features: [view.column, view.*])")
    features_node = body["features"][1]
    items = features_node.value if isinstance(features_node, yaml.SequenceNode) else None
    if not items:
        raise ConfigError(f"{shown}:{features_node.start_mark.line + 1}: features of {name} "
                          f"must be a non-empty list of view.column or view.* references")
    features, views = [], []
    for item in items:
        ref = str(item.value)
        where = f"{shown}:{item.start_mark.line + 1}"
        view = check_reference(ref, models, where)
        if ref not in features:
            features.append(ref)
        if view not in views:
            views.append(view)

    def scalar(key: str) -> str | None:
        return str(body[key][1].value) if key in body else None

    tags = body["tags"][1].value if "tags" in body else []
    return FeatureService(
        name=name, features=tuple(features), description=(scalar("description") or "").strip(),
        version=scalar("version"), tags=tuple(str(t.value) for t in tags),
        path=str(shown), line=line, views=tuple(views),
    )


def check_reference(ref: str, models: Mapping[str, Model], where: str) -> str:
    """The view a ``view.column`` / ``view.*`` reference names; ConfigError when it is wrong."""
    view, dot, column = ref.partition(".")
    if not dot or not view or not column:
        raise ConfigError(f'{where}: feature reference "{ref}" must be "view.column" or "view.*"')
    if view not in models:
        raise ConfigError(f'{where}: unknown feature view "{view}" in "{ref}"'
                          f"{did_you_mean(view, models)}")
    model = models[view]
    if not model.is_feature_view:
        raise ConfigError(f'{where}: model {view} is not a feature view (its header has no '
                          f"`entity:`), so \"{ref}\" cannot be served; add `entity:` and "
                          f"`timestamp:` to {model.path}")
    from featurekit.datatests import output_columns

    columns = output_columns(model.expression) if model.expression is not None else None
    if column != "*" and columns is not None and column not in columns:
        raise ConfigError(f'{where}: feature view {view} has no column "{column}"'
                          f"{did_you_mean(column, columns)}; its columns: {', '.join(columns)}")
    return view


def expand(features: str | Sequence[str],
           services: Mapping[str, FeatureService]) -> list[str]:
    """A feature list with each service name replaced by the service's references.

    >>> svc = {"s": FeatureService("s", ("v.a", "w.*"))}
    >>> expand("s", svc), expand(["s", "x.b", "v.a"], svc)
    (['v.a', 'w.*'], ['v.a', 'w.*', 'x.b'])
    """
    items = [features] if isinstance(features, str) else list(features)
    out: list[str] = []
    for item in items:
        refs = services[item].features if item in services else (item,)
        out.extend(ref for ref in refs if ref not in out)
    return out
