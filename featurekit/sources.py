"""``models_sql/sources.yml``: the tables models read that featurekit does not build."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from featurekit.durations import parse_duration
from featurekit.errors import ConfigError, did_you_mean
from featurekit.yamlfile import load_yaml

SOURCE_KEYS = ("seed", "table", "timestamp", "freshness", "description", "columns")


@dataclass(frozen=True)
class FreshnessRule:
    """``freshness: {warn_after, error_after}``: how old the newest row may be."""

    warn_after: timedelta | None = None
    error_after: timedelta | None = None


@dataclass(frozen=True)
class Source:
    """A seed (CSV loaded by featurekit) or an existing table in the target database."""

    name: str
    seed: Path | None = None
    table: str | None = None
    timestamp: str | None = None
    freshness: FreshnessRule | None = None
    description: str = ""

    @property
    def relation(self) -> str:
        """The table name models use: the source's name (a seed) or its ``table:``."""
        return self.table or self.name


def load_sources(path: Path, project_dir: Path,
                 seeds_dir: Path | None = None) -> dict[str, Source]:
    """The sources declared in sources.yml, then every undeclared CSV under ``seeds_dir``.

    ``seed:`` paths in sources.yml are relative to the project. A CSV file in the seeds
    folder that no source declares is a seed named after the file (``seeds/orders.csv`` is
    source ``orders``, without a timestamp: declare it to give one).
    """
    sources = _declared(path, project_dir) if path.is_file() else {}
    if seeds_dir is None or not seeds_dir.is_dir():
        return sources
    declared = {s.seed.resolve() for s in sources.values() if s.seed is not None}
    for csv in sorted(seeds_dir.rglob("*.csv")):
        if csv.resolve() in declared:
            continue
        shown = csv.relative_to(project_dir) if csv.is_relative_to(project_dir) else csv
        if csv.stem in sources:
            other = sources[csv.stem]
            raise ConfigError(
                f'{shown}: would be seed "{csv.stem}", but source "{csv.stem}" is already '
                f"{other.seed or other.table}; rename the file or declare it in {path.name}"
            )
        sources[csv.stem] = Source(name=csv.stem, seed=csv)
    return sources


def _declared(path: Path, project_dir: Path) -> dict[str, Source]:
    document = load_yaml(path)
    entries = document.get("sources") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: expected a top-level `sources:` mapping of name -> settings")
    sources = {}
    for name, spec in entries.items():
        spec = spec or {}
        where = f'{path}: source "{name}"'
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a mapping with seed: or table:")
        for key in spec:
            if key not in SOURCE_KEYS:
                raise ConfigError(
                    f'{where}: unknown key "{key}"{did_you_mean(str(key), SOURCE_KEYS)}'
                )
        if bool(spec.get("seed")) == bool(spec.get("table")):
            raise ConfigError(f"{where}: give exactly one of seed: (a CSV file) or table:")
        seed = None
        if spec.get("seed"):
            seed = project_dir / str(spec["seed"])
            if not seed.is_file():
                raise ConfigError(f"{where}: seed file {spec['seed']} does not exist")
        freshness = _freshness(where, spec.get("freshness"), spec.get("timestamp"))
        sources[str(name)] = Source(
            name=str(name),
            seed=seed,
            table=str(spec["table"]) if spec.get("table") else None,
            timestamp=spec.get("timestamp"),
            freshness=freshness,
            description=str(spec.get("description") or ""),
        )
    return sources


def _freshness(where: str, raw: Any, timestamp: Any) -> FreshnessRule | None:
    if raw is None:
        return None
    keys = ("warn_after", "error_after")
    if not isinstance(raw, dict) or not raw or any(key not in keys for key in raw):
        raise ConfigError(f"{where}: freshness is a mapping with warn_after and/or error_after, "
                          f"e.g. freshness: {{warn_after: 2h, error_after: 1d}}")
    if not timestamp:
        raise ConfigError(f"{where}: freshness needs `timestamp:`, the column whose newest "
                          f"value says how fresh the source is")
    try:
        rule = FreshnessRule(*(parse_duration(raw[k]) if k in raw else None for k in keys))
    except ValueError as exc:
        raise ConfigError(f"{where}: freshness: {exc}") from None
    if rule.warn_after and rule.error_after and rule.warn_after > rule.error_after:
        raise ConfigError(f"{where}: freshness: warn_after ({raw['warn_after']}) must be at most "
                          f"error_after ({raw['error_after']})")
    return rule
