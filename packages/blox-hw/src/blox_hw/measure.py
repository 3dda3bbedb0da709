"""Timing modules and whole models under a :class:`~blox_hw.protocol.Protocol`."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import blox_space as bs
import numpy as np
import torch
from blox_space import ArchLike, Geometry
from blox_space.schema import STATUS_DONE, STATUS_FAILED
from torch import nn

from ._models import build_seeded, tqdm_disable
from .devices import Device, get_device
from .protocol import Protocol, get_protocol, relative_spread, trimmed_mean_of_means

__all__ = [
    "Measurement",
    "ModelLatencies",
    "Setup",
    "measure_module",
    "measure_modules",
    "measure_latency",
    "measure_models",
    "calibrate_call_s",
    "estimate_seconds",
    "format_seconds",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measurement:
    """One module measured under a protocol.

    Attributes:
        latency_s: the protocol's statistic, seconds per forward pass of one batch.
        spread: interquartile range / median of the run means (dimensionless).
        timings_s: every timed repetition, shape ``(num_runs, num_reps)``, seconds.
    """

    latency_s: float
    spread: float
    timings_s: np.ndarray


@dataclass(frozen=True)
class Setup:
    """What a set of latencies was measured with; becomes the stores' group attributes.

    Attributes:
        device: the device (name, kind, precision, threads).
        protocol: the measurement protocol.
        width, resolution, num_classes: the network geometry.
    """

    device: Device
    protocol: Protocol
    width: int = 32
    resolution: int = 32
    num_classes: int = 100

    def __post_init__(self) -> None:
        Geometry(width=self.width, resolution=self.resolution, num_classes=self.num_classes)  # validates
        self.device.check_clock(self.protocol.clock)  # fail before anything is measured

    def attrs(self) -> dict[str, Any]:
        """Group attributes of a latency store (``LATENCY_ATTRS`` in the schema)."""
        return {
            "device": self.device.name,
            "device_kind": self.device.kind,
            "precision": self.device.precision,
            "protocol": self.protocol.to_dict(),
            "environment": self.device.environment(),
            "width": self.width,
            "resolution": self.resolution,
            "num_classes": self.num_classes,
        }


class StoreAttrs:
    """Mixin of results that carry their store's group attributes in ``attrs``."""

    attrs: dict[str, Any]

    @property
    def device(self) -> str:
        """The device name the values were measured on."""
        return str(self.attrs.get("device", ""))


@dataclass(frozen=True)
class ModelLatencies(StoreAttrs):
    """End-to-end latencies of a list of models.

    Attributes:
        models: model indices, shape ``(n,)``.
        latency_s: seconds per forward pass, NaN where the measurement failed.
        spread: IQR / median of the run means per model.
        status: ``STATUS_DONE`` or ``STATUS_FAILED`` per model (schema flags).
        attrs: device, protocol, environment and geometry (the store's group attributes).
    """

    models: np.ndarray
    latency_s: np.ndarray
    spread: np.ndarray
    status: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)


def measure_module(
    module: nn.Module,
    input_shape: Sequence[int],
    *,
    device: str | Device = "cpu",
    protocol: str | Protocol = "quick",
    seed: int = 0,
) -> Measurement:
    """Time one module in eval mode without gradients.

    Args:
        module: the module; moved to the device and cast to its precision.
        input_shape: one input without the batch dimension, e.g. ``(3, 32, 32)``.
        device: a device kind or :class:`Device`.
        protocol: a protocol name or :class:`Protocol` (its batch size is prepended).
        seed: seed of the random inputs (one fresh input per run).

    Returns:
        The :class:`Measurement`.

    Raises:
        DeviceUnavailableError: the device is not present here.
        DeviceSettingError: the protocol's clock does not suit the device.

    Shapes:
        input: (batch_size, *input_shape)
    """
    device, protocol = get_device(device), get_protocol(protocol)
    device.check_available()
    device.check_clock(protocol.clock)
    generator = torch.Generator().manual_seed(seed)
    shape = (protocol.batch_size, *(int(d) for d in input_shape))
    timings = np.empty((protocol.num_runs, protocol.num_reps), dtype=np.float64)
    with device.session(), torch.no_grad():
        fn = device.prepare(module, device.make_input(shape, generator))
        for _ in range(protocol.warmup_runs):
            fn(device.make_input(shape, generator))
        device.synchronize()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a collection inside a timed call is noise, not latency
        try:
            for run in range(protocol.num_runs):
                x = device.make_input(shape, generator)
                timings[run] = device.time_run(fn, x, protocol.num_reps, clock=protocol.clock)
                if protocol.pause_s:
                    time.sleep(protocol.pause_s)
        finally:
            if gc_was_enabled:
                gc.enable()
    return Measurement(trimmed_mean_of_means(timings), relative_spread(timings), timings)


