"""Analysis of benchmark results: Pareto fronts, per-model tables and latency per device.

What reports and notebooks compute from an opened benchmark (numpy and pandas only, no
torch): the accuracy-vs-cost Pareto front, one row per trained model with the mean over its
finished runs, and each model's latency on each device, measured where it was measured and
predicted by the device's lookup table elsewhere.

Example:
    >>> import numpy as np
    >>> pareto_front(np.array([3.0, 1.0, 2.0]), np.array([50.0, 10.0, 40.0])).tolist()
    [1, 2, 0]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike

from ..arch import indices_to_blocks
from ..errors import StoreError
from ..store.spec import STATUS_DONE

if TYPE_CHECKING:
    import pandas as pd

    from .benchmark import Benchmark

__all__ = ["LatencySource", "latency_by_device", "model_table", "pareto_front"]

#: Order in which :func:`latency_by_device` takes a device's values: measured end to end
#: first, then the lookup table's additive prediction.
LATENCY_PREFERENCE = ("measured", "lut")


class LatencySource(Protocol):
    """What :func:`blox_space.open_latency` returns: one device's latency store.

    Attributes:
        device: the device name.
        source: ``"measured"`` (per-model store) or ``"lut"`` (lookup table).
    """

    device: str
    source: str

    def values(self, indices: np.ndarray) -> np.ndarray:
        """Seconds per model index, NaN where the store has no value."""
        ...


def pareto_front(cost: ArrayLike, acc: ArrayLike) -> np.ndarray:
    """Positions of the Pareto-optimal points, cheapest first.

    A point is on the front when no other point is at most as costly and at least as
    accurate, and strictly better in one of the two. Ties: of several points with the same
    cost and the same accuracy only the first (lowest position) is on the front; a point
    with the cost of a more accurate one, or the accuracy of a cheaper one, is not. Points
    with a NaN cost or accuracy are never on it. Cost and accuracy both strictly increase
    along the front.

    Args:
        cost: (n,) cost of each point, lower is better (e.g. MACs, seconds).
        acc: (n,) accuracy of each point, higher is better.

    Returns:
        (k,) int64 positions into ``cost`` / ``acc``, ordered by increasing cost.

    Raises:
        ValueError: ``cost`` and ``acc`` are not 1-D arrays of one length.

    Shapes:
        cost, acc: ``(n,)`` -> ``(k,)`` with ``k <= n``

    Example:
        >>> cost = np.array([3.0, 1.0, 2.0, 4.0, 2.0])
        >>> acc = np.array([50.0, 10.0, 40.0, 45.0, 30.0])
        >>> pareto_front(cost, acc).tolist()
        [1, 2, 0]
    """
    cost = np.asarray(cost, dtype=np.float64)
    acc = np.asarray(acc, dtype=np.float64)
    if cost.ndim != 1 or cost.shape != acc.shape:
        raise ValueError(f"cost and acc must be 1-D of one length, got shapes {cost.shape} and {acc.shape}")
    valid = np.flatnonzero(~np.isnan(cost) & ~np.isnan(acc))
    # cheapest first; at equal cost the most accurate first; a stable sort keeps the lowest
    # position first among exact duplicates
    order = valid[np.lexsort((-acc[valid], cost[valid]))]
    ranked = acc[order]
    best_before = np.maximum.accumulate(np.concatenate([[-np.inf], ranked[:-1]]))
    keep = ranked > best_before
    keep[:1] = True  # the cheapest point is optimal even with an accuracy of -inf
    return order[keep].astype(np.int64)


def model_table(bench: Benchmark, *, epoch: int | None = None) -> pd.DataFrame:
    """One row per model with at least one finished run, averaged over its finished runs.

    The rows of :meth:`Benchmark.to_dataframe` with ``seed="mean"`` (accuracies in percent
    and seconds are means over the seeds whose run is done; ``params`` / ``flops`` as
    recorded, else from the space store the benchmark was opened with) for the models of
    which at least one run is done, plus ``num_done`` (finished runs) and ``is_uniform``
    (the same block in every stage). Models with no finished run (pending or failed) are
    left out, never imputed.

    Args:
        bench: an opened benchmark (:func:`blox_space.open_benchmark`).
        epoch: the fidelity passed to ``to_dataframe`` (None = all epochs).

    Returns:
        A DataFrame indexed by ``model`` (ascending).

    Example:
        >>> bench = open_benchmark("results/benchmark/quick.zarr", space="results/space.zarr")  # doctest: +SKIP
        >>> table = model_table(bench)  # doctest: +SKIP
        >>> table.loc[pareto_front(table["flops"], table["val_acc"])]  # doctest: +SKIP
    """
    frame = bench.to_dataframe(epoch=epoch, seed="mean")
    models = frame.index.to_numpy(dtype=np.int64)
    num_done = np.zeros(len(models), dtype=np.int64)
    for seed in bench.seeds:
        num_done += np.asarray(bench.status(models, seed=seed)) == STATUS_DONE
    blocks = np.asarray(indices_to_blocks(models)).reshape(len(models), -1)
    frame["num_done"] = num_done
    frame["is_uniform"] = (blocks == blocks[:, :1]).all(axis=1)
    return frame[num_done > 0]


def latency_by_device(sources: Iterable[LatencySource], models: ArrayLike) -> pd.DataFrame:
    """Each model's latency on each device: measured first, the lookup table for the rest.

    For every device with a source, a model takes its measured end-to-end latency where a
    per-model store of the device has it, else the additive prediction of the device's
    lookup table, else NaN.

    Args:
        sources: latency stores opened with :func:`blox_space.open_latency`, at most one
            per device and kind.
        models: (n,) model indices.

    Returns:
        A long DataFrame with one row per (device, model), devices sorted and models in the
        given order: ``device``, ``model``, ``latency_s`` (seconds) and ``source``
        (``"measured"``, ``"lut"`` or ``"missing"`` where no store has a value).

    Raises:
        StoreError: two sources of one device and kind.

    Example:
        >>> sources = [open_latency(p) for p in ["results/latency/cpu.zarr"]]  # doctest: +SKIP
        >>> latency_by_device(sources, bench.models).groupby("device")["latency_s"].median()  # doctest: +SKIP
    """
    import pandas as pd  # imported on use: `import blox_space` stays light

    models = np.asarray(models, dtype=np.int64).ravel()
    by_device: dict[str, dict[str, LatencySource]] = {}
    for source in sources:
        kinds = by_device.setdefault(source.device, {})
        if source.source in kinds:
            raise StoreError(
                f"two {source.source} latency stores for device {source.device!r}; pass one per device and kind"
            )
        kinds[source.source] = source
    frames = []
    for device, kinds in sorted(by_device.items()):
        values = np.full(len(models), np.nan)
        origin = np.full(len(models), "missing", dtype=object)
        for kind in LATENCY_PREFERENCE:
            if kind in kinds:
                gap = np.isnan(values)
                values[gap] = kinds[kind].values(models[gap])
                origin[gap & ~np.isnan(values)] = kind
        frames.append(
            pd.DataFrame({"device": device, "model": models, "latency_s": values, "source": origin})
        )
    if not frames:
        return pd.DataFrame(
            {
                "device": pd.Series(dtype=object),
                "model": pd.Series(dtype=np.int64),
                "latency_s": pd.Series(dtype=np.float64),
                "source": pd.Series(dtype=object),
            }
        )
    return pd.concat(frames, ignore_index=True)
