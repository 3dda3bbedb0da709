"""``open_benchmark()``: the query object over a benchmark store (plus space and latency stores).

The object is lazy: opening reads only metadata and the small coordinates; a query reads the
chunks it needs, once, into buffers that occupy memory only where they were filled, so
memory grows with what was read. Every query takes any architecture form (index, block ids,
arch vector, hash, readable name) and is vectorised: a numpy array of model indices (or of
hashes) in gives an array of the same shape out.

Conventions (the schema module is the reference: :mod:`blox_space.schema`):

* epochs count from 1; ``epoch=None`` means all recorded epochs;
* ``best=True`` is the best value up to ``epoch`` (max for accuracies, min for losses),
  ``best=False`` the value after epoch ``epoch``;
* ``seed=None`` is the lowest seed of the store (deterministic, never random);
  ``seed="mean"`` averages over the seeds whose run is done;
* a model in the store whose run is pending or failed gives NaN; a model not in the store
  raises :class:`MissingModelError`;
* one architecture is any form :func:`blox_space.to_index` takes (so a list of three ints is
  a block-id triple); many are a numpy array of model indices or hashes, or a list of
  architectures (arch vectors, names ...);
* scalar results are Python values; float32-stored values come back as the float of their
  shortest decimal (51.28, as written); arrays keep the stored dtype.

Example:
    >>> bench = open_benchmark("results/benchmark/paper.zarr")  # doctest: +SKIP
    >>> bench.val_acc("conv>mbconv+res | bconv | mbconv||conv", epoch=50, seed=0)  # doctest: +SKIP
    >>> bench.val_acc(np.arange(len(bench)))  # all models, best over all epochs  # doctest: +SKIP
    >>> bench.to_dataframe(epoch=50)  # one row per model  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .._typing import ArchLike
from ..arch import hashes_to_indices, indices_to_blocks, to_arch_vec, to_index
from ..blocks import NUM_MODELS
from ..errors import InvalidArchitectureError, MissingModelError, QueryError, StoreError
from ..store.benchmark import (
    BENCHMARK,
    BEST_VAL_ACC,
    ENV_ID,
    EPOCH,
    EPOCH_SECONDS,
    FAIL_REASON,
    METRICS,
    MODEL,
    RECORDED_MACS,
    RECORDED_PARAMS,
    RUN_STATUS,
    SEED,
    VAL_ACC,
)
from ..store.finetune import FINETUNE
from ..store.group import open_store
from ..store.space import SPACE
from ..store.spec import STATUS_DONE, STATUS_NAMES
from ..store.surrogate import IS_PREDICTED, PREDICTION_STD, SURROGATE
from . import views
from ._lazy import LazyArray, to_python
from .latency import MeasuredLatency, TableLatency, open_latency

__all__ = ["open_benchmark", "Benchmark", "METRICS"]

#: The scalar fast path's view of :data:`METRICS`: ``(array, per_epoch, higher_is_better)``
#: tuples, so a lookup in a loop over 91,125 models touches no dataclass properties.
_FAST_METRICS = {name: (m.array, m.per_epoch, m.higher_is_better) for name, m in METRICS.items()}
_VAL_ACC, _BEST_VAL_ACC = VAL_ACC.name, BEST_VAL_ACC.name
#: Store kinds :func:`open_benchmark` reads: those with the benchmark's arrays.
BENCHMARK_KINDS = (BENCHMARK.kind, FINETUNE.kind, SURROGATE.kind)


def open_benchmark(
    path: str | Path,
    *,
    space: str | Path | None = None,
    latency: Sequence[str | Path] | None = None,
) -> Benchmark:
    """Open a benchmark store for queries.

    Args:
        path: the benchmark store (merged, imported, or a single shard); a finetune store
            (same schema, plus the teacher and fine-tuning attributes) and a surrogate store
            (all 91,125 models, predicted ones marked: :meth:`Benchmark.is_predicted`) read
            the same way.
        space: a space store; ``params`` / ``flops`` fall back to it when the benchmark
            did not record them.
        latency: latency stores written by blox-hw: per-model (``blox-hw profile``) and/or
            lookup-table (``blox-hw blocks``) stores, at most one of each kind per device;
            queried by :meth:`Benchmark.latency` and :meth:`Benchmark.predicted_latency`.
            None (the default) attaches the stores recorded with the benchmark (its
            ``latency_stores`` attribute, e.g. the released latencies an import wrote); ``[]``
            attaches none.

    Returns:
        The lazy :class:`Benchmark`.

    Raises:
        StoreError: a path is missing or not a store.
        SchemaError: a store is not of the expected kind, or its schema version, array
            shapes or required attributes (recipe, dataset, epochs) do not match.

    Example:
        >>> bench = open_benchmark("results/benchmark/paper.zarr")  # doctest: +SKIP
        >>> bench.val_acc("conv>mbconv+res | bconv | mbconv||conv", epoch=50)  # doctest: +SKIP
    """
    group = open_store(path)
    if group.attrs.get("store_kind") not in BENCHMARK_KINDS:
        # the measured kinds in the message ('... expected a 'benchmark' or 'finetune' store')
        open_store(path, BENCHMARK_KINDS[:2])
    space_group = open_store(space, SPACE.kind) if space is not None else None
    if latency is None:
        recorded = group.attrs.get("latency_stores", [])
        latency = [Path(path).parent / str(p) for p in recorded]
        missing = [str(p) for p in latency if not p.exists()]
        if missing:
            raise StoreError(
                f"{path} names latency stores that are gone: {', '.join(missing[:3])}; restore them, or pass "
                "latency=[...] (CLI: --latency) to choose the stores to attach"
            )
    sources: dict[tuple[str, str], MeasuredLatency | TableLatency] = {}
    for lat_path in latency:
        source = open_latency(lat_path)
        if (source.device, source.source) in sources:
            raise StoreError(
                f"two {source.source} latency stores for device {source.device!r}; pass one per device and kind"
            )
        sources[(source.device, source.source)] = source
    return Benchmark(group, path=Path(path), space=space_group, latency=list(sources.values()))


class Benchmark:
    """Query object over one benchmark store; create it with :func:`open_benchmark`.

    The surface covers the original ``blox.Dataset`` (``val_acc``, ``test_acc``,
    ``train_time``, ``train_acc`` ..., ``params``, ``flops``, ``arch_vec``, ``latency``,
    ``full_info``, ``len``, ``in``, iteration, ``seeds``) with deterministic defaults, plus
    vectorised queries and pandas / xarray export. It keeps no counters: search cost is
    the evaluators' business.
    """

    def __init__(
        self,
        group: zarr.Group,
        *,
        path: Path,
        space: zarr.Group | None = None,
        latency: Sequence[MeasuredLatency | TableLatency] = (),
    ) -> None:
        self._group = group
        self._path = path
        self._space = space
        self._latency = {lat.device: lat for lat in latency if lat.source == "measured"}
        self._tables = {lat.device: lat for lat in latency if lat.source == "lut"}
        self._attrs = dict(group.attrs)
        self._models = group[MODEL.name][:]
        self._seeds = group[SEED.name][:]
        self._num_epochs = int(group[EPOCH.name].shape[0])
        self._is_full = len(self._models) == NUM_MODELS  # sorted + unique => exactly 0..N-1
        self._arrays: dict[str, LazyArray] = {}

    # ------------------------------------------------------------------ description
    @property
    def path(self) -> Path:
        return self._path

    @property
    def kind(self) -> str:
        """The store kind: ``"benchmark"`` (normal training), ``"finetune"`` (students
        fine-tuned from a teacher's block library; its settings are in :attr:`attrs`) or
        ``"surrogate"`` (a benchmark completed by a predictor: see :meth:`is_predicted`)."""
        return str(self._attrs["store_kind"])

    @property
    def is_surrogate(self) -> bool:
        """Whether some values are predictions rather than measurements (a surrogate store)."""
        return self._attrs["store_kind"] == SURROGATE.kind

    @property
    def surrogate(self) -> dict[str, Any] | None:
        """For a surrogate store, what was predicted and how well: ``target_metric``,
        ``seeds_mode``, ``predictor`` (name, params, train), ``ensemble_size``,
        ``source_store``, ``heldout_error`` (n, spearman, kendall, mae, rmse on measured models
        the ensemble did not train on; None without held-out models), ``num_measured``,
        ``num_predicted``. None for a store of measurements only."""
        if not self.is_surrogate:
            return None
        keys = ("target_metric", "seeds_mode", "predictor", "ensemble_size", "source_store")
        keys += ("heldout_error", "num_measured", "num_predicted")
        return {key: self._attrs[key] for key in keys}

    @property
    def recipe_id(self) -> str:
        return str(self._attrs["recipe_id"])

    @property
    def recipe(self) -> dict[str, Any]:
        return dict(self._attrs["recipe"])

    @property
    def dataset(self) -> str:
        return str(self._attrs["dataset"])

    @property
    def epochs(self) -> int:
        """Epochs per run (the epoch coordinate is ``1..epochs``)."""
        return self._num_epochs

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self._seeds]

    @property
    def models(self) -> np.ndarray:
        """Model indices held by the store (sorted)."""
        return self._models.copy()

    @property
    def devices(self) -> list[str]:
        """Devices of the attached latency stores (measured or lookup table)."""
        return sorted({*self._latency, *self._tables})

    def latency_table(self, device: str) -> Any:
        """The attached lookup table (:class:`~blox_space.bench.latency.TableLatency`: per-block
        seconds ``block_latency_s`` (3, 45) and ``fixed_latency_s``) of ``device``; None when the
        device has no lookup-table store attached."""
        return self._tables.get(device)

    @property
    def latency_sources(self) -> dict[str, str]:
        """Where :meth:`latency` takes each device's values from: ``"measured"`` (a per-model
        store) or ``"lut"`` (the additive prediction of a lookup table)."""
        return {d: "measured" if d in self._latency else "lut" for d in self.devices}

    @property
    def is_partial(self) -> bool:
        return bool(self._attrs.get("is_partial", False))

    @property
    def attrs(self) -> dict[str, Any]:
        """All group attributes (provenance, environments, legacy flags ...)."""
        return dict(self._attrs)

    def __repr__(self) -> str:
        return (
            f"Benchmark({str(self._path)!r}, recipe_id={self.recipe_id!r}, dataset={self.dataset!r}, "
            f"models={len(self)}, seeds={self.seeds}, epochs={self.epochs}, devices={self.devices})"
        )

    def summary(self) -> dict[str, Any]:
        """What the store holds (what ``blox-space info`` prints), as plain values.

        Keys: ``path``, ``recipe_id``, ``recipe``, ``dataset``, ``epochs``, ``seeds``,
        ``num_models``, ``runs`` (per seed: ``done``, ``failed``, ``pending``),
        ``is_partial``, ``devices``, ``num_environments``, ``val_epoch1_aliased``,
        ``provenance``.
        """
        return views.summary(self)

    # ------------------------------------------------------------------ container
    def __len__(self) -> int:
        """Number of models in the store."""
        return len(self._models)

    def __iter__(self) -> Iterator[int]:
        """Model indices held by the store, ascending."""
        return iter(int(m) for m in self._models)

    def __contains__(self, arch: object) -> bool:
        """Whether the store holds the model (done, failed or pending); invalid forms are not in it."""
        try:
            index = to_index(arch)  # type: ignore[arg-type]
        except InvalidArchitectureError:
            return False
        if self._is_full:
            return True
        pos = int(np.searchsorted(self._models, index))
        return pos < len(self._models) and self._models[pos] == index

    # ------------------------------------------------------------------ normalising
    def _indices(self, arch: ArchLike | Sequence[ArchLike]) -> tuple[np.ndarray, bool]:
        """(model indices, is scalar). A numpy array is a vector of indices or of hashes;
        a list/tuple is one architecture when it reads as one, else a sequence of them."""
        if isinstance(arch, np.ndarray) and arch.ndim > 0:
            if arch.dtype.kind in "iu":
                idx = arch.astype(np.int64, copy=False)
                if idx.size and (idx.min() < 0 or idx.max() >= NUM_MODELS):
                    indices_to_blocks(idx)  # raises the typed error naming the bad index
                return idx, False
            if arch.dtype.kind in "US":
                return hashes_to_indices(arch), False
            if arch.dtype.kind == "O":
                return np.array([to_index(a) for a in arch.ravel()], dtype=np.int64).reshape(
                    arch.shape
                ), False
        if isinstance(arch, range):
            return self._indices(np.asarray(arch, dtype=np.int64))
        try:
            return np.int64(to_index(arch)), True  # type: ignore[arg-type]
        except InvalidArchitectureError:
            if isinstance(arch, (list, tuple)) and len(arch) and not isinstance(arch[0], (int, np.integer)):
                return np.array([to_index(a) for a in arch], dtype=np.int64), False
            if isinstance(arch, (list, tuple)) and all(isinstance(a, (int, np.integer)) for a in arch):
                return self._indices(np.asarray(arch, dtype=np.int64))
            raise

    def _positions(self, indices: np.ndarray) -> np.ndarray:
        if self._is_full:
            return indices
        pos = np.searchsorted(self._models, indices)
        pos_c = np.minimum(pos, len(self._models) - 1)
        bad = self._models[pos_c] != indices
        if np.any(bad):
            first = int(np.asarray(indices)[bad].ravel()[0]) if np.ndim(indices) else int(indices)
            raise MissingModelError(
                f"model {first} is not in this benchmark store; it holds {len(self._models):,} models "
                f"(see .models){' and is partial' if self.is_partial else ''}"
            )
        return pos_c

    def _seed_position(self, seed: int | None) -> int:
        if seed is None:
            return 0
        hits = np.flatnonzero(self._seeds == int(seed))
        if not hits.size:
            raise QueryError(f"seed {seed} is not in this benchmark store; its seeds are {self.seeds}")
        return int(hits[0])

    def _array(self, name: str) -> LazyArray:
        arr = self._arrays.get(name)
        if arr is None:
            arr = self._arrays[name] = LazyArray(self._group[name])
        return arr

    def _epoch_slice(self, epoch: int | None) -> int:
        if epoch is None:
            return self._num_epochs
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise QueryError(
                f"epoch must be an int in 1..{self._num_epochs} (epochs count from 1), got {epoch!r}"
            )
        if not 1 <= epoch <= self._num_epochs:
            raise QueryError(f"epoch {epoch} is out of range; this store has epochs 1..{self._num_epochs}")
        return int(epoch)

    # ------------------------------------------------------------------ generic query
    def query(
        self,
        arch: ArchLike | Sequence[ArchLike] | np.ndarray,
        metric: str,
        *,
        epoch: int | None = None,
        best: bool | None = None,
        seed: int | str | None = None,
    ) -> float | np.ndarray:
        """One metric for one model or many (what every named query method calls).

        Args:
            arch: any architecture form, or an array of model indices / hashes.
            metric: a key of :data:`METRICS`.
            epoch: per-epoch metrics only: the epoch (from 1); None = the last.
            best: per-epoch metrics only: the best value up to ``epoch`` (max for
                accuracies, min for losses) instead of the value at ``epoch``; None means
                True for accuracies and False for losses and times, like the original.
            seed: a seed of the store, None for the lowest, ``"mean"`` for the mean over
                the seeds whose run is done.

        Returns:
            A float for one model, else an array shaped like ``arch``. NaN where the run
            is pending or failed (or the epoch was not reached).

        Raises:
            MissingModelError: a model the store does not hold.
            InvalidArchitectureError: an invalid architecture.
            QueryError: an unknown metric or seed, an epoch out of range, an epoch or ``best``
                for a metric measured once per run.
        """
        try:
            fast = _FAST_METRICS.get(metric)
        except TypeError:  # an unhashable "metric"
            fast = None
        if fast is None:
            raise QueryError(f"unknown metric {str(metric)[:40]!r}; metrics are {', '.join(METRICS)}")
        if (
            type(arch) is int
            and self._is_full
            and 0 <= arch < NUM_MODELS
            and (seed is None or type(seed) is int)
        ):
            return self._query_one(arch, fast, epoch, best, seed)  # the scalar-loop fast path
        spec = METRICS[metric]
        indices, scalar = self._indices(arch)
        if isinstance(seed, str):
            if seed != "mean":
                raise QueryError(f"seed must be an int, None or 'mean', got {str(seed)[:40]!r}")
            per_seed = [self.query(indices, metric, epoch=epoch, best=best, seed=int(s)) for s in self._seeds]
            status = self._run_values(RUN_STATUS.name, indices, None)
            stacked = np.stack([np.asarray(v, dtype=np.float64) for v in per_seed], axis=-1)
            stacked = np.where(status == STATUS_DONE, stacked, np.nan)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=RuntimeWarning)
                mean = np.nanmean(stacked, axis=-1)
            return float(mean) if scalar else mean
        name, per_epoch, higher = spec.array, spec.per_epoch, spec.higher_is_better
        s = self._seed_position(seed)
        if not per_epoch:
            if epoch is not None or best:
                raise QueryError(f"{metric} is measured once per run; it takes no epoch or best")
            values = self._run_values(name, indices, s)
            return to_python(values) if scalar else values
        best = higher if best is None else bool(best)
        stop = self._epoch_slice(epoch)
        if name == VAL_ACC.name and best and stop == self._num_epochs:
            values = self._run_values(BEST_VAL_ACC.name, indices, s)  # = max over all epochs
            return to_python(values) if scalar else values
        array = self._array(name)
        if scalar:
            row = array.row(int(self._positions(indices)), (0, stop) if best else (stop - 1, stop))[s]
            if not best:
                return to_python(row[stop - 1])
            return to_python(np.fmax.reduce(row[:stop]) if higher else np.fmin.reduce(row[:stop]))
        pos = self._positions(indices)
        flat = pos.ravel()
        buffer = array.rows(flat, epochs=(0, stop) if best else (stop - 1, stop))
        if flat.size and flat[-1] - flat[0] == flat.size - 1 and np.all(np.diff(flat) == 1):
            block = buffer[flat[0] : flat[-1] + 1, s]  # a view: no gather copy for ranges
        else:
            block = buffer[flat, s]
        if best:
            out = (np.fmax if higher else np.fmin).reduce(block[:, :stop], axis=1)
        else:
            out = block[:, stop - 1].copy()
        return out.reshape(pos.shape)

    def _query_one(
        self,
        position: int,
        spec: tuple[str, bool, bool],
        epoch: int | None,
        best: bool | None,
        seed: int | None,
    ) -> Any:
        """:meth:`query` for one model given by its store position (a few microseconds); ``spec``
        is the metric's ``(array, per_epoch, higher_is_better)`` from :data:`_FAST_METRICS`."""
        name, per_epoch, higher = spec
        s = 0 if seed is None else self._seed_position(seed)
        if not per_epoch:
            if epoch is not None or best:
                raise QueryError(f"{name} is measured once per run; it takes no epoch or best")
            return to_python((self._arrays.get(name) or self._array(name)).row(position)[s])
        if best is None:
            best = higher
        if epoch is None:
            stop = self._num_epochs
        elif type(epoch) is int and 0 < epoch <= self._num_epochs:
            stop = epoch
        else:
            stop = self._epoch_slice(epoch)
        if best and stop == self._num_epochs and name == _VAL_ACC:
            return to_python((self._arrays.get(_BEST_VAL_ACC) or self._array(_BEST_VAL_ACC)).row(position)[s])
        row = (self._arrays.get(name) or self._array(name)).row(
            position, (0, stop) if best else (stop - 1, stop)
        )[s]
        if not best:
            return to_python(row[stop - 1])
        return to_python(np.fmax.reduce(row[:stop]) if higher else np.fmin.reduce(row[:stop]))

    def _run_values(self, name: str, indices: np.ndarray, seed_pos: int | None) -> np.ndarray:
        """Values of a (model, seed) or (model,) array; all seeds when ``seed_pos`` is None."""
        pos = self._positions(indices)
        array = self._array(name)
        if np.ndim(pos) == 0:
            row = array.row(int(pos))
            return row if seed_pos is None or row.ndim == 0 else row[seed_pos]
        buffer = array.rows(pos.ravel())
        out = buffer[pos] if buffer.ndim == 1 or seed_pos is None else buffer[pos, seed_pos]
        return out

    # ------------------------------------------------------------------ original API
    def val_acc(
        self, arch: Any, epoch: int | None = None, best: bool = True, seed: int | str | None = None
    ) -> Any:
        """Validation top-1 in percent: the best up to ``epoch`` (``best=True``) or the value
        after ``epoch``; ``epoch=None`` = all epochs. See :meth:`query` for arch, seed, NaN."""
        return self.query(arch, "val_acc", epoch=epoch, best=best, seed=seed)

    def val_loss(
        self, arch: Any, epoch: int | None = None, best: bool = False, seed: int | str | None = None
    ) -> Any:
        """Validation cross-entropy (lowest up to ``epoch`` when ``best``)."""
        return self.query(arch, "val_loss", epoch=epoch, best=best, seed=seed)

    def val_top5(
        self, arch: Any, epoch: int | None = None, best: bool = True, seed: int | str | None = None
    ) -> Any:
        """Validation top-5 in percent."""
        return self.query(arch, "val_top5", epoch=epoch, best=best, seed=seed)

    def train_acc(
        self, arch: Any, epoch: int | None = None, best: bool = True, seed: int | str | None = None
    ) -> Any:
        """Training top-1 in percent (running average during each epoch)."""
        return self.query(arch, "train_acc", epoch=epoch, best=best, seed=seed)

    def train_loss(
        self, arch: Any, epoch: int | None = None, best: bool = False, seed: int | str | None = None
    ) -> Any:
        """Training cross-entropy (running average during each epoch)."""
        return self.query(arch, "train_loss", epoch=epoch, best=best, seed=seed)

    def train_top5(
        self, arch: Any, epoch: int | None = None, best: bool = True, seed: int | str | None = None
    ) -> Any:
        """Training top-5 in percent."""
        return self.query(arch, "train_top5", epoch=epoch, best=best, seed=seed)

    def test_acc(self, arch: Any, seed: int | str | None = None) -> Any:
        """Test top-1 in percent, measured once with the best-validation weights."""
        return self.query(arch, "test_acc", seed=seed)

    def test_loss(self, arch: Any, seed: int | str | None = None) -> Any:
        """Test cross-entropy with the best-validation weights."""
        return self.query(arch, "test_loss", seed=seed)

    def test_top5(self, arch: Any, seed: int | str | None = None) -> Any:
        """Test top-5 in percent with the best-validation weights."""
        return self.query(arch, "test_top5", seed=seed)

    def train_time(self, arch: Any, epoch: int | None = None, seed: int | str | None = None) -> Any:
        """Training seconds up to ``epoch`` (None = the whole run).

        The sum of the recorded epoch seconds when the store has them; otherwise (e.g. the
        released files, which kept only the total) the original's linear interpolation
        ``train_seconds * epoch / epochs``.
        """
        total = self.query(arch, "train_seconds", seed=seed)
        if epoch is None:
            return total
        stop = self._epoch_slice(epoch)
        indices, scalar = self._indices(arch)
        if isinstance(seed, str):
            per_seed = [self.train_time(indices, epoch, int(s)) for s in self._seeds]
            status = self._run_values(RUN_STATUS.name, indices, None)
            stacked = np.where(status == STATUS_DONE, np.stack(per_seed, axis=-1), np.nan)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=RuntimeWarning)
                mean = np.nanmean(stacked, axis=-1)
            return float(mean) if scalar else mean
        s = self._seed_position(seed)
        pos = self._positions(indices)
        array = self._array(EPOCH_SECONDS.name)
        if scalar:
            curve = array.row(int(pos))[s, :stop].astype(np.float64)
            if np.isnan(curve).all():
                return float(total) * stop / self._num_epochs
            return float(np.nansum(curve))
        buffer = array.rows(pos.ravel(), epochs=(0, stop))
        curves = buffer[pos.ravel(), s, :stop].astype(np.float64)
        measured = ~np.isnan(curves).all(axis=1)
        summed = np.nansum(curves, axis=1)
        interp = np.asarray(total, dtype=np.float64).ravel() * stop / self._num_epochs
        return np.where(measured, summed, interp).reshape(pos.shape)

    def curve(self, arch: ArchLike, metric: str, *, seed: int | None = None) -> list[Any]:
        """One run's per-epoch values of a per-epoch metric, as Python values (index ``e - 1``
        holds epoch ``e``; NaN where the epoch was not reached).

        Raises:
            QueryError: an unknown or per-run metric, or a seed the store does not have.
            MissingModelError: a model the store does not hold.
        """
        spec = METRICS.get(metric) if isinstance(metric, str) else None
        if spec is None or not spec.per_epoch:
            per_epoch = [name for name, m in METRICS.items() if m.per_epoch]
            raise QueryError(
                f"curve needs a per-epoch metric ({', '.join(per_epoch)}), got {str(metric)[:40]!r}"
            )
        pos = int(self._positions(np.int64(to_index(arch))))
        return [to_python(v) for v in self._array(spec.array).row(pos)[self._seed_position(seed)]]

    def fail_reason(self, arch: ArchLike, seed: int | None = None) -> str:
        """Why the run failed; empty unless its status is failed."""
        pos = int(self._positions(np.int64(to_index(arch))))
        return str(self._array(FAIL_REASON.name).row(pos)[self._seed_position(seed)])

    def status(self, arch: Any, seed: int | None = None) -> Any:
        """Run status as a name (``pending``, ``done``, ``failed``), or an int8 array of
        :data:`~blox_space.schema.STATUS_FLAGS` values for many models."""
        indices, scalar = self._indices(arch)
        values = self._run_values(RUN_STATUS.name, indices, self._seed_position(seed))
        return STATUS_NAMES[int(values)] if scalar else values

    def is_predicted(self, arch: Any) -> Any:
        """Whether the model's values are a surrogate's prediction (True) or measured (False):
        a bool for one model, a bool array for many. Always False outside surrogate stores.

        Raises:
            MissingModelError: a model the store does not hold.
        """
        indices, scalar = self._indices(arch)
        if not self.is_surrogate:
            self._positions(indices)  # a model the store lacks is still an error
            return False if scalar else np.zeros(np.shape(indices), dtype=bool)
        values = self._run_values(IS_PREDICTED.name, indices, None)
        return bool(values) if scalar else np.asarray(values, dtype=bool)

    def prediction_std(self, arch: Any) -> Any:
        """The spread (standard deviation over the ensemble members, in the target metric's
        units) of a predicted value; NaN for measured models and outside surrogate stores."""
        indices, scalar = self._indices(arch)
        if not self.is_surrogate:
            self._positions(indices)
            return float("nan") if scalar else np.full(np.shape(indices), np.nan, dtype=np.float32)
        values = self._run_values(PREDICTION_STD.name, indices, None)
        return to_python(values) if scalar else values

    def _static(self, arch: Any, name: str, space_name: str) -> Any:
        indices, scalar = self._indices(arch)
        values = np.asarray(self._run_values(name, indices, None), dtype=np.int64)
        unknown = values < 0
        if np.any(unknown):
            if self._space is None:
                raise StoreError(
                    f"this benchmark store did not record {name} for model {int(np.asarray(indices)[unknown].ravel()[0])}; "
                    "open it with space=PATH of a space store to read them from there"
                )
            from_space = self._space[space_name].get_orthogonal_selection(
                np.asarray(indices[unknown]).ravel()
            )
            values = values.copy()
            values[unknown] = from_space if np.ndim(values) else from_space[0]
        return int(values) if scalar else values

    def params(self, arch: Any) -> Any:
        """Trainable parameters (int)."""
        return self._static(arch, RECORDED_PARAMS.name, SPACE["params"].name)

    def flops(self, arch: Any) -> Any:
        """Multiply-accumulates per image, the original's "flops" (int)."""
        return self._static(arch, RECORDED_MACS.name, SPACE["macs"].name)

    macs = flops

    def arch_vec(self, arch: Any) -> list[list[list[int]]]:
        """The canonical original arch vector of one model."""
        return to_arch_vec(arch)

    def latency(self, arch: Any, devices: str | Sequence[str] | None = None) -> Any:
        """Latency in seconds per forward pass from the attached latency stores.

        A device with a per-model store gives its measured end-to-end latency (NaN for
        models it did not measure); a device with only a lookup table gives the table's
        additive prediction (see :attr:`latency_sources` and :meth:`predicted_latency`).

        Args:
            arch: one architecture or an array of model indices.
            devices: one device name (returns its value), or a list / None for all
                attached devices (returns ``{device: value}``).

        Raises:
            StoreError: no latency store for a requested device.
        """
        return self._latency_query(arch, devices, {**self._tables, **self._latency}, "latency")

    def predicted_latency(self, arch: Any, devices: str | Sequence[str] | None = None) -> Any:
        """The lookup table's additive latency prediction in seconds (``blox-hw blocks``
        stores): fixed parts plus each stage's block, for any model of the space.

        Args and returns as :meth:`latency`; ``devices=None`` means every device with a table.

        Raises:
            StoreError: no lookup-table store for a requested device.
        """
        return self._latency_query(arch, devices, self._tables, "lookup-table")

    def _latency_query(self, arch: Any, devices: str | Sequence[str] | None, sources: dict, what: str) -> Any:
        names = (
            [devices]
            if isinstance(devices, str)
            else list(devices)
            if devices is not None
            else sorted(sources)
        )
        unknown = [d for d in names if d not in sources]
        if unknown:
            raise StoreError(
                f"no {what} store for device(s) {unknown}; attached: {sorted(sources) or 'none'} "
                "(pass latency=[PATH, ...] to open_benchmark)"
            )
        indices, scalar = self._indices(arch)
        result = {}
        for device in names:
            values = sources[device].values(indices)
            result[device] = float(values) if scalar else values
        return result[devices] if isinstance(devices, str) else result

    def env(self, arch: Any, seed: int | None = None) -> dict[str, Any] | None:
        """The environment (device, versions) the run used, or None if none was recorded."""
        env_id = int(self._run_values(ENV_ID.name, self._indices(arch)[0], self._seed_position(seed)))
        envs = self._attrs.get("environments", [])
        return dict(envs[env_id]) if 0 <= env_id < len(envs) else None

    def full_info(self, arch: Any, seed: int | None = None) -> dict[str, Any]:
        """Everything about one training run as plain Python values.

        Keys: ``model``, ``hash``, ``name``, ``arch_vec``, ``seed``, ``status``,
        ``fail_reason``, the per-epoch curves (lists, index ``e-1`` = epoch ``e``), the test
        metrics, ``best_epoch``, ``best_val_acc``, ``train_seconds``, ``params``, ``flops``
        (None when not recorded and no space store), ``env``, ``latency``
        (``{device: seconds}``), ``is_predicted`` (True: the values are a surrogate's
        prediction of its target metric, not a measurement), ``source`` (``"measured"`` or
        ``"predicted"``) and ``prediction_std`` (the ensemble's spread; None when measured).
        """
        info = views.full_info(self, arch, seed)
        predicted = bool(self.is_predicted(info["model"]))
        info["is_predicted"] = predicted
        info["source"] = "predicted" if predicted else "measured"
        info["prediction_std"] = self.prediction_std(info["model"]) if predicted else None
        return info

    # ------------------------------------------------------------------ export
    def to_dataframe(self, *, epoch: int | None = None, seed: int | str | None = None) -> Any:
        """One row per model (index ``model``): hash, name-free summary columns.

        Columns: ``hash``, ``status``, ``val_acc`` (best up to ``epoch``), ``val_loss`` (at
        ``epoch``), ``train_acc``, ``train_loss`` (at ``epoch``), ``test_acc``,
        ``test_loss``, ``test_top5``, ``train_seconds`` (up to ``epoch``), ``best_epoch``,
        ``params`` and ``flops`` (when recorded or a space store is attached), then one
        ``latency_<device>`` column per attached device (seconds).
        """
        return views.to_dataframe(self, epoch, seed)

    def to_xarray(self) -> Any:
        """The whole store as a lazy ``xarray.Dataset`` (nothing is read until used)."""
        return views.to_xarray(self)
