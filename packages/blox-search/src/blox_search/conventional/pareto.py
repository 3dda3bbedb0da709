"""Pareto-aware regularized evolution: aging evolution whose tournament compares models by
non-dominated rank, then crowding distance, over (search metric, latency) -- a multi-objective
search of accuracy x latency (issue 14, item 8)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..algorithm import register_algorithm
from ..evaluators.base import Evaluation
from ..pareto import crowding_distance, pareto_ranks
from .evolution import RegularizedEvolution

__all__ = ["ParetoEvolution"]


@register_algorithm("pareto_re")
class ParetoEvolution(RegularizedEvolution):
    """Regularized (aging) evolution over two objectives: search metric (maximised) and the
    evaluator's ``latency_s`` (minimised).

    The population, its aging and the mutations are those of ``re`` (related-work §E.1): it
    starts as ``population_size`` distinct uniform candidates; each cycle draws
    ``sample_size`` members uniformly with replacement, evaluates one mutation of the winner,
    appends the child and removes the **oldest** member.

    **Tournament rule** (NSGA-II's crowded comparison, Deb et al. 2002, applied to the aging
    population): the members are ranked by non-dominated sorting *of the whole current
    population* (rank 0 = its Pareto front of (search metric, latency)), and each member gets
    the crowding distance within its rank; the winner of a tournament is the drawn member of
    lowest rank, then largest crowding distance (the extremes of a front count as infinitely
    far), then the earliest drawn. Ranking the whole population rather than the drawn sample
    keeps a member's merit independent of which others happen to be drawn; the crowding term
    spreads the parents along the front instead of piling them at its accurate end. A model
    whose search metric or latency is NaN ranks last.

    **Repeats**: up to ``mutation_tries`` mutations of the winner are tried to find a model not
    evaluated yet; then the last (known) child is re-inserted as a free repeat, which keeps a
    front member alive in the aging population (``re`` evaluates a random unevaluated candidate
    instead); the search returns once every candidate was evaluated.

    **Cost mode.** Every evaluation is at ``fidelity`` (full training by default) and a model
    is never trained twice, so the cost mode does not matter; the default ``continue`` is used.
    Latency is known in advance (a latency store or a device's lookup table): it costs nothing.

    The algorithm sees only what it paid for: the search metric (validation accuracy) and the
    latency of the models it evaluated. :func:`blox_search.pareto_summary` scores the front of
    their *reported* metric and latency against the true front.

    Args:
        population_size: P (default 30: NASLib's discrete-optimizer setting P = 30, S = 10,
            related-work §E.1). Larger than ``re``'s 10 because the population has to hold a
            front, not one incumbent: on the generated accuracy x latency landscapes of the
            tests, P = 10, S = 3 found fronts no better than random search's, P = 30, S = 10
            clearly better ones from about 150 evaluations on.
        sample_size: S, the tournament size (default 10, same source).
        fidelity: the epoch every model is evaluated at (None: the evaluator's full training).
        mutation_tries: mutations tried to find an unevaluated child (default 10, as ``re``;
            our choice).
    """

    needs_latency = True
    # a good front member the mutations cannot leave is kept alive rather than replaced by a random model
    reinsert_repeats = True

    def __init__(  # the same parameters as re, other defaults
        self,
        *,
        population_size: int = 30,
        sample_size: int = 10,
        fidelity: int | None = None,
        mutation_tries: int = 10,
    ) -> None:
        super().__init__(
            population_size=population_size,
            sample_size=sample_size,
            fidelity=fidelity,
            mutation_tries=mutation_tries,
        )

    def _member(self, ev: Evaluation) -> tuple:
        """``(model, search metric, latency)``; NaN objectives become the worst values."""
        acc = -math.inf if math.isnan(ev.search_metric) else ev.search_metric
        lat = math.inf if math.isnan(ev.latency_s) else ev.latency_s
        return (ev.model, acc, lat)

    def _winner(self, population: deque[tuple], picks: np.ndarray) -> int:
        """The drawn member of lowest rank, then largest crowding distance, then drawn first."""
        rank, crowd = _merit(population)
        best = int(picks[0])
        for i in picks[1:]:
            i = int(i)
            if rank[i] < rank[best] or (rank[i] == rank[best] and crowd[i] > crowd[best]):
                best = i
        return population[best][0]


def _merit(population: deque[tuple[int, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Non-dominated rank and within-rank crowding distance of every member."""
    acc = np.array([m[1] for m in population], dtype=np.float64)
    lat = np.array([m[2] for m in population], dtype=np.float64)
    # infinite stand-ins for NaN must not make every finite gap vanish in the crowding distance
    finite = np.isfinite(acc) & np.isfinite(lat)
    rank = pareto_ranks(np.where(finite, acc, np.nan), np.where(finite, lat, np.nan))
    crowd = np.zeros(len(acc), dtype=np.float64)
    for r in np.unique(rank):
        members = np.flatnonzero(rank == r)
        crowd[members] = crowding_distance(acc[members], lat[members]) if finite[members].all() else 0.0
    return rank, crowd
