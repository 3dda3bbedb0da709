"""The benchmark query API: :func:`open_benchmark` and its :class:`Benchmark` object, the
latency joins (measured per-model stores and lookup tables), the DataFrame / xarray views, the
analysis helpers reports share (Pareto front, per-model table), the blockwise query object
(:func:`open_blockwise`) and teacher / student selection (:func:`select_model`, :func:`select_models`)."""

from __future__ import annotations

from .analysis import latency_by_device, model_table, pareto_front
from .benchmark import METRICS, Benchmark, open_benchmark
from .blockwise import BlockwiseResults, open_blockwise
from .latency import LATENCY_KINDS, MeasuredLatency, TableLatency, additive_latency, open_latency
from .select import PAPER_TEACHERS, parse_selector, ranked_models, select_model, select_models

__all__ = [
    "Benchmark",
    "BlockwiseResults",
    "PAPER_TEACHERS",
    "LATENCY_KINDS",
    "METRICS",
    "MeasuredLatency",
    "TableLatency",
    "additive_latency",
    "latency_by_device",
    "model_table",
    "pareto_front",
    "open_benchmark",
    "open_blockwise",
    "open_latency",
    "parse_selector",
    "ranked_models",
    "select_model",
    "select_models",
]
