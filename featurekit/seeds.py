"""Seeds: CSV files loaded into the target when missing or when the file changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from featurekit.errors import ConfigError

if TYPE_CHECKING:
    from featurekit.engines.base import Engine
    from featurekit.sources import Source
    from featurekit.state import State


@dataclass(frozen=True)
class SeedLoad:
    name: str
    rows: int


def file_hash(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_seed(source: Source):
    """The seed CSV as an Arrow table (types inferred by Arrow's CSV reader)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(source.seed)
    except pa.ArrowInvalid as exc:
        raise ConfigError(f"{source.seed}: cannot read seed {source.name}: {exc}") from None


def stale_seeds(engine: Engine, known: dict[str, str], sources: list[Source],
                force: bool = False) -> list[tuple[Source, str]]:
    """(source, file hash) of each seed whose table is missing or whose file changed.

    Args:
        known: the file hash each seed had when it was last loaded.
    """
    stale = []
    for source in sources:
        if source.seed is None:
            continue
        digest = file_hash(source.seed)
        if force or known.get(source.name) != digest or not engine.relation_kind(source.name):
            stale.append((source, digest))
    return stale


def load_seed(engine: Engine, state: State, source: Source, digest: str) -> SeedLoad:
    """Replace the seed's table atomically with the file's rows and remember its hash."""
    rows = engine.load_arrow(read_seed(source), source.name, mode="replace")
    state.record_seed(source.name, digest, rows)
    return SeedLoad(source.name, rows)


def check_tables(engine: Engine, sources: list[Source]) -> None:
    """``table:`` sources must already exist in the target."""
    for source in sources:
        if source.table is None:
            continue
        schema, _, name = source.table.rpartition(".")
        if engine.relation_kind(name, schema or None) is None:
            raise ConfigError(
                f'source "{source.name}": table {source.table} does not exist in target '
                f"{engine.target.name} ({engine.target.describe()}); create it or fix `table:` "
                f"in sources.yml"
            )
