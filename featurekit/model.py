"""A model: one ``models_sql/<name>.sql`` file, its YAML header and its SQL body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurekit.durations import is_duration, parse_duration
from featurekit.errors import ModelError, did_you_mean

if TYPE_CHECKING:
    from featurekit.datatests import DataTest

MATERIALIZATIONS = ("view", "table", "materialized_view", "incremental")
HEADER_KEYS = (
    "entity",
    "timestamp",
    "materialized",
    "refresh",
    "ttl",
    "lookback",
    "restate",
    "description",
    "columns",
    "tags",
    "tests",
)
_HEADER = re.compile(r"\A(?P<lead>\s*)/\*\s*featurekit\b(?P<yaml>.*?)\*/", re.DOTALL)


@dataclass
class Model:
    """A parsed model file. ``sql`` keeps the file's line numbers (the header is blanked)."""

    name: str
    path: Path
    sql: str
    entity: list[str] = field(default_factory=list)
    timestamp: str | None = None
    materialized: str = "materialized_view"
    refresh: str | None = None
    ttl: timedelta | None = None
    lookback: timedelta = timedelta(0)
    restate: timedelta = timedelta(0)
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    tests: list[DataTest] = field(default_factory=list)  # the header's data tests
    depends_on: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    expression: Any = field(default=None, repr=False)  # the parsed sqlglot query

    @property
    def is_feature_view(self) -> bool:
        """Feature views have an entity and a timestamp: they serve point-in-time lookups."""
        return bool(self.entity)

    @property
    def unique_key(self) -> list[str]:
        return [*self.entity, self.timestamp] if self.entity and self.timestamp else []


def parse_model(path: Path, text: str | None = None) -> Model:
    """Read a model file: header (YAML in the first ``/* featurekit`` comment) and SQL body."""
    text = path.read_text() if text is None else text
    name = path.stem
    match = _HEADER.match(text)
    header: dict[str, Any] = {}
    sql = text
    header_line = 1
    if match:
        header_line = text[: match.start("yaml")].count("\n") + 1
        try:
            header = _load_header(path, match.group("yaml"), header_line)
        except ModelError as exc:
            if text[match.end() : match.end() + 1].strip():
                # The comment closed in the middle of a line: most likely a cron step.
                raise ModelError(
                    f"{exc}; note that */ ends the header comment, so write cron steps as "
                    f'lists (e.g. "0,30 * * * *" rather than "*/30 * * * *")'
                ) from None
            raise
        # Blank the header but keep its newlines, so SQL errors report the file's own lines.
        blank = re.sub(r"[^\n]", " ", match.group(0))
        sql = text[: match.start()] + match.group("lead") + blank[len(match.group("lead")) :]
        sql += text[match.end() :]
    if not sql.strip():
        raise ModelError(f"{path}: the model has no SQL; write a SELECT after the header")
    model = Model(name=name, path=path, sql=sql)
    _apply_header(model, header)
    if header.get("tests") is not None:
        from featurekit.datatests import header_item_lines, parse_generic_tests

        assert match is not None
        lines = header_item_lines(match.group("yaml"), header_line)
        model.tests = parse_generic_tests(model, header["tests"], lines, header_line)
    return model


def _load_header(path: Path, body: str, first_line: int) -> dict[str, Any]:
    import yaml

    try:
        header = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        # The context mark is where the unfinished construct began: the line to fix.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark else first_line
        problem = getattr(exc, "problem", None) or str(exc)
        raise ModelError(f"{path}:{line}: invalid YAML in the header: {problem}") from None
    if header is None:
        return {}
    if not isinstance(header, dict):
        raise ModelError(
            f"{path}:{first_line}: the featurekit header must be a YAML mapping (key: value lines)"
        )
    return header


def _apply_header(model: Model, header: dict[str, Any]) -> None:
    path = model.path
    for key in header:
        if key not in HEADER_KEYS:
            raise ModelError(
                f'{path}: unknown header key "{key}"{did_you_mean(str(key), HEADER_KEYS)}; '
                f"known keys: {', '.join(HEADER_KEYS)}"
            )
    entity = header.get("entity")
    if entity is not None:
        model.entity = [entity] if isinstance(entity, str) else [str(e) for e in entity]
        if not model.entity or not all(isinstance(e, str) for e in model.entity):
            raise ModelError(f"{path}: entity must be a column name or a list of column names")
    model.timestamp = header.get("timestamp")
    if model.entity and not model.timestamp:
        raise ModelError(
            f"{path}: model has entity {model.entity} but no timestamp; feature views need "
            f"`timestamp: <column>` saying when each row's values became true"
        )
    materialized = header.get("materialized", "materialized_view")
    if materialized not in MATERIALIZATIONS:
        raise ModelError(
            f'{path}: unknown materialized "{materialized}"'
            f"{did_you_mean(str(materialized), MATERIALIZATIONS)}; use one of: "
            f"{', '.join(MATERIALIZATIONS)}"
        )
    model.materialized = materialized
    if materialized == "incremental" and not model.timestamp:
        raise ModelError(f"{path}: incremental models need `timestamp: <column>`")
    refresh = header.get("refresh")
    if refresh is not None:
        refresh = str(refresh)
        if not is_duration(refresh) and not _is_cron(refresh):
            raise ModelError(
                f'{path}: refresh "{refresh}" is neither a duration (30m, 1h, 1d) '
                f'nor a cron expression ("0 * * * *")'
            )
        model.refresh = refresh
    for key in ("ttl", "lookback", "restate"):
        if header.get(key) is not None:
            try:
                setattr(model, key, parse_duration(header[key]))
            except ValueError as exc:
                raise ModelError(f"{path}: {key}: {exc}") from None
    model.description = str(header.get("description") or "")
    columns = header.get("columns") or {}
    if not isinstance(columns, dict):
        raise ModelError(f"{path}: columns must map column names to descriptions")
    model.columns = {str(k): str(v) for k, v in columns.items()}
    tags = header.get("tags") or []
    model.tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]


def _is_cron(text: str) -> bool:
    from croniter import croniter

    return croniter.is_valid(text)
