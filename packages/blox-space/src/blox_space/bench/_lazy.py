"""Arrays of a Zarr store read chunk-wise along ``model`` into buffers filled on demand, and
the conversion of stored scalars to Python values (used by :mod:`blox_space.bench`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr

from ..store.group import read

__all__ = ["LazyArray", "to_python"]


def to_python(value: Any) -> Any:
    """A stored scalar as a Python value; float32 values become the float of their shortest
    decimal form (51.28, not 51.279998779296875), which is what was written."""
    if isinstance(value, np.float32):
        return float(str(value))
    return value.item() if isinstance(value, np.generic) else value


class LazyArray:
    """One stored array read chunk-wise into a buffer filled on demand.

    Reads go by whole chunks along ``model`` and, for per-epoch (3-D) arrays, by the epoch
    chunks a query needs, so a query at one epoch reads only that epoch's chunks.
    """

    def __init__(self, array: zarr.Array) -> None:
        self.array = array
        self.chunk = int(array.chunks[0]) if array.ndim else 1
        self.num_chunks = -(-array.shape[0] // self.chunk) if array.ndim else 1
        self.epoch_chunk = int(array.chunks[-1]) if array.ndim == 3 else 1
        num_epoch_chunks = -(-array.shape[-1] // self.epoch_chunk) if array.ndim == 3 else 1
        self.loaded = np.zeros((self.num_chunks, num_epoch_chunks), dtype=bool)
        self.complete = np.zeros(self.num_chunks, dtype=bool)  # every epoch chunk of the row read
        self.buffer: np.ndarray | None = None  # np.empty: pages are resident only once written

    def rows(self, positions: np.ndarray, epochs: tuple[int, int] | None = None) -> np.ndarray:
        """The whole buffer, with at least the chunks holding ``positions`` read; for a
        per-epoch array only the epoch chunks covering ``epochs`` (0-based ``[lo, hi)``;
        None = all)."""
        if self.buffer is None:
            self.buffer = np.empty(self.array.shape, dtype=self.array.dtype)
        needed = np.unique(positions // self.chunk) if positions.size > 1 else positions // self.chunk
        t_lo, t_hi = 0, self.loaded.shape[1]
        if epochs is not None and self.array.ndim == 3:
            t_lo, t_hi = epochs[0] // self.epoch_chunk, (epochs[1] - 1) // self.epoch_chunk + 1
        missing = needed[~self.loaded[needed, t_lo:t_hi].all(axis=1)]
        if missing.size:
            # contiguous runs of missing chunks are read in one call each
            breaks = np.flatnonzero(np.diff(missing) != 1) + 1
            for run in np.split(missing, breaks):
                lo, hi = int(run[0]) * self.chunk, min(int(run[-1] + 1) * self.chunk, self.array.shape[0])
                if self.array.ndim == 3:
                    e_lo, e_hi = t_lo * self.epoch_chunk, min(t_hi * self.epoch_chunk, self.array.shape[-1])
                    self.buffer[lo:hi, :, e_lo:e_hi] = read(
                        self.array, (slice(lo, hi), slice(None), slice(e_lo, e_hi))
                    )
                else:
                    self.buffer[lo:hi] = read(self.array, slice(lo, hi))
            self.loaded[missing, t_lo:t_hi] = True
            self.complete[missing] = self.loaded[missing].all(axis=1)
        return self.buffer

    def row(self, position: int, epochs: tuple[int, int] | None = None) -> np.ndarray:
        """One model's row (all seeds), read at least over ``epochs`` (0-based ``[lo, hi)``)."""
        chunk = position // self.chunk
        if self.buffer is None or not self.complete[chunk]:
            if epochs is None or self.array.ndim != 3:
                self.rows(np.array([position]))
            elif not self.loaded[
                chunk, epochs[0] // self.epoch_chunk : (epochs[1] - 1) // self.epoch_chunk + 1
            ].all():
                self.rows(np.array([position]), epochs)
        return self.buffer[position]  # type: ignore[index]
