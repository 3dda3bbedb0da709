"""The per-block latency lookup table, its additive predictor and its validation.

Each (stage, block) entry is the stage's module -- the block's cell followed by the stage's
reduction -- measured alone at the stage's input shape and width; the *fixed parts* are the
stem and the head (global pool + linear), measured alone too, and the *glue* (what the whole
reference model costs beyond its parts). The additive predictor is::

    latency(model) ~= fixed + sum_s block_latency_s[s, block_ids[s]],  fixed = stem + head + glue

and :func:`validate_lut` compares it with end-to-end measurements (Spearman rho, Kendall tau,
mean absolute percentage error).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import blox_space as bs
import numpy as np
from blox_space import NUM_BLOCKS, NUM_STAGES, ArchLike, StoreError
from blox_space.schema import STATUS_DONE, STATUS_FAILED
from blox_train import stage_shapes
from torch import nn

from ._models import build_seeded
from .devices import Device, get_device
from .measure import ModelLatencies, Setup, StoreAttrs, measure_models, measure_modules
from .protocol import Protocol, get_protocol

__all__ = [
    "FIXED_PARTS", "NOISY_SPREAD", "LatencyTable", "Validation", "lut_parts", "build_lut", "compare", "validate_lut",
    "noise_warning",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: The parts of every model outside the three stages, in store order. ``glue`` is what a
#: whole model costs beyond its parts measured alone (module dispatch between them, caches
#: shared by all stages): the reference model (0, 0, 0), measured interleaved with the
#: parts, minus its stem, head and three stages. It may be negative (e.g. per-part
#: synchronisation on a GPU).
FIXED_PARTS: tuple[str, ...] = ("stem", "head", "glue")
_REFERENCE = (0, 0, 0)


@dataclass(frozen=True)
class LatencyTable(StoreAttrs):
    """A per-block latency lookup table of one device.

    Attributes:
        block_latency_s: (3, 45) seconds of stage s with block b (cell + reduction).
        fixed_latency_s: (3,) seconds of the stem, the head and the glue, in :data:`FIXED_PARTS` order.
        block_spread, fixed_spread: IQR / median of the run means, same shapes.
        block_status, fixed_status: schema status flags, same shapes.
        attrs: the store's group attributes (``device``, ``protocol``, ``environment``, ...).
    """

    block_latency_s: np.ndarray
    fixed_latency_s: np.ndarray
    block_spread: np.ndarray
    fixed_spread: np.ndarray
    block_status: np.ndarray
    fixed_status: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def fixed_s(self) -> float:
        """Seconds of the fixed parts together (stem + head + glue)."""
        return float(self.fixed_latency_s.sum())

    def predict(self, models: Sequence[ArchLike] | np.ndarray) -> np.ndarray:
        """Additive latency prediction ``fixed + sum_s block_latency_s[s, block_ids[s]]``
        (:func:`blox_space.additive_latency`, the one definition the query API shares).

        Args:
            models: architectures in any form (an int array is read as model indices).

        Returns:
            Seconds per forward pass, aligned with ``models``.

        Shapes:
            models: (n,) -> (n,)
        """
        arr = np.asarray(models) if isinstance(models, np.ndarray) else None
        if arr is not None and arr.dtype.kind in "iu" and arr.ndim == 1:
            block_ids = bs.indices_to_blocks(arr)
        else:
            block_ids = np.array([bs.to_blocks(m) for m in models], dtype=np.int64).reshape(-1, NUM_STAGES)
        return bs.additive_latency(self.block_latency_s, self.fixed_latency_s, block_ids)


#: Median entry spread (IQR / median of run means) above which a table is called noisy. Idle
#: one-thread CPU tables on the development VM have 0.04-0.05; two threads there gave 0.3-0.5
#: and a predictor biased 20 % low.
NOISY_SPREAD = 0.15


def noise_warning(table: LatencyTable) -> str | None:
    """A message when the table's entries were measured noisily, else None.

    Example:
        >>> t = np.full((3, 45), 1e-3)
        >>> noisy = LatencyTable(t, np.zeros(3), np.full((3, 45), 0.4), np.zeros(3), t, np.zeros(3))
        >>> noise_warning(noisy).startswith("noisy table")
        True
    """
    spread = table.block_spread[np.isfinite(table.block_spread)]
    if not spread.size or float(np.median(spread)) <= NOISY_SPREAD:
        return None
    threads = table.attrs.get("environment", {}).get("threads")
    hint = "; on a small CPU try --threads 1" if threads not in (None, 1) else ""
    return (
        f"noisy table: the median spread of its entries is {float(np.median(spread)):.2f} "
        f"(above {NOISY_SPREAD}), so its predictions may be biased; measure on an idle machine{hint}"
    )


@dataclass(frozen=True)
class _Part:
    key: tuple[int, int] | str  # (stage, block) or a fixed part name
    module: nn.Module
    input_shape: tuple[int, ...]


def lut_parts(
    *, width: int = 32, resolution: int = 32, num_classes: int = 100, seed: int = 0
) -> Iterator[_Part]:
    """The modules of the table, built lazily: the stem, the 135 stages, the head, then the
    whole reference model (key ``"reference"``) from which the glue is derived.

    Stage s of block b is ``build_model((b, b, b)).stages[s]`` (cell + reduction); the head
    is the model's pool, flatten and classifier in a ``nn.Sequential`` (``BloxNet.head`` is a
    method, so it is rebuilt from those public submodules).
    """
    geometry = {"width": width, "resolution": resolution, "num_classes": num_classes, "seed": seed}
    shapes = stage_shapes(width=width, resolution=resolution)
    first = build_seeded(_REFERENCE, **geometry)
    yield _Part("stem", first.stem, (3, resolution, resolution))
    for block in range(NUM_BLOCKS):
        model = first if block == 0 else build_seeded((block,) * NUM_STAGES, **geometry)
        for stage in range(NUM_STAGES):
            yield _Part((stage, block), model.stages[stage], shapes[stage][0])
    yield _Part("head", nn.Sequential(first.pool, first.flatten, first.classifier), shapes[-1][1])
    yield _Part("reference", first, (3, resolution, resolution))


def build_lut(
    *,
    device: str | Device = "cpu",
    protocol: str | Protocol = "quick",
    width: int = 32,
    resolution: int = 32,
    num_classes: int = 100,
    seed: int = 0,
    progress: bool | None = False,
) -> LatencyTable:
    """Measure the per-block lookup table: 135 (stage, block) entries plus the fixed parts
    (stem, head and the measured glue).

    Args:
        device: device kind or :class:`Device`.
        protocol: protocol name or :class:`Protocol`.
        width, resolution, num_classes: network geometry (paper: 32, 32, 100).
        seed: seed of the weights and random inputs.
        progress: tqdm bar on stderr (None: only on a terminal).

    Raises:
        DeviceUnavailableError: the device is not present here.

    Example:
        >>> tiny = get_protocol("quick", warmup_runs=0, num_runs=1, num_reps=1, pause_s=0)
        >>> table = build_lut(protocol=tiny, width=2, resolution=8)
        >>> table.block_latency_s.shape
        (3, 45)
    """

    setup = Setup(get_device(device), get_protocol(protocol), width, resolution, num_classes)
    setup.device.check_available()
    block = np.full((NUM_STAGES, NUM_BLOCKS), np.nan)
    block_spread = np.full_like(block, np.nan)
    block_status = np.full(block.shape, STATUS_FAILED, dtype=np.int8)
    fixed = np.full(len(FIXED_PARTS), np.nan)
    fixed_spread = np.full_like(fixed, np.nan)
    fixed_status = np.full(fixed.shape, STATUS_FAILED, dtype=np.int8)
    # All 138 modules (137 parts and the reference model) are measured interleaved (measure_modules), so drift of the machine's
    # speed during the table scales every entry alike instead of distorting some of them.
    parts = list(lut_parts(width=width, resolution=resolution, num_classes=num_classes, seed=seed))
    results = measure_modules(
        [(part.module, part.input_shape) for part in parts],
        device=setup.device,
        protocol=setup.protocol,
        seed=seed,
        progress=progress,
        desc=f"blocks {setup.device.name}",
    )
    reference = None
    for part, m in zip(parts, results):
        if m is None:
            logger.warning("part %s failed on %s", part.key, setup.device.name)
            continue
        if part.key == "reference":
            reference = m
        elif isinstance(part.key, str):
            i = FIXED_PARTS.index(part.key)
            fixed[i], fixed_spread[i], fixed_status[i] = m.latency_s, m.spread, STATUS_DONE
        else:
            block[part.key], block_spread[part.key], block_status[part.key] = (
                m.latency_s,
                m.spread,
                STATUS_DONE,
            )
    glue = FIXED_PARTS.index("glue")
    parts_of_reference = fixed[:glue].sum() + sum(block[s, b] for s, b in enumerate(_REFERENCE))
    if reference is not None and np.isfinite(parts_of_reference):
        fixed[glue] = reference.latency_s - parts_of_reference
        fixed_spread[glue], fixed_status[glue] = reference.spread, STATUS_DONE
    return LatencyTable(block, fixed, block_spread, fixed_spread, block_status, fixed_status, setup.attrs())


@dataclass(frozen=True)
class Validation:
    """Additive prediction against end-to-end measurement over a set of models.

    Attributes:
        models: model indices, (n,).
        predicted_s, measured_s: seconds, (n,).
        spearman: Spearman rank correlation rho.
        kendall: Kendall tau-b.
        mape: mean absolute percentage error, in percent (100 * mean |pred - meas| / meas).
        n: models with both values (failed measurements are left out).
        device: the device name of the table.
    """

    models: np.ndarray
    predicted_s: np.ndarray
    measured_s: np.ndarray
    spearman: float
    kendall: float
    mape: float
    n: int
    device: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the metrics plus the per-model values)."""
        return {
            "device": self.device,
            "n": self.n,
            "spearman": self.spearman,
            "kendall": self.kendall,
            "mape": self.mape,
            "mape_units": "%",
            "models": self.models.tolist(),
            "predicted_s": self.predicted_s.tolist(),
            "measured_s": [None if np.isnan(v) else float(v) for v in self.measured_s],
        }


