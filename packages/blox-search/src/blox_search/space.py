"""The candidate models as algorithms move through them: uniform sampling and one-stage
mutations restricted to what an evaluator can evaluate (a partial store holds few models, so
a mutation falls back to the nearest candidates).

A model is its three block ids (model index ``b0 + 45*b1 + 2025*b2``, SPEC §0); a mutation
changes the block of one stage to another block (related-work §E.1: "change one randomly
chosen dimension to a different value"), so the full space gives every model 3 * 44 = 132
neighbours.

Example:
    >>> import numpy as np
    >>> space = CandidateSpace(np.arange(91125))
    >>> len(space.neighbours(0)), space.mutate(0, np.random.default_rng(0)) != 0
    (132, True)
"""

from __future__ import annotations

import numpy as np
from blox_space.blocks import NUM_BLOCKS, NUM_MODELS, NUM_STAGES

__all__ = ["CandidateSpace", "STRIDES"]

#: Model index = sum(block_id[stage] * STRIDES[stage]).
STRIDES = np.array([NUM_BLOCKS**s for s in range(NUM_STAGES)], dtype=np.int64)


class CandidateSpace:
    """Sampling and mutation over a fixed set of candidate models.

    Args:
        candidates: sorted unique model indices (an evaluator's ``candidates``).
    """

    def __init__(self, candidates: np.ndarray) -> None:
        self.candidates = np.asarray(candidates, dtype=np.int64)
        self._mask = np.zeros(NUM_MODELS, dtype=bool)
        self._mask[self.candidates] = True
        self.is_full = len(self.candidates) == NUM_MODELS
        self._blocks = self.blocks(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, (int, np.integer)) and 0 <= model < NUM_MODELS and bool(self._mask[model])

    @staticmethod
    def blocks(models: np.ndarray | int) -> np.ndarray:
        """Block ids ``(..., 3)`` of model indices."""
        return (np.asarray(models, dtype=np.int64)[..., None] // STRIDES) % NUM_BLOCKS

    @staticmethod
    def index(blocks: np.ndarray) -> np.ndarray | int:
        """Model indices of block ids ``(..., 3)``."""
        out = np.asarray(blocks, dtype=np.int64) @ STRIDES
        return int(out) if np.ndim(out) == 0 else out

    def sample(
        self, rng: np.random.Generator, size: int | None = None, *, replace: bool = True
    ) -> np.ndarray | int:
        """Uniform random candidates: one model (``size=None``) or an array of ``size``."""
        if size is None:
            return int(self.candidates[rng.integers(len(self.candidates))])
        return self.candidates[rng.choice(len(self.candidates), size=size, replace=replace)]

    def neighbours(self, model: int) -> np.ndarray:
        """The candidates that differ from ``model`` in exactly one stage's block (sorted)."""
        base = self.blocks(model)
        out = []
        for stage in range(NUM_STAGES):
            others = np.delete(np.arange(NUM_BLOCKS), base[stage])
            out.append(int(model) + (others - base[stage]) * STRIDES[stage])
        every = np.sort(np.concatenate(out))
        return every[self._mask[every]]

    def mutate(self, model: int, rng: np.random.Generator) -> int:
        """A mutation of ``model``: a uniformly chosen candidate among the closest other
        candidates (one stage changed where such a candidate exists, else two, else three).
        Returns ``model`` itself only when it is the only candidate."""
        if self.is_full:  # fast path: any stage, any other block
            stage = int(rng.integers(NUM_STAGES))
            old = (int(model) // int(STRIDES[stage])) % NUM_BLOCKS
            new = int(rng.integers(NUM_BLOCKS - 1))
            new += new >= old
            return int(model) + (new - old) * int(STRIDES[stage])
        near = self.neighbours(model)
        if not len(near):
            distance = (self._blocks != self.blocks(model)).sum(axis=1)
            distance[distance == 0] = NUM_STAGES + 1
            closest = distance.min()
            if closest > NUM_STAGES:
                return int(model)
            near = self.candidates[distance == closest]
        return int(near[rng.integers(len(near))])