def measure_modules(
    modules: Sequence[tuple[nn.Module, Sequence[int]]],
    *,
    device: str | Device = "cpu",
    protocol: str | Protocol = "quick",
    seed: int = 0,
    progress: bool | None = False,
    desc: str = "rounds",
) -> list[Measurement | None]:
    """Time several modules under one protocol, **interleaved**: each run visits every
    module in turn (round robin), so a change of machine speed during the measurement (a
    shared or throttled CPU) shifts all modules alike instead of the ones measured then.

    On this 2-core VM, measuring the same 60 models twice gave Spearman 0.87 between the
    passes when each model was measured on its own, and 0.99 with interleaved runs.

    Args:
        modules: ``(module, input_shape)`` pairs; ``input_shape`` excludes the batch dim.
        device, protocol, seed: as :func:`measure_module`.
        progress: tqdm bar over the runs on stderr (None: only on a terminal).
        desc: the bar's label.

    Returns:
        One :class:`Measurement` per module, in order; None where the module raised a
        ``RuntimeError`` (e.g. out of memory), which is logged.

    Raises:
        DeviceUnavailableError: the device is not present here.
        DeviceSettingError: the protocol's clock does not suit the device.
    """
    from tqdm.auto import tqdm

    device, protocol = get_device(device), get_protocol(protocol)
    device.check_available()
    device.check_clock(protocol.clock)
    generator = torch.Generator().manual_seed(seed)
    shapes = [(protocol.batch_size, *(int(d) for d in shape)) for _, shape in modules]
    timings = np.full((len(modules), protocol.num_runs, protocol.num_reps), np.nan)
    fns: list = [None] * len(modules)
    with device.session(), torch.no_grad():
        for i, ((module, _), shape) in enumerate(zip(modules, shapes)):
            try:
                fns[i] = device.prepare(module, device.make_input(shape, generator))
                for _ in range(protocol.warmup_runs):
                    fns[i](device.make_input(shape, generator))
            except RuntimeError as err:
                logger.warning("module %d failed on %s: %s", i, device.name, err)
                fns[i] = None
        device.synchronize()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a collection inside a timed call is noise, not latency
        try:
            for run in tqdm(range(protocol.num_runs), desc=desc, unit="run", disable=tqdm_disable(progress)):
                for i, fn in enumerate(fns):
                    if fn is None:
                        continue
                    x = device.make_input(shapes[i], generator)
                    try:
                        timings[i, run] = device.time_run(fn, x, protocol.num_reps, clock=protocol.clock)
                    except RuntimeError as err:
                        logger.warning("module %d failed on %s: %s", i, device.name, err)
                        fns[i] = None
                if protocol.pause_s:
                    time.sleep(protocol.pause_s)
        finally:
            if gc_was_enabled:
                gc.enable()
    return [
        Measurement(trimmed_mean_of_means(t), relative_spread(t), t) if fn is not None else None
        for fn, t in zip(fns, timings)
    ]


def measure_latency(
    arch: ArchLike,
    *,
    device: str | Device = "cpu",
    protocol: str | Protocol = "quick",
    width: int = 32,
    resolution: int = 32,
    num_classes: int = 100,
    seed: int = 0,
) -> Measurement:
    """End-to-end latency of one model (built with :func:`blox_train.build_model`).

    Args:
        arch: any architecture form (index, block ids, arch vector, hash, name).
        device: device kind or :class:`Device`.
        protocol: protocol name or :class:`Protocol`.
        width, resolution, num_classes: the network geometry (paper: 32, 32, 100).
        seed: seed of the weights and the random inputs.

    Example:
        >>> m = measure_latency(0, protocol=get_protocol("quick", num_runs=2, num_reps=2), width=4, resolution=8)
        >>> m.latency_s > 0
        True
    """
    setup = Setup(get_device(device), get_protocol(protocol), width, resolution, num_classes)
    model = build_seeded(arch, width=width, resolution=resolution, num_classes=num_classes, seed=seed)
    return measure_module(
        model, (3, resolution, resolution), device=setup.device, protocol=setup.protocol, seed=seed
    )


