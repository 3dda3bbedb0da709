"""Per-epoch training checkpoints: written atomically, read with ``weights_only=True``.

A checkpoint holds everything needed to continue a run bit-for-bit: model and optimizer
state, the best-validation weights, the metric history and the epoch reached. It names the
model, seed and recipe id it belongs to, and loading it for anything else raises.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import CheckpointError

__all__ = ["TrainState", "save_checkpoint", "load_checkpoint", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1


@dataclass
class TrainState:
    """Mutable state of a run between epochs (owned by the trainer, never shared)."""

    model: int
    seed: int
    recipe_id: str
    epoch: int = 0  # last finished epoch, 1-based; 0 = nothing trained yet
    model_state: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizer_state: dict = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    best_epoch: int = 0
    best_top1: float = float("-inf")
    best_loss: float = float("inf")
    history: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "version": CHECKPOINT_VERSION,
            "model": self.model,
            "seed": self.seed,
            "recipe_id": self.recipe_id,
            "epoch": self.epoch,
            "model_state": self.model_state,
            "optimizer_state": self.optimizer_state,
            "best_state": self.best_state,
            "best_epoch": self.best_epoch,
            "best_top1": self.best_top1,
            "best_loss": self.best_loss,
            "history": self.history,
        }


def save_checkpoint(state: TrainState, path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state.to_dict(), tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, *, model: int, seed: int, recipe_id: str) -> TrainState | None:
    """The checkpoint at ``path`` for (model, seed, recipe id), or None when there is none.

    Raises:
        CheckpointError: the file is unreadable or belongs to another run.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():  # torch warns about the file before it fails on it
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, dict):
            raise TypeError(f"it holds a {type(data).__name__}")
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise CheckpointError(
            f"cannot read checkpoint {path} (not a blox-train checkpoint, or damaged: {first[:120]}); "
            "delete it to start over"
        ) from None
    want = {"version": CHECKPOINT_VERSION, "model": model, "seed": seed, "recipe_id": recipe_id}
    got = {k: data.get(k) for k in want}
    if got != want:
        raise CheckpointError(f"checkpoint {path} is for {got}, not {want}; delete it or use another folder")
    data.pop("version")
    return TrainState(**data)
