"""``open_blockwise()``: the query object over one teacher's blockwise store (SPEC §5b).

Signatures come back as ``(3, 45)`` float64 arrays indexed ``[stage, block]`` whatever part of
the grid the store holds (a merged store holds all of it, a shard a subset): NaN where the
block was not distilled, is pending, or failed. DONNA signatures (the validation NSR, lower is
better) exist at every distillation epoch, LANA signatures (validation accuracy change in
percentage points, higher is better) at every snapshot epoch. Epochs count from 1; the default
is the last epoch / the last snapshot.

Example:
    >>> results = open_blockwise("results/blockwise/M1.zarr")  # doctest: +SKIP
    >>> results.donna(epoch=5)[1, 24]  # stage 1, block 24, after 5 epochs  # doctest: +SKIP
    >>> results.lana().shape  # doctest: +SKIP
    (3, 45)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ..blocks import NUM_BLOCKS, NUM_STAGES
from ..errors import QueryError
from ..store.blockwise import (
    BLOCK_FAIL_REASON,
    BLOCK_STATUS,
    BLOCKWISE,
    DEAD_CHANNELS,
    DISTILL_EPOCH,
    DISTILL_SECONDS,
    LANA_DELTA_ACC,
    LANA_VAL_ACC,
    LIBRARY_FILE,
    LIBRARY_SHA256,
    SIGNATURE_SECONDS,
    SNAPSHOT,
    TRAIN_NSR,
    VAL_NSR,
    is_int,
)
from ..store.group import open_store, read_array
from ..store.spec import BLOCK, STAGE, STATUS_DONE, STATUS_PENDING, Status

__all__ = ["open_blockwise", "BlockwiseResults", "SECONDS_PARTS"]

#: What :meth:`BlockwiseResults.seconds` can return.
SECONDS_PARTS = ("total", "distill", "signature")


def open_blockwise(path: str | Path) -> BlockwiseResults:
    """Open a blockwise store (merged or a single shard) for queries.

    Raises:
        StoreError: the path is missing or not a store.
        SchemaError: not a blockwise store, or its schema does not match.

    Example:
        >>> results = open_blockwise("results/blockwise/M1.zarr")  # doctest: +SKIP
        >>> results.teacher["model"], results.epochs, results.snapshots  # doctest: +SKIP
        (24519, [1, 2, ..., 10], [1, 5, 10])
    """
    return BlockwiseResults(open_store(path, BLOCKWISE.kind), path=Path(path))


class BlockwiseResults:
    """Query object over one blockwise store; create it with :func:`open_blockwise`.

    Every grid result is a ``(3, 45)`` array ``[stage, block]``; entries the store does not hold
    are NaN (floats), ``pending`` (status), -1 (counts) or ``""`` (strings). The object reads
    what a query needs and keeps no state besides the store's coordinates and attributes.
    """

    def __init__(self, group: zarr.Group, *, path: Path) -> None:
        self._group = group
        self._path = path
        self._attrs = dict(group.attrs)
        self._stages = group[STAGE.name][:]
        self._blocks = group[BLOCK.name][:]
        self._epochs = group[DISTILL_EPOCH.name][:]
        self._snapshots = group[SNAPSHOT.name][:]

    # ------------------------------------------------------------------ description
    @property
    def path(self) -> Path:
        return self._path

    @property
    def attrs(self) -> dict[str, Any]:
        """All group attributes."""
        return dict(self._attrs)

    @property
    def teacher(self) -> dict[str, Any]:
        """The teacher record (name, model, block_ids, recipe_id, val_acc, test_acc, ...)."""
        return dict(self._attrs["teacher"])

    @property
    def distill(self) -> dict[str, Any]:
        """The distillation settings (epochs, snapshots, recipe_id, lr, seed, dead_channel_ratio)."""
        return dict(self._attrs["distill"])

    @property
    def distill_id(self) -> str:
        return str(self._attrs["distill_id"])

    @property
    def dataset(self) -> str:
        return str(self._attrs["dataset"])

    @property
    def library(self) -> str:
        """The block library folder, as recorded by the producer."""
        return str(self._attrs["library"])

    @property
    def epochs(self) -> list[int]:
        """Distillation epochs ``1..E``."""
        return [int(e) for e in self._epochs]

    @property
    def snapshots(self) -> list[int]:
        """Snapshot epochs (weights saved, LANA measured), ascending."""
        return [int(s) for s in self._snapshots]

    @property
    def is_partial(self) -> bool:
        return bool(self._attrs.get("is_partial", False))

    def __repr__(self) -> str:
        done = int((self.status == STATUS_DONE).sum())
        return (
            f"BlockwiseResults({str(self._path)!r}, teacher={self.teacher.get('name')!r}, "
            f"model={self.teacher.get('model')}, epochs={len(self._epochs)}, snapshots={self.snapshots}, "
            f"done={done} of {NUM_STAGES * NUM_BLOCKS})"
        )

    # ------------------------------------------------------------------ grid reads
    def _grid(
        self, name: str, selection: Any = slice(None), fill: Any = np.nan, dtype: Any = np.float64
    ) -> np.ndarray:
        """A (stage, block) read of array ``name`` at ``selection`` of its last dimension,
        placed into the full (3, 45) grid."""
        values = read_array(self._group, name)
        if values.ndim == 3:
            values = values[:, :, selection]
        out = np.full((NUM_STAGES, NUM_BLOCKS), fill, dtype=dtype)
        out[np.ix_(self._stages, self._blocks)] = values
        return out

    def _done(self) -> np.ndarray:
        return self.status == STATUS_DONE

    def _index(self, value: int | None, labels: np.ndarray, what: str) -> int:
        if value is None:
            return len(labels) - 1
        shown = labels.tolist()
        allowed = f"{shown[0]}..{shown[-1]}" if what == "epoch" else ", ".join(map(str, shown))
        if not is_int(value):
            raise QueryError(f"{what} must be an int, one of {allowed} (counted from 1); got {value!r}")
        hits = np.flatnonzero(labels == int(value))
        if not hits.size:
            raise QueryError(f"{what} {value} is not in this blockwise store; its {what}s are {allowed}")
        return int(hits[0])

    @property
    def status(self) -> np.ndarray:
        """``(3, 45)`` int8 :data:`~blox_space.schema.STATUS_FLAGS` (pending where not held)."""
        return self._grid(BLOCK_STATUS.name, fill=STATUS_PENDING, dtype=np.int8)

    def donna(self, epoch: int | None = None) -> np.ndarray:
        """DONNA signatures: the validation NSR of every block after ``epoch`` (default: the last).

        Returns:
            ``(3, 45)`` float64, >= 0, lower is better; NaN where not distilled (pending,
            failed or not in the store).

        Raises:
            QueryError: an epoch the store does not have (the message lists them).
        """
        return self.nsr(epoch, split="val")

    def nsr(self, epoch: int | None = None, *, split: str = "val") -> np.ndarray:
        """The NSR of every block on the ``"val"`` or ``"train"`` split at ``epoch``; see :meth:`donna`."""
        arrays = {"val": VAL_NSR.name, "train": TRAIN_NSR.name}
        if split not in arrays:
            raise QueryError(f"split must be 'val' or 'train', got {split!r}")
        values = self._grid(arrays[split], self._index(epoch, self._epochs, "epoch"))
        return np.where(self._done(), values, np.nan)

    def lana(self, snapshot: int | None = None) -> np.ndarray:
        """LANA signatures: the teacher's validation accuracy change (percentage points) with a
        stage replaced by each block as distilled up to ``snapshot`` (default: the last).

        Returns:
            ``(3, 45)`` float64 in -100..100, higher is better; NaN where not distilled.

        Raises:
            QueryError: a snapshot epoch the store does not have (the message lists them).
        """
        values = self._grid(LANA_DELTA_ACC.name, self._index(snapshot, self._snapshots, "snapshot"))
        return np.where(self._done(), values, np.nan)

    def lana_val_acc(self, snapshot: int | None = None) -> np.ndarray:
        """The teacher's validation top-1 (%) with each block swapped in at ``snapshot``; see :meth:`lana`."""
        values = self._grid(LANA_VAL_ACC.name, self._index(snapshot, self._snapshots, "snapshot"))
        return np.where(self._done(), values, np.nan)

    def seconds(self, part: str = "total") -> np.ndarray:
        """Device seconds per block: ``"distill"`` (incl. the block's even share of the stage's
        teacher forward), ``"signature"`` (LANA evaluations) or ``"total"`` (both).

        Returns:
            ``(3, 45)`` float64; failed blocks keep the seconds they cost, NaN where not run.
            ``np.nansum`` of the total is the cost of the library (SPEC §5b).

        Raises:
            QueryError: an unknown part.
        """
        if part not in SECONDS_PARTS:
            raise QueryError(f"part must be one of {', '.join(SECONDS_PARTS)}; got {part!r}")
        distill = self._grid(DISTILL_SECONDS.name)
        signature = self._grid(SIGNATURE_SECONDS.name)
        return {"distill": distill, "signature": signature, "total": distill + signature}[part]

    def dead_channels(self) -> np.ndarray:
        """``(3,)`` int64: teacher output channels of each stage left out of the NSR; -1 = not recorded."""
        grid = self._grid(DEAD_CHANNELS.name, fill=-1, dtype=np.int64)
        return grid.max(axis=1)

    def fail_reasons(self) -> dict[tuple[int, int], str]:
        """``{(stage, block): reason}`` of the failed blocks."""
        reasons = self._grid(BLOCK_FAIL_REASON.name, fill="", dtype=BLOCK_FAIL_REASON.dtype)
        failed = np.argwhere(self.status == int(Status.FAILED))
        return {(int(s), int(b)): str(reasons[s, b]) for s, b in failed}

    def library_file(self, stage: int, block: int, snapshot: int | None = None) -> tuple[str, str]:
        """``(path relative to the library folder, sha256)`` of a done block's weights at
        ``snapshot`` (default: the last).

        Raises:
            QueryError: a stage, block or snapshot out of range, or a block not done.
        """
        for value, what, high in ((stage, "stage", NUM_STAGES), (block, "block", NUM_BLOCKS)):
            if not is_int(value) or not 0 <= int(value) < high:
                raise QueryError(f"{what} must be an int in 0..{high - 1}, got {value!r}")
        k = self._index(snapshot, self._snapshots, "snapshot")
        if not self._done()[stage, block]:
            state = Status(int(self.status[stage, block])).label
            raise QueryError(
                f"stage {stage}, block {block} is {state} in this blockwise store; it has no library file"
            )
        files = self._grid(LIBRARY_FILE.name, k, fill="", dtype=LIBRARY_FILE.dtype)
        digests = self._grid(LIBRARY_SHA256.name, k, fill="", dtype=LIBRARY_SHA256.dtype)
        return str(files[stage, block]), str(digests[stage, block])

    # ------------------------------------------------------------------ views
    def summary(self) -> dict[str, Any]:
        """What the store holds (what ``blox-space info`` prints), as plain values.

        Keys: ``path``, ``kind``, ``teacher``, ``distill``, ``distill_id``, ``dataset``,
        ``library``, ``epochs`` (E), ``snapshots``, ``blocks`` (per status word, of the 135),
        ``dead_channels`` (per stage), ``seconds`` (the library's total), ``is_partial``,
        ``provenance``.
        """
        status = self.status
        return {
            "path": str(self._path),
            "kind": BLOCKWISE.kind,
            "teacher": self.teacher,
            "distill": self.distill,
            "distill_id": self.distill_id,
            "dataset": self.dataset,
            "library": self.library,
            "epochs": len(self._epochs),
            "snapshots": self.snapshots,
            "blocks": {s.label: int((status == s).sum()) for s in Status},
            "dead_channels": self.dead_channels().tolist(),
            "seconds": float(np.nansum(self.seconds())),
            "is_partial": self.is_partial,
            "provenance": self._attrs.get("provenance", {}),
        }

    def to_xarray(self) -> Any:
        """The whole store as a lazy ``xarray.Dataset`` (``xarray.open_zarr``; needs xarray)."""
        import xarray as xr  # imported on use: `import blox_space` stays light

        meta = self._path / "zarr.json"
        consolidated = meta.exists() and "consolidated_metadata" in meta.read_text()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
            return xr.open_zarr(self._path, consolidated=consolidated, chunks=None)