def compare(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float, float, int]:
    """``(spearman, kendall, mape_percent, n)`` over the pairs where both are finite.

    Correlations are NaN for fewer than two pairs or a constant input.

    Example:
        >>> compare(np.array([1.0, 2.0, 3.3]), np.array([1.0, 2.0, 3.0]))[2] > 3.3
        True
    """
    from scipy import stats

    predicted, measured = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    ok = np.isfinite(predicted) & np.isfinite(measured)
    p, m = predicted[ok], measured[ok]
    n = int(ok.sum())
    mape = float(100.0 * np.mean(np.abs(p - m) / m)) if n else float("nan")
    if n < 2:
        return float("nan"), float("nan"), mape, n
    with warnings.catch_warnings():  # a constant input gives NaN correlations; say nothing more
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(p, m).statistic), float(stats.kendalltau(p, m).statistic), mape, n


def validate_lut(
    table: LatencyTable,
    models: Sequence[ArchLike] | np.ndarray,
    *,
    measured: ModelLatencies | None = None,
    device: str | Device | None = None,
    protocol: str | Protocol | None = None,
    seed: int = 0,
    progress: bool | None = False,
) -> Validation:
    """Compare the table's additive prediction with end-to-end latency over ``models``.

    Args:
        table: the lookup table.
        models: architectures to compare on (e.g. ``parse_models("sample:200:0")``).
        measured: end-to-end latencies already measured (must cover ``models``); measured
            now when None.
        device: where to measure; by default the table's device kind, precision and name.
        protocol: how to measure; by default the table's protocol.
        seed: seed of weights and inputs.
        progress: tqdm bar on stderr.

    Raises:
        DeviceUnavailableError: the device is not present here.
    """
    indices = np.array([bs.to_index(m) for m in models], dtype=np.int64)
    attrs = table.attrs
    if measured is None:
        if device is None:
            device = get_device(attrs["device_kind"], precision=attrs["precision"], name=attrs["device"])
        device = get_device(device)
        if device.name != table.device:
            logger.warning("measuring on %s to validate a table of %s", device.name, table.device)
        measured = measure_models(
            indices,
            device=device,
            protocol=get_protocol(protocol)
            if protocol is not None
            else Protocol.from_dict(attrs["protocol"]),
            width=int(attrs["width"]),
            resolution=int(attrs["resolution"]),
            num_classes=int(attrs["num_classes"]),
            seed=seed,
            progress=progress,
        )
    lookup = dict(zip(measured.models.tolist(), measured.latency_s.tolist()))
    missing = [int(i) for i in indices if int(i) not in lookup]
    if missing:
        raise StoreError(f"the measured latencies lack {len(missing)} of the models, e.g. {missing[:3]}")
    measured_s = np.array([lookup[int(i)] for i in indices], dtype=np.float64)
    predicted_s = table.predict(indices)
    spearman, kendall, mape, n = compare(predicted_s, measured_s)
    return Validation(indices, predicted_s, measured_s, spearman, kendall, mape, n, table.device)
