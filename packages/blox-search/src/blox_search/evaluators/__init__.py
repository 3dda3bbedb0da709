"""Evaluators: the protocol, the tabular one over stores, the blockwise one over teachers' finetune
stores, and the live one that trains."""

from __future__ import annotations

from typing import Any

from .base import MODES, Evaluation, Evaluator, PaidEvaluator
from .blockwise import NORMAL, BlockwiseEvaluator, BlockwiseView
from .tabular import SEED_POLICIES, TabularEvaluator

__all__ = [
    "Evaluation",
    "Evaluator",
    "PaidEvaluator",
    "MODES",
    "TabularEvaluator",
    "SEED_POLICIES",
    "BlockwiseEvaluator",
    "BlockwiseView",
    "NORMAL",
    "LiveEvaluator",
]


def __getattr__(name: str) -> Any:
    # LiveEvaluator is looked up on first use, so importing the evaluators never imports
    # its module (nor, through it, blox-train or torch)
    if name == "LiveEvaluator":
        from .live import LiveEvaluator

        return LiveEvaluator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
