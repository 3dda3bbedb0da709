"""Hyperband and its building block, successive halving, with training epochs as the fidelity
(Li et al. 2018; related-work §E.2).

The rungs (the epochs a configuration is trained to before the next cut) come from the
evaluator's offered fidelities: with the full training ``R`` and reduction factor ``eta``,
rung ``i`` of the deepest bracket is ``R * eta**(i - s_max)`` rounded to the nearest offered
fidelity, so a 200-epoch benchmark gives rungs 7, 22, 67, 200 (:func:`rung_fidelities`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_int, register_algorithm
from ..problem import Problem

__all__ = ["Hyperband", "SuccessiveHalving", "rung_fidelities", "bracket_sizes"]

logger = logging.getLogger(__name__)

#: Halvings of the deepest bracket when ``min_fidelity`` is not given: R / eta**3 (for R = 200
#: and eta = 3 the rungs 7, 22, 67, 200 of related-work §E.2).
DEFAULT_HALVINGS = 3


def rung_fidelities(
    fidelities: Sequence[int], *, eta: float = 3, min_fidelity: int | None = None
) -> tuple[int, ...]:
    """The rungs of the deepest bracket: ascending offered fidelities ending at the full one.

    The deepest bracket has ``s_max = floor(log_eta(R / r))`` halvings, with ``R`` the largest
    offered fidelity and ``r`` the smallest rung (``min_fidelity``, default ``R / eta**3``,
    raised to the smallest offered fidelity). Rung ``i`` is ``R * eta**(i - s_max)`` rounded
    to the nearest offered fidelity (the lower one on ties); rungs that round to the same
    fidelity merge, so an evaluator offering one fidelity gives one rung.

    Args:
        fidelities: the offered fidelities (epochs).
        eta: the reduction factor (> 1).
        min_fidelity: the smallest rung (None: ``R / eta**3``).

    Returns:
        The rung fidelities, ascending, the last being ``R``.

    Raises:
        ConfigError: no fidelity offered, ``eta <= 1``, or ``min_fidelity`` above ``R``.

    Example:
        >>> rung_fidelities(range(1, 201))
        (7, 22, 67, 200)
        >>> rung_fidelities([200])
        (200,)
    """
    offered = np.unique(np.asarray(list(fidelities), dtype=np.int64))
    if not len(offered):
        raise ConfigError("no fidelity offered: the evaluator must offer at least its full training")
    _check_eta(eta)
    full = int(offered[-1])
    if min_fidelity is not None and min_fidelity > full:
        raise ConfigError(f"min_fidelity must be <= the full fidelity {full}, got {min_fidelity}")
    low = full / eta**DEFAULT_HALVINGS if min_fidelity is None else float(min_fidelity)
    low = max(low, float(offered[0]))
    s_max = max(int(math.floor(math.log(full / low) / math.log(eta) + 1e-9)), 0)
    rungs: list[int] = []
    for i in range(s_max + 1):
        target = full * float(eta) ** (i - s_max)
        at = int(np.argmin(np.abs(offered - target)))  # the first (lower) on ties
        value = int(offered[at])
        if not rungs or value > rungs[-1]:
            rungs.append(value)
    if rungs[-1] != full:
        rungs.append(full)
    return tuple(rungs)


def bracket_sizes(num_rungs: int, eta: float = 3) -> list[int]:
    """Configurations each Hyperband bracket starts with, deepest first.

    Bracket ``s`` (``s_max = num_rungs - 1`` down to 0) starts
    ``ceil((s_max + 1) / (s + 1) * eta**s)`` configurations at rung ``s_max - s``.

    Example:
        >>> bracket_sizes(4)
        [27, 12, 6, 4]
    """
    s_max = num_rungs - 1
    return [int(math.ceil((s_max + 1) / (s + 1) * float(eta) ** s - 1e-9)) for s in range(s_max, -1, -1)]


class _Halving(Algorithm):
    """What successive halving and Hyperband share: rungs, draws, one bracket."""

    multi_fidelity = True

    eta: float
    min_fidelity: int | None

    def check_params(self) -> None:
        """Check the hyperparameters.

        Raises:
            ConfigError: eta not a number > 1, or a min_fidelity that is neither None nor an
                int >= 1.
        """
        _check_eta(self.eta)
        if self.min_fidelity is not None:
            check_int("min_fidelity", self.min_fidelity)

    def rungs(self, problem: Problem) -> tuple[int, ...]:
        """The rungs of the deepest bracket over ``problem``'s fidelities."""
        return rung_fidelities(problem.fidelities, eta=self.eta, min_fidelity=self.min_fidelity)

    def _bracket(self, problem: Problem, draws: _Draws, rungs: Sequence[int], num_configs: int) -> bool:
        """Successive halving of ``num_configs`` new draws over ``rungs``; False when nothing
        is left to draw."""
        configs = draws.take(num_configs)
        if not configs:
            return False
        eta = float(self.eta)
        for i, fidelity in enumerate(rungs):
            scores = []
            for model in configs:
                ev = problem.evaluate(model, fidelity=fidelity, mode="continue")
                scores.append(-math.inf if math.isnan(ev.search_metric) else ev.search_metric)
                if fidelity == problem.max_fidelity:
                    draws.done.add(model)
            if i + 1 < len(rungs):
                keep = max(int(math.floor(len(configs) / eta + 1e-9)), 1)
                order = sorted(range(len(configs)), key=lambda j: -scores[j])  # stable: earlier first on ties
                configs = [configs[j] for j in order[:keep]]
        return True


