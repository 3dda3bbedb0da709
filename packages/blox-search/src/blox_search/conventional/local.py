"""Local search: hill climbing over one-stage mutations with random restarts (the NASLib
``LS`` optimizer's scheme, related-work §F.4; White et al. 2020, "Local search is state of
the art for NAS benchmarks")."""

from __future__ import annotations

import math

import numpy as np
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_int, register_algorithm
from ..problem import Problem
from ..space import CandidateSpace

__all__ = ["LocalSearch"]


@register_algorithm("local")
class LocalSearch(Algorithm):
    """Local search with random restarts (related-work §F.4: NASLib's ``LS``).

    Starts at a uniformly drawn candidate, then evaluates the current model's neighbours
    (:meth:`~blox_search.CandidateSpace.neighbours`: every candidate that differs in one
    stage's block -- 132 on the full space) in a random order and moves:

    * ``first_improvement=True`` (default): to the first neighbour whose search metric beats
      the current model's;
    * ``first_improvement=False``: to the best neighbour once the whole neighbourhood is
      evaluated, if it beats the current model (NASLib's best-improvement scheme).

    With no improving neighbour the current model is a local optimum and the search restarts
    from a uniformly drawn candidate not evaluated yet; it returns when none is left.
    Neighbours evaluated earlier are not evaluated again (their metric is known): a
    neighbourhood costs only its new models. On a partial store, a model with no one-stage
    neighbour among the candidates takes the closest candidates (two or three stages changed)
    as its neighbourhood, as :meth:`~blox_search.CandidateSpace.mutate` does.

    First improvement is the default because Blox's budgets (Table 2: ~40 FTE, i.e. about
    40-100 full evaluations) are smaller than one neighbourhood: best improvement would spend
    the whole budget around the random start without moving once.

    **Cost mode.** Every evaluation is at ``fidelity`` (full training by default) and a model
    is never trained twice, so the cost mode does not matter; the default ``continue`` is used.

    Args:
        first_improvement: move to the first improving neighbour (True) or to the best one
            after the whole neighbourhood (False).
        fidelity: the epoch every model is evaluated at (None: the evaluator's full training).
    """

    def __init__(self, *, first_improvement: bool = True, fidelity: int | None = None) -> None:
        self.first_improvement = first_improvement
        self.fidelity = fidelity

    def check_params(self) -> None:
        """Check the hyperparameters.

        Raises:
            ConfigError: first_improvement not a bool, or a fidelity that is neither None nor
                an int >= 1.
        """
        if not isinstance(self.first_improvement, (bool, np.bool_)):
            raise ConfigError(f"first_improvement must be true or false, got {self.first_improvement!r}")
        if self.fidelity is not None:
            check_int("fidelity", self.fidelity)

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        space = problem.space
        known: dict[int, float] = {}
        order = rng.permutation(space.candidates)
        at = 0
        first = bool(self.first_improvement)
        cache: dict[str, np.ndarray] = {}

        def value(model: int) -> float:
            if model not in known:
                ev = problem.evaluate(model, fidelity=self.fidelity)
                known[model] = -math.inf if math.isnan(ev.search_metric) else ev.search_metric
            return known[model]

        while True:
            while at < len(order) and int(order[at]) in known:
                at += 1
            if at >= len(order):
                return
            current = int(order[at])
            current_value = value(current)
            while True:
                best, best_value = current, current_value
                for model in rng.permutation(_neighbourhood(space, current, cache)):
                    v = value(int(model))
                    if v > best_value:
                        best, best_value = int(model), v
                        if first:
                            break
                if best == current:
                    break  # a local optimum: restart
                current, current_value = best, best_value


def _neighbourhood(space: CandidateSpace, model: int, cache: dict[str, np.ndarray]) -> np.ndarray:
    """The one-stage neighbours among the candidates, else the closest other candidates."""
    near = space.neighbours(model)
    if len(near):
        return near
    if "blocks" not in cache:  # partial stores only: O(candidates) once per search
        cache["blocks"] = space.blocks(space.candidates)
    others = space.candidates != model
    if not others.any():
        return near
    distance = (cache["blocks"][others] != space.blocks(model)).sum(axis=1)
    return space.candidates[others][distance == distance.min()]
