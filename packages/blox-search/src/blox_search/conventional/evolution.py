"""Regularized (aging) evolution: tournament selection from a FIFO population, one mutation per
child, the oldest member dies (Real et al. 2019; related-work §E.1)."""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

import numpy as np
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_int, register_algorithm
from ..evaluators.base import Evaluation
from ..problem import Problem
from ..space import CandidateSpace

__all__ = ["RegularizedEvolution"]


@register_algorithm("re")
class RegularizedEvolution(Algorithm):
    """Regularized (aging) evolution (related-work §E.1).

    The population starts as ``population_size`` distinct uniformly drawn candidates, each
    evaluated. Every cycle draws ``sample_size`` members uniformly **with replacement**, takes
    the best of them (highest search metric; the earliest drawn on ties) as the parent,
    evaluates one mutation of it (:meth:`~blox_search.CandidateSpace.mutate`: one stage's
    block changed; on a partial store the closest other candidate), appends the child and
    removes the **oldest** member, whatever its accuracy.

    **Repeats.** A mutation may give a model this search evaluated already; its evaluation
    would be a free repeat that teaches nothing. The algorithm mutates the parent again, up
    to ``mutation_tries`` times in all, and evaluates the first child not seen before. When
    every try gives a known model (the population's neighbourhood is used up -- on a partial
    store the closest candidates of a few models can form a closed cluster), the child is a
    uniformly drawn candidate not evaluated yet instead (a random immigrant), so the search
    never stalls on free repeats; it returns once every candidate has been evaluated.

    **Cost mode.** Every evaluation is at ``fidelity`` (full training by default) and a model
    is never trained twice, so the cost mode does not matter; the default ``continue`` is used.

    Per step the work is O(``sample_size`` + ``mutation_tries``): a set lookup per try and a
    one-stage mutation that is O(1) on a full space (no scan over the 91,125 models), so
    1,000 evaluations on the full space take about 0.03 s in all, evaluator included.

    Args:
        population_size: P, the FIFO population's size. Default 10: AutoDL's
            NAS-Bench-201 / NATS-Bench setting (P = 10, S = 3), the benchmark setting closest
            to Blox's budgets (Table 2: ~40 FTE, i.e. about 40-100 full evaluations; a larger
            population would spend most of such a budget on its random start). Other settings:
            NASLib P = 30, S = 10; the NAS-Bench-101 baseline P = 100, S = 10; Real et al.
            P = 100, S = 25 (all related-work §E.1).
        sample_size: S, the tournament size (default 3, AutoDL NB201/NATS as above).
        fidelity: the epoch every model is evaluated at (None: the evaluator's full training).
        mutation_tries: mutations of a parent tried to find an unevaluated child before a
            repeat is accepted (default 10: a Blox model has 132 one-stage mutations, so ten
            tries find a new one unless the neighbourhood is nearly exhausted; our choice).
    """

    def __init__(
        self,
        *,
        population_size: int = 10,
        sample_size: int = 3,
        fidelity: int | None = None,
        mutation_tries: int = 10,
    ) -> None:
        self.population_size = population_size
        self.sample_size = sample_size
        self.fidelity = fidelity
        self.mutation_tries = mutation_tries

    def check_params(self) -> None:
        """Check the hyperparameters.

        Raises:
            ConfigError: population_size, sample_size or mutation_tries below 1, sample_size
                above population_size, or fidelity not None or an int >= 1.
        """
        check_int("population_size", self.population_size)
        check_int("sample_size", self.sample_size)
        check_int("mutation_tries", self.mutation_tries)
        if self.sample_size > self.population_size:
            raise ConfigError(
                f"sample_size must be <= population_size ({self.population_size}), got {self.sample_size}"
            )
        if self.fidelity is not None:
            check_int("fidelity", self.fidelity)

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        space = problem.space
        num_candidates = len(space)
        seen: set[int] = set()
        population: deque[tuple] = deque()
        size = min(int(self.population_size), num_candidates)

        def add(model: int) -> None:
            ev = problem.evaluate(model, fidelity=self.fidelity)
            seen.add(ev.model)
            population.append(self._member(ev))

        for model in space.sample(rng, size=size, replace=False):
            add(int(model))
        sample_size, tries = int(self.sample_size), int(self.mutation_tries)
        while len(seen) < num_candidates:
            picks = rng.integers(len(population), size=sample_size)
            parent = self._winner(population, picks)
            for _ in range(tries):
                child = space.mutate(parent, rng)
                if child not in seen:
                    break
            else:
                if not self.reinsert_repeats:
                    child = _unseen(space, seen, rng, tries)
            add(child)
            if len(population) > size:
                population.popleft()

    # ------------------------------------------------------------- the tournament's hooks
    #: When every mutation tried is a known model: False (``re``) evaluates a random unevaluated
    #: candidate instead; True re-inserts the last (known) child -- a free repeat that keeps it
    #: alive in the aging population.
    reinsert_repeats: ClassVar[bool] = False

    def _member(self, ev: Evaluation) -> tuple:
        """What the population keeps of an evaluation: ``(model, fitness)``."""
        return (ev.model, _fitness(ev.search_metric))

    def _winner(self, population: deque[tuple], picks: np.ndarray) -> int:
        """The parent: the drawn member of best search metric (the earliest drawn on ties)."""
        parent, best = population[picks[0]]
        for i in picks[1:]:
            model, fitness = population[i]
            if fitness > best:
                parent, best = model, fitness
        return parent


def _unseen(space: CandidateSpace, seen: set[int], rng: np.random.Generator, tries: int) -> int:
    """A uniformly drawn candidate not in ``seen`` (at least one exists)."""
    for _ in range(tries):
        model = space.sample(rng)
        if model not in seen:
            return model
    left = np.setdiff1d(space.candidates, np.fromiter(seen, dtype=np.int64, count=len(seen)))
    return int(left[rng.integers(len(left))])


def _fitness(value: float) -> float:
    """The search metric as a tournament key (NaN: never selected over a number)."""
    return -math.inf if math.isnan(value) else value
