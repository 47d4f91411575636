"""Hashing the values of an Arrow binary column as one byte string, without a Python loop."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["binary_bytes"]


def binary_bytes(column: Any) -> memoryview:
    """The concatenated values of a ``binary`` / ``large_binary`` Arrow array (nulls refused).

    An Arrow binary array stores its values back to back in one data buffer, so the
    concatenation is a slice of it between the first and the last offset.
    """
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        raise ValueError("a digest line is null: an ID or a stratum is missing")
    if len(arr) == 0:
        return memoryview(b"")
    _, offsets, data = arr.buffers()
    width = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    return memoryview(data)[int(bounds[0]) : int(bounds[-1])]
