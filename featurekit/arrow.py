"""Arrow <-> pandas conversions shared by every bulk path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A pandas frame from Arrow, keeping nullable integers as numbers rather than objects."""
    return table.to_pandas()


def to_arrow(data: Any) -> pa.Table:
    """Accept a pandas DataFrame or an Arrow table; return an Arrow table."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(f"expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}")
