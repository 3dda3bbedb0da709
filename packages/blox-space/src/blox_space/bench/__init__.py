"""The benchmark query API: :func:`open_benchmark` and its :class:`Benchmark` object, the
latency joins (measured per-model stores and lookup tables), the DataFrame / xarray views and
the analysis helpers reports share (Pareto front, per-model table)."""

from __future__ import annotations

from .analysis import latency_by_device, model_table, pareto_front
from .benchmark import METRICS, Benchmark, open_benchmark
from .latency import LATENCY_KINDS, MeasuredLatency, TableLatency, additive_latency, open_latency

__all__ = [
    "Benchmark",
    "LATENCY_KINDS",
    "METRICS",
    "MeasuredLatency",
    "TableLatency",
    "additive_latency",
    "latency_by_device",
    "model_table",
    "pareto_front",
    "open_benchmark",
    "open_latency",
]
