"""DARTS-PT as a search algorithm (SPEC §7b; paper Table 2's † row).

One search seed trains the Blox supernet on the live evaluator's recipe and dataset with
first-order DARTS, projects it to one model by perturbation (blox-train's
:func:`~blox_train.oneshot.run_darts_pt`), charges the supernet's training and projection seconds
as a one-shot cost (:meth:`~blox_search.Problem.charge_one_shot`: in the cumulative FTE, not
against the budget -- the paper's †) and evaluates the chosen model once: from a reuse
benchmark store when it was trained there, else by a live normal training, paid for and recorded
(:class:`~blox_search.evaluators.live.LiveEvaluator`). What the projection decided, the plain
DARTS argmax and both seconds go to the search store's ``seed_info``.

Resuming: the supernet's work folder is ``<live store>.darts_pt/search-seed-<seed>/<settings>``
(:meth:`LiveEvaluator.work_folder`); a killed search continues its supernet from the last epoch's
checkpoint, and a finished one is read back, so a replayed seed charges the recorded seconds and
reproduces its trajectory bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import numpy as np
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_float, check_int, register_algorithm
from ..problem import Problem

__all__ = ["DartsPT"]

#: Largest seed handed to torch (the search seed's generator draws it).
_TORCH_SEED_RANGE = 2**31 - 1


@register_algorithm("darts_pt")
class DartsPT(Algorithm):
    """DARTS-PT (``darts_pt``; ``blox-search run darts-pt`` spells it too): differentiable
    supernet training, then perturbation-based projection.

    Args:
        epochs: supernet training epochs (None: the recipe's epochs).
        proj_intv: tuning epochs between two projections (DARTS-PT: 5).
        tune_alpha: tune α with the weights between projections (else the weights only).
        lr: the weights' learning rate (SGD, cosine-annealed; DARTS: 0.025).
        arch_lr: α's learning rate (Adam; DARTS: 3e-4).

    Needs a live evaluator (``--evaluator live``), whose recipe, dataset, device and threads the
    supernet uses; evaluates exactly one model per seed (``mode="continue"``, full fidelity).
    """

    requires: ClassVar[tuple[str, ...]] = ("blox_train",)
    extra: ClassVar[str] = (
        'pip install "blox-search[live]" (from a checkout: pip install packages/blox-train)'
    )
    #: The algorithm trains on the evaluator's recipe and dataset: it needs a live evaluator.
    needs_live: ClassVar[bool] = True
    #: Its search cost (the supernet) is charged outside the budget (Table 2's †).
    one_shot: ClassVar[bool] = True

    def __init__(
        self,
        *,
        epochs: int | None = None,
        proj_intv: int = 5,
        tune_alpha: bool = True,
        lr: float = 0.025,
        arch_lr: float = 3e-4,
    ) -> None:
        self.epochs = epochs
        self.proj_intv = proj_intv
        self.tune_alpha = tune_alpha
        self.lr = lr
        self.arch_lr = arch_lr

    def check_params(self) -> None:
        if self.epochs is not None:
            check_int("epochs", self.epochs, 0)
        check_int("proj_intv", self.proj_intv, 0)
        if not isinstance(self.tune_alpha, bool):
            raise ConfigError(f"tune_alpha must be true or false, got {self.tune_alpha!r}")
        check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        check_float("arch_lr", self.arch_lr, 0.0, 10.0, low_open=True)

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        from blox_train.oneshot import run_darts_pt

        evaluator = problem.evaluator
        if not callable(getattr(evaluator, "work_folder", None)):
            raise ConfigError(
                "darts_pt trains a supernet on a live evaluator's recipe and data: run it with --evaluator live "
                "(--reuse BENCHMARK.zarr answers the chosen model from the benchmark when it was trained there)"
            )
        seed = int(rng.integers(_TORCH_SEED_RANGE))
        params = self.get_params()
        tag = hashlib.md5(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        with evaluator.torch_threads():
            result = run_darts_pt(
                evaluator.recipe, seed=seed, data=evaluator.dataset(), device=evaluator.device,
                workdir=evaluator.work_folder("darts_pt") / tag, **params,
            )  # fmt: skip
        problem.charge_one_shot(result.train_seconds, "supernet_training")
        problem.charge_one_shot(result.projection_seconds, "projection")
        problem.info["darts_pt"] = _info(result)
        problem.evaluate(result.model)


def _info(result: Any) -> dict[str, Any]:
    """What a search store keeps of one projection (``seed_info["darts_pt"]``)."""
    data = result.to_dict()
    return {
        key: data[key]
        for key in (
            "model", "block_ids", "argmax_model", "argmax_block_ids", "cells", "argmax_cells", "resolutions",
            "train_seconds", "projection_seconds", "seconds", "tune_epochs", "settings", "decisions",
        )
    }  # fmt: skip
