"""Schema of the **proxies** store and its shard writer: zero-cost proxies of some models at one
recipe's geometry (SPEC §6, §8), written by ``blox-predict proxies`` (one shard per bucket of
models) and merged along ``model`` with the shared merge (``blox-space merge``). blox-space only
stores the numbers; blox-predict computes them (:mod:`blox_predict.proxies`, which says how each
proxy is defined) and reads them back with :func:`blox_predict.proxies.open_proxies`.

Dimension: ``model`` (sorted model indices of the store).

Arrays, all ``(model,)``:

* one float64 array per proxy of :data:`PROXY_NAMES`: ``grad_norm``, ``snip``, ``grasp``,
  ``synflow``, ``jacob_cov`` (unitless scores from one seeded minibatch; see blox-predict for
  their definitions and signs), ``params`` (trainable parameters) and ``macs``
  (multiply-accumulates of one forward pass at batch 1) at the recipe's geometry. NaN where the
  model was not computed, failed, or the proxy came out non-finite.
* ``status`` (:class:`~blox_space.store.spec.Status`: pending, done, failed) -- the done mask;
  ``fail_reason`` says why a model failed.
* ``seconds`` in ``s``: wall seconds spent on the model's proxies (building the network and all
  five gradient proxies; params and MACs are counted, not measured).

Group attributes (:data:`PROXIES_ATTRS`): ``recipe_id`` and ``recipe`` (the recipe whose
geometry and dataset the models were built at), ``dataset``, ``seed`` (of the minibatch and of
the weight initialisation), ``batch_size`` (of the minibatch), ``geometry`` (``width``,
``resolution``, ``num_classes``) and ``device``; an optional ``bucket`` (``index``, ``count``)
lets the merge refuse a missing bucket. Shards of one store share all of them but ``bucket``
and ``device``.

Chunks: a shard is written once, at the end of its job, as one chunk per array (into a
temporary path moved into place, so a killed job leaves no shard); the merge re-chunks.

Example:
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_proxies_shard(f"{tmp}/p.zarr", [3, 1], {"synflow": [2.0, 1.0]},
    ...         seconds=[0.1, 0.1], recipe_id="r", recipe={"name": "quick"}, dataset="digits",
    ...         seed=0, batch_size=64, geometry={"width": 8, "resolution": 16, "num_classes": 10})
    ...     group = open_store(path, "proxies")
    ...     group["model"][:].tolist(), group["synflow"][:].tolist(), bool(np.isnan(group["snip"][0]))
    ([1, 3], [1.0, 2.0], True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..blocks import NUM_MODELS
from ..errors import SchemaError
from .environments import canonical_json
from .group import atomic_store, create_store, open_store
from .spec import MODEL, STATUS_DONE, STATUS_FAILED, STATUS_FLAGS, ArraySpec, StoreSpec, register_store_kind

__all__ = [
    "PROXY_NAMES",
    "PROXY_ARRAYS",
    "PROXY_STATUS",
    "PROXY_FAIL_REASON",
    "PROXY_SECONDS",
    "PROXIES_ATTRS",
    "PROXIES",
    "check_proxies_store",
    "write_proxies_shard",
]

#: The proxies a proxies store holds, in order (gradient proxies, then the two baselines).
PROXY_NAMES = ("grad_norm", "snip", "grasp", "synflow", "jacob_cov", "params", "macs")

_MEANINGS = {
    "grad_norm": "sum over conv/linear layers of the L2 norm of the loss gradient (Abdelfattah et al. 2021)",
    "snip": "sum of |weight x loss gradient| over conv/linear weights (SNIP, Lee et al. 2019)",
    "grasp": "sum of -weight x (Hessian x gradient) over conv/linear weights (GraSP, Wang et al. 2020)",
    "synflow": "sum of weight x gradient of the all-ones forward of |weights| (SynFlow, Tanaka et al. 2020)",
    "jacob_cov": "-sum(log(e + 1e-5) + 1/(e + 1e-5)) over eigenvalues e of the input-Jacobian "
    "correlation matrix (Mellor et al. 2021)",
    "params": "trainable parameters at the recipe's geometry",
    "macs": "multiply-accumulates of one forward pass at batch 1 at the recipe's geometry",
}

#: One ``(model,)`` float64 array per proxy.
PROXY_ARRAYS = tuple(ArraySpec(name, ("model",), "float64", "1", _MEANINGS[name]) for name in PROXY_NAMES)
PROXY_STATUS = ArraySpec(
    "status", ("model",), "int8", "1", "state of the model's proxies", attrs=dict(STATUS_FLAGS)
)
PROXY_FAIL_REASON = ArraySpec(
    "fail_reason", ("model",), "<U160", "1", "why the model's proxies failed; empty unless failed"
)
PROXY_SECONDS = ArraySpec(
    "seconds", ("model",), "float64", "s", "wall seconds of the model's proxies", valid_range=(0.0, np.inf)
)
#: Group attributes every proxies store has.
PROXIES_ATTRS = ("recipe_id", "recipe", "dataset", "seed", "batch_size", "geometry", "device")
_MATCH = ("recipe_id", "recipe", "dataset", "seed", "batch_size", "geometry")
_GEOMETRY_KEYS = ("width", "resolution", "num_classes")


def check_proxies_store(group: Any, path: Any) -> None:
    """Checks beyond the schema (run by ``open_store``): sorted, unique model indices in range
    (the writer, :func:`write_proxies_shard`, checks the attributes).

    Raises:
        SchemaError: naming what is wrong.
    """
    models = group[MODEL.name][:]
    if models.size and (np.any(np.diff(models) <= 0) or models[0] < 0 or models[-1] >= NUM_MODELS):
        raise SchemaError(
            f"{path}: models of a proxies store must be sorted, unique and in 0..{NUM_MODELS - 1}"
        )


PROXIES = register_store_kind(
    StoreSpec(
        kind="proxies",
        coords=(MODEL,),
        arrays=(*PROXY_ARRAYS, PROXY_STATUS, PROXY_FAIL_REASON, PROXY_SECONDS),
        required_attrs=PROXIES_ATTRS,
        merge_dim="model",
        match_attrs=_MATCH,
        check=check_proxies_store,
    )
)


def write_proxies_shard(
    path: str | Path,
    models: Sequence[int] | np.ndarray,
    values: Mapping[str, Sequence[float] | np.ndarray],
    *,
    seconds: Sequence[float] | np.ndarray,
    recipe_id: str,
    recipe: Mapping[str, Any],
    dataset: str,
    seed: int,
    batch_size: int,
    geometry: Mapping[str, int],
    status: Sequence[int] | np.ndarray | None = None,
    fail_reason: Sequence[str] | None = None,
    device: str = "cpu",
    bucket: tuple[int, int] | None = None,
    overwrite: bool = False,
    producer: str = "blox-space",
) -> Path:
    """Write a whole proxies shard at once (into a temporary path, then moved into place).

    Args:
        path: the shard store folder (e.g. ``results/proxies/quick/bucket-0.zarr``).
        models: model indices (any order; stored sorted, every per-model input reordered with them).
        values: proxy name -> one value per model; proxies not given are NaN. Non-finite
            values are stored as NaN.
        seconds: wall seconds per model.
        recipe_id, recipe, dataset, seed, batch_size, geometry, device: the group attributes.
        status: per model :class:`~blox_space.store.spec.Status` (default: all done).
        fail_reason: per model reason (empty unless failed).
        bucket: ``(index, count)`` when the shard is bucket ``index`` of ``count``.
        overwrite: replace an existing store.
        producer: distribution recorded as producer (``"blox-predict"``).

    Returns:
        ``path`` as a Path.

    Raises:
        SchemaError: empty / duplicate / out-of-range models, an unknown proxy name, a per-model
            input of the wrong length, a bad geometry or bucket.
        StoreError: ``path`` exists and ``overwrite`` is False.
    """
    models_arr = np.asarray(list(models), dtype=np.int64).ravel()
    n = models_arr.size
    if n == 0:
        raise SchemaError("a proxies shard needs at least one model")
    if len(np.unique(models_arr)) != n:
        raise SchemaError(f"models must be unique; got duplicates in {models_arr.tolist()[:10]}")
    if models_arr.min() < 0 or models_arr.max() >= NUM_MODELS:
        raise SchemaError(f"model indices must be in 0..{NUM_MODELS - 1}")
    order = np.argsort(models_arr)
    unknown = sorted(set(values) - set(PROXY_NAMES))
    if unknown:
        raise SchemaError(f"unknown proxies {unknown}; a proxies store holds {list(PROXY_NAMES)}")

    def per_model(what: str, data: Any, dtype: Any) -> np.ndarray:
        arr = np.asarray(data if not isinstance(data, str) else [data], dtype=dtype).ravel()
        if arr.size != n:
            raise SchemaError(f"{what} has {arr.size} values for {n} models")
        return arr[order]

    if not isinstance(geometry, Mapping) or any(k not in geometry for k in _GEOMETRY_KEYS):
        raise SchemaError(f"geometry must be a mapping with keys {list(_GEOMETRY_KEYS)}")
    attrs: dict[str, Any] = {
        "recipe_id": str(recipe_id),
        "recipe": json.loads(canonical_json(dict(recipe))),
        "dataset": str(dataset),
        "seed": int(seed),
        "batch_size": int(batch_size),
        "geometry": {k: int(geometry[k]) for k in _GEOMETRY_KEYS},
        "device": str(device),
        "is_partial": True,
    }
    if bucket is not None:
        index, count = (int(v) for v in bucket)
        if not 0 <= index < count:
            raise SchemaError(f"bucket index {index} is outside 0..{count - 1}")
        attrs["bucket"] = {"index": index, "count": count}
    states = (
        np.full(n, STATUS_DONE, dtype=np.int8) if status is None else per_model("status", status, np.int8)
    )
    if not np.isin(states, list(STATUS_FLAGS["flag_values"])).all():
        raise SchemaError(f"status values must be among {STATUS_FLAGS['flag_values']}")
    texts = [""] * n if fail_reason is None else [str(r)[:160] for r in fail_reason]
    reasons = per_model("fail_reason", texts, PROXY_FAIL_REASON.dtype)
    secs = per_model("seconds", seconds, np.float64)
    if PROXY_SECONDS.invalid(secs).any() or np.isnan(secs).any():
        raise SchemaError("seconds must be finite and >= 0 for every model")
    with atomic_store(path, overwrite=overwrite) as tmp:
        group = create_store(
            tmp, PROXIES, sizes={"model": n}, coords={"model": models_arr[order]}, chunks={"model": n},
            attrs=attrs, producer=producer,
        )  # fmt: skip
        for spec in PROXY_ARRAYS:
            if spec.name in values:
                column = per_model(spec.name, values[spec.name], np.float64)
                failed = states == STATUS_FAILED
                group[spec.name][:] = np.where(np.isfinite(column) & ~failed, column, np.nan)
        group[PROXY_SECONDS.name][:] = secs
        group[PROXY_FAIL_REASON.name][:] = reasons
        group[PROXY_STATUS.name][:] = states
    open_store(path, PROXIES.kind)  # validates what was written
    return Path(path)
