"""Random search: uniform samples of the candidates, each trained fully."""

from __future__ import annotations

import numpy as np

from ..algorithm import Algorithm, register_algorithm
from ..problem import Problem

__all__ = ["RandomSearch"]


@register_algorithm("random")
class RandomSearch(Algorithm):
    """Random search (the baseline of every NAS benchmark, related-work §E).

    Draws candidates uniformly **without replacement** (a shuffled order of all candidates),
    evaluates each at the full fidelity, until the budget is spent or every candidate was
    evaluated. Without replacement, the incumbent after ``n`` evaluations is the best of ``n``
    distinct uniform draws, whose expectation is the exact order statistic the tests check.

    Args:
        fidelity: epoch to evaluate at (None: the evaluator's last; a low fidelity gives
            "random search with early stopping").
    """

    def __init__(self, *, fidelity: int | None = None) -> None:
        self.fidelity = fidelity

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        order = rng.permutation(problem.candidates)
        for model in order:
            problem.evaluate(int(model), fidelity=self.fidelity)
