"""Arrays of a Zarr store read chunk-wise along ``model`` into buffers filled on demand, and
the conversion of stored scalars to Python values (used by :mod:`blox_space.benchmark`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

__all__ = ["LazyArray", "to_python"]


def to_python(value: Any) -> Any:
    """A stored scalar as a Python value; float32 values become the float of their shortest
    decimal form (51.28, not 51.279998779296875), which is what was written."""
    if isinstance(value, np.float32):
        return float(str(value))
    return value.item() if isinstance(value, np.generic) else value


class LazyArray:
    """One stored array read chunk-wise along ``model`` into a buffer filled on demand."""

    def __init__(self, array: zarr.Array) -> None:
        self.array = array
        self.chunk = int(array.chunks[0]) if array.ndim else 1
        self.num_chunks = -(-array.shape[0] // self.chunk) if array.ndim else 1
        self.loaded = np.zeros(self.num_chunks, dtype=bool)
        self.buffer: np.ndarray | None = None  # np.empty: pages are resident only once written

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The whole buffer, with at least the chunks holding ``positions`` read."""
        if self.buffer is None:
            self.buffer = np.empty(self.array.shape, dtype=self.array.dtype)
        needed = np.unique(positions // self.chunk) if positions.size > 1 else positions // self.chunk
        missing = needed[~self.loaded[needed]]
        if missing.size:
            # contiguous runs of missing chunks are read in one call each
            breaks = np.flatnonzero(np.diff(missing) != 1) + 1
            for run in np.split(missing, breaks):
                lo, hi = int(run[0]) * self.chunk, min(int(run[-1] + 1) * self.chunk, self.array.shape[0])
                self.buffer[lo:hi] = self.array[lo:hi]
            self.loaded[missing] = True
        return self.buffer

    def row(self, position: int) -> np.ndarray:
        chunk = position // self.chunk
        if self.buffer is None or not self.loaded[chunk]:
            self.rows(np.array([position]))
        return self.buffer[position]  # type: ignore[index]