def measure_models(
    models: Sequence[ArchLike] | np.ndarray,
    *,
    device: str | Device = "cpu",
    protocol: str | Protocol = "quick",
    width: int = 32,
    resolution: int = 32,
    num_classes: int = 100,
    seed: int = 0,
    progress: bool | None = False,
    chunk_size: int = 64,
) -> ModelLatencies:
    """End-to-end latency of each model in a list.

    Models are measured in chunks of ``chunk_size`` whose runs are interleaved
    (:func:`measure_modules`), so machine-speed drift does not reorder them. A model whose
    measurement raises a ``RuntimeError`` (e.g. out of GPU memory) is marked failed with NaN
    latency and logged; the others go on.

    Args:
        models: architectures in any form; stored by model index.
        progress: show a tqdm bar on stderr (None: only on a terminal).
        chunk_size: models built and interleaved together.
        other args: as :func:`measure_latency`.

    Raises:
        DeviceUnavailableError: the device is not present here.
    """
    from tqdm.auto import tqdm

    setup = Setup(get_device(device), get_protocol(protocol), width, resolution, num_classes)
    setup.device.check_available()
    indices = np.array([bs.to_index(m) for m in models], dtype=np.int64)
    latency = np.full(indices.shape, np.nan)
    spread = np.full(indices.shape, np.nan)
    status = np.full(indices.shape, STATUS_FAILED, dtype=np.int8)
    # Interleave the models of each chunk (see measure_modules); chunks bound the memory.
    bar = tqdm(
        total=len(indices), desc=f"latency {setup.device.name}", unit="model", disable=tqdm_disable(progress)
    )
    for start in range(0, len(indices), chunk_size):
        chunk = indices[start : start + chunk_size]
        built: list[tuple[int, nn.Module]] = []  # (position in indices, model)
        for offset, index in enumerate(chunk):
            try:
                model = build_seeded(
                    int(index), width=width, resolution=resolution, num_classes=num_classes, seed=seed
                )
            except RuntimeError as err:
                logger.warning("model %d failed on %s: %s", index, setup.device.name, err)
                continue
            built.append((start + offset, model))
        shape = (3, resolution, resolution)
        results = measure_modules(
            [(model, shape) for _, model in built], device=setup.device, protocol=setup.protocol, seed=seed
        )
        for (i, _), m in zip(built, results):
            if m is None:
                logger.warning("model %d failed on %s", indices[i], setup.device.name)
                continue
            latency[i], spread[i], status[i] = m.latency_s, m.spread, STATUS_DONE
        bar.update(len(chunk))
    bar.close()
    return ModelLatencies(indices, latency, spread, status, setup.attrs())


#: Seconds of bookkeeping per measured module besides its calls (build, prepare, inputs).
_OVERHEAD_S = 0.05


def calibrate_call_s(setup: Setup, *, seed: int = 0) -> float:
    """Rough seconds per forward pass of a full model (model 0) on the setup's device.

    Used only to estimate how long a measurement will take.
    """
    quick = Protocol(
        "calibrate", batch_size=setup.protocol.batch_size, warmup_runs=2, num_runs=1, num_reps=5, pause_s=0
    )
    model = build_seeded(
        0, width=setup.width, resolution=setup.resolution, num_classes=setup.num_classes, seed=seed
    )
    res = setup.resolution
    return measure_module(model, (3, res, res), device=setup.device, protocol=quick, seed=seed).latency_s


def estimate_seconds(setup: Setup, *, model_equivalents: float, num_modules: int, call_s: float) -> float:
    """Estimated wall-clock seconds for ``num_modules`` measurements whose calls together cost
    as much as ``model_equivalents`` full models of ``call_s`` seconds each."""
    p = setup.protocol
    return model_equivalents * p.num_calls * call_s + num_modules * (p.num_runs * p.pause_s + _OVERHEAD_S)


def format_seconds(seconds: float) -> str:
    """``"1h02m"``, ``"3m05s"`` or ``"12s"``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
