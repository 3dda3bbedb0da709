"""Schema of the **latency** stores (written by blox-hw): one store per device and kind; seconds
per forward pass at the protocol's batch size, eval mode, no grad.

Group attributes (:data:`LATENCY_ATTRS`): ``device`` (``{kind}-{model}-{precision}``, e.g.
``cpu-amd-epyc-fp32``), ``device_kind`` (the blox-hw registry name: cpu, cuda, torchscript,
onnxruntime), ``precision``, ``protocol`` (dict with ``name``, ``version``, batch size, warm-up,
runs x repetitions, pause, statistic), ``environment`` (CPU/GPU model, cores, threads, torch
version) and the network geometry (``width``, ``resolution``, ``num_classes``).

* ``latency``: end-to-end latency per model; the ``model`` coordinate holds the measured model
  indices (sorted, unique; any subset, all 91,125 for the paper). ``done`` is the done mask,
  ``status`` says why a model is missing (pending / failed); unmeasured latencies are NaN.
  Shards (one per profiling bucket) merge along ``model`` with the shared merge.
* ``latency_lut``: the per-block lookup table. ``block_latency_s[s, b]`` is stage ``s`` (block
  ``b``'s cell plus the stage's reduction) measured alone at the stage's input shape;
  ``fixed_latency_s`` the stem, the head (pool + linear) and the glue (the whole reference
  model minus its parts). Additive prediction (:func:`blox_space.additive_latency`):
  ``latency ~= sum(fixed_latency_s) + sum_s block_latency_s[s, block_ids[s]]``.
"""

from __future__ import annotations

import numpy as np

from .benchmark import BENCHMARK_MODEL_CHUNK
from .spec import BLOCK, MODEL, STAGE, STATUS_FLAGS, ArraySpec, StoreSpec, register_store_kind

__all__ = ["LATENCY_ATTRS", "PART", "LATENCY_S", "LATENCY", "LATENCY_LUT"]

LATENCY_ATTRS = (
    "device",
    "device_kind",
    "precision",
    "protocol",
    "environment",
    "width",
    "resolution",
    "num_classes",
)
PART = ArraySpec("part", ("part",), "<U8", "1", "fixed part of the network (stem, head, glue)")
_SECONDS = (0.0, np.inf)

LATENCY_S = ArraySpec(
    "latency_s", ("model",), "float64", "s", "end-to-end latency per forward pass (IQR mean of run means)",
    valid_range=_SECONDS,
)  # fmt: skip

LATENCY = register_store_kind(
    StoreSpec(
        kind="latency",
        coords=(MODEL,),
        arrays=(
            LATENCY_S,
            ArraySpec("latency_spread", ("model",), "float64", "1", "IQR / median of the run means"),
            ArraySpec("done", ("model",), "bool", "1", "latency was measured"),
            ArraySpec(
                "status", ("model",), "int8", "1", "measurement status of the model", attrs=dict(STATUS_FLAGS)
            ),
        ),
        chunks={"model": BENCHMARK_MODEL_CHUNK},
        required_attrs=LATENCY_ATTRS,
        merge_dim="model",
        match_attrs=("device", "device_kind", "precision", "protocol", "width", "resolution", "num_classes"),
        carry_attrs=("validation",),
    )
)

LATENCY_LUT = register_store_kind(
    StoreSpec(
        kind="latency_lut",
        coords=(STAGE, BLOCK, PART),
        arrays=(
            ArraySpec(
                "block_latency_s",
                ("stage", "block"),
                "float64",
                "s",
                "latency of the block's cell plus the stage's reduction",
                valid_range=_SECONDS,
            ),  # fmt: skip
            ArraySpec(
                "block_latency_spread", ("stage", "block"), "float64", "1", "IQR / median of the run means"
            ),
            ArraySpec(
                "block_status",
                ("stage", "block"),
                "int8",
                "1",
                "measurement status of the stage block",
                attrs=dict(STATUS_FLAGS),
            ),  # fmt: skip
            ArraySpec(
                "fixed_latency_s",
                ("part",),
                "float64",
                "s",
                "latency of the fixed part",
                valid_range=_SECONDS,
            ),
            ArraySpec("fixed_latency_spread", ("part",), "float64", "1", "IQR / median of the run means"),
            ArraySpec(
                "fixed_status",
                ("part",),
                "int8",
                "1",
                "measurement status of the fixed part",
                attrs=dict(STATUS_FLAGS),
            ),
        ),
        required_attrs=LATENCY_ATTRS,
    )
)
