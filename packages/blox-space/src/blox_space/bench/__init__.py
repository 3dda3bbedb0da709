"""The benchmark query API: :func:`open_benchmark` and its :class:`Benchmark` object, the
latency joins (measured per-model stores and lookup tables) and the DataFrame / xarray views."""

from __future__ import annotations

from .benchmark import METRICS, Benchmark, open_benchmark
from .latency import LATENCY_KINDS, MeasuredLatency, TableLatency, additive_latency, open_latency

__all__ = [
    "Benchmark",
    "LATENCY_KINDS",
    "METRICS",
    "MeasuredLatency",
    "TableLatency",
    "additive_latency",
    "open_benchmark",
    "open_latency",
]
