"""Shared settings of the blox-predict tests."""

from __future__ import annotations

import numpy as np

#: Small hyperparameters per registered predictor, so the contract check (test_contract.py) is quick.
#: Every registered predictor has an entry; each predictor's owner keeps its own line.
FAST_PARAMS: dict[str, dict] = {
    "gcn": {"num_layers": 2, "hidden": 32, "epochs": 5, "batch_size": 16, "random_state": 0},
    "brp": {"num_layers": 2, "hidden": 32, "epochs": 3, "batch_size": 64, "random_state": 0},
    "donna": {"order": 2, "signatures": np.random.default_rng(0).random((3, 45))},
    "lana": {"signatures": np.random.default_rng(1).normal(size=(3, 45))},
}
