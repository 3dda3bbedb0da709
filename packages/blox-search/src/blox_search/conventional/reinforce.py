"""REINFORCE with an independent categorical policy per stage (related-work §E.3): the policy
gradient of the search metric, with an exponential-moving-average baseline and Adam steps,
all in numpy (no torch)."""

from __future__ import annotations

import math

import numpy as np
from blox_space.blocks import NUM_BLOCKS, NUM_STAGES
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_float, check_int, register_algorithm
from ..problem import Problem
from ..space import STRIDES, CandidateSpace

__all__ = ["Reinforce", "sample_policy"]

# Adam's moment decays and epsilon: the usual defaults (torch.optim.Adam's, which the AutoDL
# NATS-Bench script uses with only the learning rate set; related-work §E.3).
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


@register_algorithm("reinforce")
class Reinforce(Algorithm):
    """REINFORCE over the three stages' blocks (related-work §E.3).

    The policy is one vector of 45 logits per stage (no controller network: the
    NAS-Bench-101 baseline and AutoDL's NATS-Bench script do the same), starting uniform.
    Each step samples one block per stage, evaluates the model, and takes one Adam step on
    ``-(reward - baseline) * sum_stages log p(block)`` where the reward is the search metric
    (validation accuracy, %) and the baseline an exponential moving average of the rewards
    (bias-corrected, so the first baseline is the first reward; updated with the new reward
    before the advantage is taken).

    **Candidates.** On a partial store a sampled model may not be a candidate: the policy is
    sampled again, up to ``max_tries`` times, and then one candidate is drawn with the policy's
    probabilities restricted to the candidates. Both give exactly the policy conditioned on
    "is a candidate" (rejection sampling is exact; the fallback only bounds its time).

    **Repeats.** A model sampled again is evaluated again: a free repeat (``is_repeat``, no
    cost), and the policy is still updated with its (known) reward, as the REINFORCE estimator
    requires -- skipping it would bias the gradient. A search that only repeats is stopped by
    the problem; the search returns once every candidate has been evaluated.

    **Cost mode.** Every evaluation is at ``fidelity`` (full training by default) and a model
    is never trained twice, so the cost mode does not matter; the default ``continue`` is used.

    Args:
        learning_rate: Adam's step size (default 0.01: AutoDL's NATS-Bench run-all setting,
            related-work §E.3; the NAS-Bench-101 baseline used 0.1 with plain gradient steps).
        momentum: the baseline's EMA momentum (default 0.9: both sources of §E.3).
        fidelity: the epoch every model is evaluated at (None: the evaluator's full training).
        max_tries: policy samples tried before drawing among the candidates directly
            (default 100: our choice; on a full store the first sample is always a candidate).
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        fidelity: int | None = None,
        max_tries: int = 100,
    ) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.fidelity = fidelity
        self.max_tries = max_tries

    def check_params(self) -> None:
        """Check the hyperparameters.

        Raises:
            ConfigError: learning_rate not in (0, 10], momentum not in [0, 1), max_tries
                below 1, or a fidelity that is neither None nor an int >= 1.
        """
        check_float("learning_rate", self.learning_rate, 0.0, 10.0, low_open=True)
        check_float("momentum", self.momentum, 0.0, 1.0)
        if self.momentum == 1.0:  # a baseline that never moves off zero
            raise ConfigError(f"momentum must be a number in [0.0, 1.0), got {self.momentum!r}")
        check_int("max_tries", self.max_tries)
        if self.fidelity is not None:
            check_int("fidelity", self.fidelity)

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        space = problem.space
        num_candidates = len(space)
        lr, momentum, tries = float(self.learning_rate), float(self.momentum), int(self.max_tries)
        logits = np.zeros((NUM_STAGES, NUM_BLOCKS))
        m = np.zeros_like(logits)
        v = np.zeros_like(logits)
        rows = np.arange(NUM_STAGES)
        numerator = denominator = 0.0
        t = 0
        seen: set[int] = set()
        cache: dict[str, np.ndarray] = {}
        while len(seen) < num_candidates:
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            model, blocks = sample_policy(space, probs, rng, max_tries=tries, cache=cache)
            ev = problem.evaluate(model, fidelity=self.fidelity)
            seen.add(ev.model)
            reward = ev.search_metric
            if math.isnan(reward):
                continue
            numerator = momentum * numerator + (1.0 - momentum) * reward
            denominator = momentum * denominator + (1.0 - momentum)
            advantage = reward - numerator / denominator
            # d/dlogits of -advantage * log p(block) is -advantage * (onehot(block) - p)
            grad = probs * advantage
            grad[rows, blocks] -= advantage
            t += 1
            m = _BETA1 * m + (1.0 - _BETA1) * grad
            v = _BETA2 * v + (1.0 - _BETA2) * grad * grad
            m_hat = m / (1.0 - _BETA1**t)
            v_hat = v / (1.0 - _BETA2**t)
            logits -= lr * m_hat / (np.sqrt(v_hat) + _EPS)


def sample_policy(
    space: CandidateSpace,
    probs: np.ndarray,
    rng: np.random.Generator,
    *,
    max_tries: int = 100,
    cache: dict[str, np.ndarray] | None = None,
) -> tuple[int, np.ndarray]:
    """One candidate drawn from the per-stage policy ``probs`` conditioned on being a candidate.

    Draws one block per stage up to ``max_tries`` times and returns the first candidate; when
    none is, draws one candidate with probability proportional to the product of its blocks'
    probabilities. Both are exactly the conditioned distribution.

    Args:
        space: the candidates.
        probs: ``(3, 45)`` block probabilities per stage (rows sum to 1).
        rng: the generator.
        max_tries: policy draws before drawing among the candidates directly.
        cache: a dict kept across calls (holds the candidates' blocks once needed).

    Returns:
        ``(model, block_ids)``.
    """
    cdf = np.cumsum(probs, axis=1)
    for _ in range(max_tries):
        blocks = _draw(cdf, rng.random(NUM_STAGES))
        model = int(blocks @ STRIDES)
        if model in space:
            return model, blocks
    cache = {} if cache is None else cache
    if "blocks" not in cache:  # partial stores only: O(candidates) once per search
        cache["blocks"] = space.blocks(space.candidates)
    every = cache["blocks"]
    weight = probs[0, every[:, 0]] * probs[1, every[:, 1]] * probs[2, every[:, 2]]
    wcdf = np.cumsum(weight)
    at = min(int(np.searchsorted(wcdf, rng.random() * wcdf[-1], side="right")), len(wcdf) - 1)
    return int(space.candidates[at]), every[at]


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One block per stage by inverse-CDF sampling (``cdf``: (stages, blocks), ``u`` in [0, 1))."""
    blocks = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(blocks, NUM_BLOCKS - 1)
