"""The latency measurement protocol and its statistics (related work §A.10, Eagle/LatBench).

One measurement of a module is:

1. ``eval()`` mode, ``torch.no_grad()``, CPU threads pinned (see :mod:`blox_hw.devices`);
2. ``warmup_runs`` untimed calls;
3. ``num_runs`` runs, each with a fresh random input of ``batch_size`` images, of
   ``num_reps`` timed repetitions; a pause of ``pause_s`` seconds between runs;
4. the statistic: the *interquartile mean* (mean after dropping the lowest and the highest
   quarter) of each run's repetitions, then the interquartile mean of those run means, in
   seconds per forward pass of one batch;
5. the spread: interquartile range / median of the run means (dimensionless).

The clock is wall time by default (``time.perf_counter_ns`` on CPUs, CUDA events on GPUs).
``clock="thread"`` times the CPU time of the calling thread instead (``time.thread_time_ns``):
on a shared machine it leaves out the time the measuring thread waits for a core, so
single-threaded CPU numbers stay stable while other jobs run. It is only defined for CPU kinds
with one thread (other threads' work would be invisible); devices refuse it otherwise.

The protocol is a frozen, versioned object; its :meth:`Protocol.to_dict` is written into every
latency store. Bump :data:`PROTOCOL_VERSION` whenever a change alters measured numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from blox_space import Registry
from numpy.typing import ArrayLike

from .errors import ProtocolError, UnknownProtocolError

__all__ = [
    "PROTOCOL_VERSION",
    "STATISTIC",
    "CLOCKS",
    "Protocol",
    "register_protocol",
    "get_protocol",
    "list_protocols",
    "interquartile_mean",
    "trimmed_mean_of_means",
    "relative_spread",
]

#: Version of the measurement procedure and statistic (not of one protocol's numbers).
PROTOCOL_VERSION = 2  # 2: runs interleaved across the modules of a table or model chunk
#: Clocks a protocol may time with (see the module docstring).
CLOCKS: tuple[str, ...] = ("wall", "thread")
#: Name of the statistic recorded with every protocol.
STATISTIC = "interquartile mean of per-run interquartile means"


#: Largest run / repetition / batch count and pause a protocol takes (they catch typos).
MAX_COUNT, MAX_PAUSE_S = 1_000_000, 3600.0


@dataclass(frozen=True)
class Protocol:
    """How one latency is measured.

    Args:
        name: registry name the settings came from (``quick``, ``full``).
        batch_size: images per forward pass (1 by default, as in LatBench).
        warmup_runs: untimed forward passes before timing.
        num_runs: runs N, each with a fresh random input.
        num_reps: timed repetitions M per run.
        pause_s: sleep between runs, in seconds.
        clock: ``wall`` (default) or ``thread`` (CPU time of the measuring thread; one-thread
            CPU devices only).
        version: :data:`PROTOCOL_VERSION` the numbers were taken with.

    Raises:
        ProtocolError: a count below 1, a negative pause or an unknown clock.
    """

    name: str
    batch_size: int = 1
    warmup_runs: int = 10
    num_runs: int = 20
    num_reps: int = 5
    pause_s: float = 0.002
    clock: str = "wall"
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        for field in ("batch_size", "warmup_runs", "num_runs", "num_reps"):
            value = getattr(self, field)
            minimum = 0 if field == "warmup_runs" else 1
            if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_COUNT:
                shown = repr(value) if len(repr(value)) <= 30 else f"{repr(value)[:30]}..."
                raise ProtocolError(
                    f"protocol {field} must be an integer in {minimum}..{MAX_COUNT}, got {shown}"
                )
        if not 0 <= float(self.pause_s) <= MAX_PAUSE_S:
            raise ProtocolError(
                f"protocol pause_s must be in 0..{MAX_PAUSE_S:g} seconds, got {self.pause_s!r}"
            )
        if self.clock not in CLOCKS:
            raise ProtocolError(f"protocol clock must be one of {', '.join(CLOCKS)}, got {self.clock!r}")

    @property
    def num_calls(self) -> int:
        """Forward passes per measurement, warm-up included."""
        return self.warmup_runs + self.num_runs * self.num_reps

    def replace(self, **changes: Any) -> Protocol:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written into stores (with the statistic and the unit)."""
        return {**dataclasses.asdict(self), "statistic": STATISTIC, "units": "s", "mode": "eval, no_grad"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protocol:
        """Rebuild a protocol from :meth:`to_dict` output (extra descriptive keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


_PROTOCOLS: Registry[Protocol] = Registry("protocol", UnknownProtocolError)


def register_protocol(name: str) -> Callable[[Callable[[], Protocol]], Callable[[], Protocol]]:
    """Register a protocol factory under ``name`` (a duplicate name raises ``ValueError``)."""
    return _PROTOCOLS.register(name)


def get_protocol(name: str | Protocol, **overrides: Any) -> Protocol:
    """The registered protocol ``name`` with optional setting overrides.

    Example:
        >>> get_protocol("quick", batch_size=8).batch_size
        8

    Raises:
        UnknownProtocolError: ``name`` is not registered (the message lists the known ones).
        ProtocolError: an override is out of range.
    """
    protocol = name if isinstance(name, Protocol) else _PROTOCOLS.get(name)()
    changes = {k: v for k, v in overrides.items() if v is not None}
    return protocol.replace(**changes) if changes else protocol


def list_protocols(pattern: str = "*") -> list[str]:
    """Registered protocol names matching a shell pattern."""
    return _PROTOCOLS.list(pattern)


@register_protocol("quick")
def _quick() -> Protocol:
    # ~110 calls per module: the 137-module block table in about a minute and a half on 2 cores.
    return Protocol("quick", warmup_runs=10, num_runs=20, num_reps=5, pause_s=0.002)


@register_protocol("full")
def _full() -> Protocol:
    # LatBench's desktop protocol: 100 runs x 10 repetitions, 10 ms between runs.
    return Protocol("full", warmup_runs=50, num_runs=100, num_reps=10, pause_s=0.010)


def interquartile_mean(values: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Mean after dropping the lowest and the highest quarter (``n // 4`` values each side).

    At least one value always remains, so the result is defined for any ``n >= 1``.

    Example:
        >>> float(interquartile_mean([1.0, 2.0, 3.0, 100.0]))
        2.5

    Shapes:
        values: (..., n) -> (...) (the reduced axis is ``axis``)
    """
    arr = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    n = arr.shape[axis]
    if n == 0:
        raise ValueError("interquartile_mean needs at least one value")
    k = n // 4
    kept = np.take(arr, np.arange(k, n - k), axis=axis)
    return kept.mean(axis=axis)


def trimmed_mean_of_means(timings: ArrayLike) -> float:
    """The protocol's statistic: interquartile mean over runs of each run's interquartile mean.

    Shapes:
        timings: (num_runs, num_reps) seconds -> scalar seconds
    """
    arr = _runs_by_reps(timings)
    return float(interquartile_mean(interquartile_mean(arr, axis=1)))


def relative_spread(timings: ArrayLike) -> float:
    """Interquartile range / median of the per-run interquartile means (0 for a constant).

    Shapes:
        timings: (num_runs, num_reps) seconds -> scalar (dimensionless)
    """
    means = interquartile_mean(_runs_by_reps(timings), axis=1)
    q25, q50, q75 = np.percentile(means, [25, 50, 75])
    return float((q75 - q25) / q50) if q50 > 0 else float("nan")


def _runs_by_reps(timings: ArrayLike) -> np.ndarray:
    arr = np.asarray(timings, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"timings must be a non-empty (num_runs, num_reps) array, got shape {arr.shape}")
    return arr
