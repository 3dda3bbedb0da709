"""BRP-NAS: iterative search with a binary relation predictor (Dudziak et al. 2020;
related-work §D.1, SPEC §7). Needs blox-predict (torch), imported only when a search runs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_float, check_int, register_algorithm
from ..problem import Problem

__all__ = ["BRPNAS", "PAPER_PREDICTOR"]

logger = logging.getLogger(__name__)

#: The predictor of the paper's BRP-NAS runs: the Eagle NAS-Bench-201 binary config
#: (related-work §A.9, §D.1; ``configs/predictors/acc_gcn_nasbench201_bin.yaml``): 4 GCN layers,
#: 600 hidden units, dropout 0.2, AdamW lr 3.5e-4, weight decay 5e-4, cosine schedule, 250
#: epochs, 64 pairs per batch, all ordered pairs each epoch.
PAPER_PREDICTOR: dict[str, Any] = {
    "num_layers": 4,
    "hidden": 600,
    "dropout": 0.2,
    "lr": 3.5e-4,
    "weight_decay": 5e-4,
    "epochs": 250,
    "batch_size": 64,
}


@register_algorithm("brp")
class BRPNAS(Algorithm):
    """BRP-NAS, the iterative predictor-guided search (related-work §D.1).

    Round 0 evaluates ``initial`` distinct uniform candidates. Every later round fits a **fresh**
    :class:`blox_predict.BRPPredictor` on every model evaluated so far (its search metric at the
    full fidelity), predicts all candidates not evaluated yet in **one** ``predict`` call, and
    evaluates, in this order, the ``num_top`` best-predicted of them, then ``num_random`` drawn
    uniformly without replacement from the rest of the top ``top_fraction`` of the predicted
    ranking. Rounds go on until the budget is spent (not a fixed number of rounds); the search
    returns once every candidate was evaluated.

    **Choices and departures from the original** (Eagle ``--iter 5 --sample_best2``):

    * the original keeps training one predictor across its 5 iterations, growing epochs and
      batch size linearly (50, 100, ..., 250 epochs); here each round trains a new predictor
      from scratch with the configured epochs: a round depends only on the evaluated models
      and the seed, ``BRPPredictor`` has no warm start, and the budget, not a round count, ends
      the search (so there is no last iteration to grow towards);
    * the original draws the random half of iteration ``i`` from the top ``1 / 2**i`` of the
      ranking; the issue asks for a fixed fraction (``top_fraction``, default the top half);
    * candidates already evaluated are not ranked (the original ranks every model and skips the
      trained ones: the same choice, fewer predictions);
    * ties of the predicted score are broken by model index (a stable sort).

    **Determinism.** Every predictor's ``random_state`` is drawn from the search's generator,
    so a seed's trajectory is a pure function of (parameters, seed, evaluator) and resuming
    replays it bit for bit, on the same machine and thread count: float32 reductions can round
    differently with another number of torch threads, which can swap two nearly tied models.
    ``threads`` pins torch's intra-op threads while the predictor fits and predicts (restored
    afterwards) where that matters.

    **Cost mode.** Every evaluation is at the full fidelity and a model is never evaluated
    twice, so the cost mode does not matter; the default ``continue`` is used. Predictor
    training is not charged (as in the paper: its cost is small next to training the models).

    Args:
        initial: random models of round 0 (default 20: Eagle's iterative mode, 100 training
            models over 5 iterations of 20, related-work §D.1).
        num_top: best-predicted models per round (default 10, §D.1).
        num_random: models per round drawn from the top of the ranking (default 10, §D.1).
        top_fraction: the fraction of the ranking ``num_random`` are drawn from (default 0.5:
            the issue's "random from the top half"; α = 0.5 in §D.1).
        predictor_params: :class:`~blox_predict.BRPPredictor` hyperparameters, merged over
            :data:`PAPER_PREDICTOR` (None: the paper config -- minutes per round on a CPU;
            presets and tests pass small ones, e.g. ``{"num_layers": 2, "hidden": 32,
            "epochs": 30, "pairs_per_epoch": 256}``). ``random_state`` is not allowed: the
            search seeds it.
        threads: torch intra-op threads while fitting and predicting (None: leave torch's
            setting).

    Raises (from :meth:`search`):
        MissingExtraError: blox-predict is not installed (``pip install "blox-search[brp]"``).
    """

    requires = ("blox_predict",)
    extra = 'pip install "blox-search[brp]" (from a checkout: pip install packages/blox-predict)'

    def __init__(
        self,
        *,
        initial: int = 20,
        num_top: int = 10,
        num_random: int = 10,
        top_fraction: float = 0.5,
        predictor_params: Mapping[str, Any] | None = None,
        threads: int | None = None,
    ) -> None:
        self.initial = initial
        self.num_top = num_top
        self.num_random = num_random
        self.top_fraction = top_fraction
        self.predictor_params = predictor_params
        self.threads = threads

    def check_params(self) -> None:
        """Check the hyperparameters (the predictor's own are checked when it is built).

        Raises:
            ConfigError: initial below 2 (a pair is needed to train), num_top below 1,
                num_random below 0, top_fraction outside (0, 1], predictor_params not a
                mapping of names or naming ``random_state``, threads not None or an int >= 1.
        """
        check_int("initial", self.initial, low=2)
        check_int("num_top", self.num_top)
        check_int("num_random", self.num_random, low=0)
        check_float("top_fraction", self.top_fraction, 0.0, 1.0, low_open=True)
        params = self.predictor_params
        if params is not None:
            if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
                raise ConfigError(
                    f"predictor_params must be a mapping of BRPPredictor parameters, got {params!r}"
                )
            if "random_state" in params:
                raise ConfigError(
                    "predictor_params may not set random_state: the search seed seeds the predictor"
                )
        if self.threads is not None:
            check_int("threads", self.threads)

    def predictor_config(self) -> dict[str, Any]:
        """The predictor hyperparameters a round uses (without ``random_state``)."""
        return {**PAPER_PREDICTOR, **dict(self.predictor_params or {})}

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        self.check_available()
        from blox_predict import get_predictor  # torch: only when a BRP search runs

        config = self.predictor_config()
        get_predictor("brp", **config)  # an unknown name fails before round 0 is paid
        candidates = problem.candidates
        evaluated = np.zeros(len(candidates), dtype=bool)
        models: list[int] = []
        targets: list[float] = []

        def evaluate(positions: np.ndarray) -> None:
            for pos in positions:
                ev = problem.evaluate(int(candidates[pos]))
                evaluated[pos] = True
                if math.isfinite(ev.search_metric):
                    models.append(ev.model)
                    targets.append(ev.search_metric)

        first = min(int(self.initial), len(candidates))
        evaluate(rng.choice(len(candidates), size=first, replace=False))
        num_top, num_random = int(self.num_top), int(self.num_random)
        round_no = 0
        while not evaluated.all():
            left = np.flatnonzero(~evaluated)
            if len(models) < 2:  # every metric so far was NaN: nothing to learn from, draw more
                evaluate(rng.permutation(left)[: num_top + num_random])
                continue
            round_no += 1
            started = time.perf_counter()
            state = int(rng.integers(2**31 - 1))
            with _torch_threads(self.threads):
                predictor = get_predictor("brp", **config, random_state=state)
                predictor.fit(np.asarray(models, dtype=np.int64), np.asarray(targets, dtype=np.float64))
                scores = np.asarray(predictor.predict(candidates[left]), dtype=np.float64)
            scores = np.where(np.isfinite(scores), scores, -np.inf)
            ranked = left[np.argsort(-scores, kind="stable")]
            if len(ranked) <= num_top + num_random:  # the last round: all that is left, best first
                evaluate(ranked)
                continue
            top = ranked[:num_top]
            pool = ranked[num_top : max(math.ceil(float(self.top_fraction) * len(ranked)), num_top)]
            if len(pool) < num_random:  # a small top fraction: widen it to what is needed
                pool = ranked[num_top : num_top + num_random]
            extra = pool[rng.choice(len(pool), size=min(num_random, len(pool)), replace=False)]
            logger.debug(
                "brp round %d: fitted on %d models, ranked %d in %.2f s",
                round_no,
                len(models),
                len(left),
                time.perf_counter() - started,
            )
            evaluate(top)
            evaluate(extra)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` torch intra-op threads (None: leave the setting)."""
    if threads is None:
        yield
        return
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(saved)
