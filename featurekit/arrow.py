"""Arrow <-> pandas conversions shared by every bulk path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A pandas frame from Arrow; integer columns become pandas' nullable integers (``Int64``).

    Without that, one NULL turns a whole integer column into float64 and large values lose
    digits (2**63 - 1 becomes 9.223372036854776e18). Other types convert as pandas does.
    """
    import pyarrow.types as t

    if not any(t.is_integer(field.type) for field in table.schema):
        return table.to_pandas()
    import pandas as pd

    def nullable(arrow_type: pa.DataType) -> Any:
        # "int64" -> "Int64", "uint8" -> "UInt8"; None leaves other types to pandas.
        if not t.is_integer(arrow_type):
            return None
        name = str(arrow_type)
        return pd.api.types.pandas_dtype(name[0].upper() + name[1:].replace("int", "Int", 1))

    return table.to_pandas(types_mapper=nullable)


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
