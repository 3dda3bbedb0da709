"""Evaluators: the protocol, the tabular one over stores and the live one that trains."""

from __future__ import annotations

from .base import MODES, Evaluation, Evaluator, PaidEvaluator
from .tabular import SEED_POLICIES, TabularEvaluator

__all__ = ["Evaluation", "Evaluator", "PaidEvaluator", "MODES", "TabularEvaluator", "SEED_POLICIES"]