@register_algorithm("successive_halving")
class SuccessiveHalving(_Halving):
    """Successive halving (related-work §E.2), repeated until the budget is spent.

    Each round draws ``num_configs`` candidates not drawn before (uniformly; once every
    candidate was drawn, those not yet fully trained are drawn again), trains them to the
    first rung, keeps the best ``1/eta`` by search metric (at least one), trains those to the
    next rung, and so on up to the full training (:func:`rung_fidelities`).

    **Cost mode: continue.** A promoted model continues its training: going from rung ``e1``
    to ``e2`` pays only epochs ``e1+1..e2`` (SPEC §7a), as a real implementation that keeps
    checkpoints would. A model drawn again later is continued the same way (asking for an
    epoch it already passed is a free repeat).

    **One fidelity.** When the evaluator offers only its full training (a surrogate store),
    there is one rung and every round evaluates ``num_configs`` random models fully: random
    search.

    Args:
        eta: the reduction factor (default 3: related-work §E.2, the NAS-Bench-101 and
            NAS-Bench-201 settings).
        min_fidelity: the first rung in epochs (None: ``R / eta**3`` rounded to an offered
            fidelity, giving 7, 22, 67, 200 for R = 200 as in §E.2; at least the smallest
            offered fidelity).
        num_configs: candidates each round starts with (None: ``eta**s_max``, the deepest
            Hyperband bracket's count, e.g. 27 for R = 200, which leaves one model fully
            trained per round).
    """

    def __init__(
        self, *, eta: float = 3, min_fidelity: int | None = None, num_configs: int | None = None
    ) -> None:
        self.eta = eta
        self.min_fidelity = min_fidelity
        self.num_configs = num_configs

    def check_params(self) -> None:
        """Check the hyperparameters.

        Raises:
            ConfigError: eta not a number > 1, or a min_fidelity or num_configs that is
                neither None nor an int >= 1.
        """
        super().check_params()
        if self.num_configs is not None:
            check_int("num_configs", self.num_configs)

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        rungs = self.rungs(problem)
        n = self.num_configs
        if n is None:
            n = int(round(float(self.eta) ** (len(rungs) - 1)))
        draws = _Draws(problem, rng)
        while self._bracket(problem, draws, rungs, int(n)):
            pass


@register_algorithm("hyperband")
class Hyperband(_Halving):
    """Hyperband (Li et al. 2018; related-work §E.2), its brackets looped until the budget is
    spent.

    Brackets ``s = s_max .. 0`` (``s_max + 1`` = the number of rungs,
    :func:`rung_fidelities`): bracket ``s`` runs successive halving of
    ``ceil((s_max + 1) / (s + 1) * eta**s)`` new random candidates (:func:`bracket_sizes`)
    from rung ``s_max - s`` to the full training; after bracket 0 it starts again at
    ``s_max``. Candidates are drawn without replacement across brackets; once every candidate
    was drawn, those not yet fully trained are drawn again. Search ends when none is left.

    **Cost mode: continue.** A promoted model continues its training, paying only the new
    epochs (SPEC §7a), as a Hyperband that keeps checkpoints would; the textbook variant that
    retrains from scratch would pay ``eta / (eta - 1)`` times as much per promotion
    (1.5 for ``eta = 3``).

    **One fidelity.** When the evaluator offers only its full training (a surrogate store),
    there is one rung, hence one bracket of one configuration: Hyperband degenerates to random
    search at full fidelity (it runs, and says so in the log).

    Args:
        eta: the reduction factor (default 3: related-work §E.2, the NAS-Bench-101 and
            NAS-Bench-201 settings).
        min_fidelity: the smallest rung in epochs (None: ``R / eta**3`` rounded to an offered
            fidelity, giving 7, 22, 67, 200 for R = 200 as in §E.2; at least the smallest
            offered fidelity).
    """

    def __init__(self, *, eta: float = 3, min_fidelity: int | None = None) -> None:
        self.eta = eta
        self.min_fidelity = min_fidelity

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        rungs = self.rungs(problem)
        if len(rungs) == 1:
            logger.info(
                "hyperband: the evaluator offers one fidelity, so it is random search at full fidelity"
            )
        sizes = bracket_sizes(len(rungs), self.eta)
        s_max = len(rungs) - 1
        draws = _Draws(problem, rng)
        while True:
            for s, n in zip(range(s_max, -1, -1), sizes):
                if not self._bracket(problem, draws, rungs[s_max - s :], n):
                    return


class _Draws:
    """Uniform draws of candidates: without replacement, then (once all were drawn) among
    those not yet trained to the full fidelity (``done``)."""

    def __init__(self, problem: Problem, rng: np.random.Generator) -> None:
        self._candidates = problem.candidates
        self._rng = rng
        self._order = rng.permutation(self._candidates)
        self._at = 0
        self.done: set[int] = set()

    def take(self, n: int) -> list[int]:
        out: list[int] = []
        taken: set[int] = set()
        while len(out) < n:
            if self._at >= len(self._order):
                left = [int(m) for m in self._candidates if int(m) not in self.done and int(m) not in taken]
                if not left:
                    break
                self._order = self._rng.permutation(np.asarray(left, dtype=np.int64))
                self._at = 0
            model = int(self._order[self._at])
            self._at += 1
            if model in self.done or model in taken:
                continue
            out.append(model)
            taken.add(model)
        return out


def _check_eta(eta: object) -> None:
    ok = not isinstance(eta, bool) and isinstance(eta, (int, float, np.integer, np.floating))
    if not ok or not math.isfinite(float(eta)) or float(eta) <= 1:  # type: ignore[arg-type]
        raise ConfigError(f"eta must be a finite number > 1, got {eta!r}")
