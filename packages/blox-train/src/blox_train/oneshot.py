"""DARTS-PT end to end (SPEC §7b): a recipe's data, a seeded :class:`~blox_train.supernet.SuperNet`,
first-order DARTS training (:func:`~blox_train.darts_pt.train_supernet`), perturbation-based
projection (:func:`~blox_train.darts_pt.project`), and the chosen Blox model -- in a work folder
that a killed run resumes from.

The work folder (``workdir``) holds:

* ``settings.json``: what the run is (recipe id, dataset, geometry, seed, epochs, ``proj_intv``,
  ``tune_alpha``, learning rates); a folder written by other settings is refused;
* ``supernet.pt``: the training checkpoint, written after every epoch;
* ``projection.pt``: the projection checkpoint, written after every decision and its tuning;
* ``result.json``: the :class:`DartsPTResult` (written last, atomically).

Resuming: a finished run (``result.json``) is read back without computing anything, so a replayed
search charges exactly the recorded seconds; a run killed while training continues from the last
epoch's checkpoint bit-for-bit; a run killed while projecting continues from the last decision's
checkpoint bit-for-bit (same decisions, same model; the seconds of the lost partial decision are
not charged).

The weights use the recipe's batch size and augmentation (:func:`~blox_train.darts_pt.search_batches`)
and DARTS' own optimizers (SGD 0.025 cosine, Adam 3e-4 on α; :func:`~blox_train.supernet.make_darts_optimizers`),
in fp32 and the recipe's memory format.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import blox_space as bs
import torch

from .darts_pt import Decision, Projection, project, search_batches, train_supernet
from .data import DataSplits, load_dataset
from .environment import resolve_device
from .errors import ConfigError
from .recipes import Recipe
from .supernet import SuperNet, make_darts_optimizers

__all__ = [
    "DartsPTResult",
    "run_darts_pt",
    "SETTINGS_FILE",
    "CHECKPOINT_FILE",
    "PROJECTION_FILE",
    "RESULT_FILE",
]

logger = logging.getLogger(__name__)

SETTINGS_FILE, CHECKPOINT_FILE, RESULT_FILE = "settings.json", "supernet.pt", "result.json"
PROJECTION_FILE = "projection.pt"


@dataclass(frozen=True)
class DartsPTResult:
    """What one DARTS-PT run chose and what it cost.

    Attributes:
        model: the chosen model's index (projection).
        block_ids: its canonical block ids.
        argmax_model: the model plain DARTS (argmax of α after training) would pick, or None
            when that argmax is an invalid cell.
        argmax_block_ids: its block ids, or ``"invalid"``.
        cells, argmax_cells: the raw cells ``(op0, op1, prev, input, sc)`` per stage.
        decisions: the projection steps (stage, edge, choice, measured, forced, scores).
        resolutions: the forced decisions (:data:`~blox_train.darts_pt.INVALID_CELL_RULE`).
        train_seconds: device seconds of supernet training (all epochs).
        projection_seconds: device seconds of the projection (measurements and tuning).
        tune_epochs: tuning epochs run between projections.
        settings: the run's settings (``settings.json``).
        history: per training epoch ``train_loss``, ``val_loss``, ``seconds``.
    """

    model: int
    block_ids: tuple[int, int, int]
    argmax_model: int | None
    argmax_block_ids: tuple[int, int, int] | str
    cells: tuple[tuple[int, ...], ...]
    argmax_cells: tuple[tuple[int, ...], ...]
    decisions: tuple[dict[str, Any], ...]
    resolutions: tuple[str, ...]
    train_seconds: float
    projection_seconds: float
    tune_epochs: int
    settings: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """The search's cost: supernet training plus projection, device seconds."""
        return self.train_seconds + self.projection_seconds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``result.json``)."""
        out = asdict(self)
        out["seconds"] = self.seconds
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DartsPTResult:
        argmax = data["argmax_block_ids"]
        return cls(
            model=int(data["model"]), block_ids=tuple(data["block_ids"]),
            argmax_model=None if data["argmax_model"] is None else int(data["argmax_model"]),
            argmax_block_ids=argmax if isinstance(argmax, str) else tuple(argmax),
            cells=tuple(tuple(c) for c in data["cells"]), argmax_cells=tuple(tuple(c) for c in data["argmax_cells"]),
            decisions=tuple(data["decisions"]), resolutions=tuple(data["resolutions"]),
            train_seconds=float(data["train_seconds"]), projection_seconds=float(data["projection_seconds"]),
            tune_epochs=int(data["tune_epochs"]), settings=dict(data.get("settings", {})),
            history=dict(data.get("history", {})),
        )  # fmt: skip


def _decision(d: Decision) -> dict[str, Any]:
    return {
        "stage": d.stage, "edge": d.edge, "choice": d.choice, "measured": d.measured, "forced": d.forced,
        "scores": {str(k): {"top1": v[0], "loss": v[1]} for k, v in d.scores.items()},
    }  # fmt: skip


def _result(projection: Projection, training: Any, settings: dict[str, Any]) -> DartsPTResult:
    argmax = projection.argmax_block_ids
    return DartsPTResult(
        model=int(bs.to_index(projection.block_ids)),
        block_ids=tuple(int(b) for b in projection.block_ids),  # type: ignore[arg-type]
        argmax_model=None if isinstance(argmax, str) else int(bs.to_index(argmax)),
        argmax_block_ids=argmax if isinstance(argmax, str) else tuple(int(b) for b in argmax),  # type: ignore[arg-type]
        cells=tuple(tuple(int(v) for v in c) for c in projection.cells),
        argmax_cells=tuple(tuple(int(v) for v in c) for c in projection.argmax_cells),
        decisions=tuple(_decision(d) for d in projection.decisions),
        resolutions=projection.resolutions,
        train_seconds=float(training.seconds),
        projection_seconds=float(projection.seconds),
        tune_epochs=int(projection.tune_epochs),
        settings=settings,
        history=training.history,
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_rate(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def run_darts_pt(
    recipe: Recipe,
    *,
    seed: int = 0,
    epochs: int | None = None,
    proj_intv: int = 5,
    tune_alpha: bool = True,
    lr: float = 0.025,
    arch_lr: float = 3e-4,
    data: DataSplits | None = None,
    data_root: str | Path | None = None,
    download: bool = False,
    device: str | torch.device = "cpu",
    workdir: str | Path | None = None,
) -> DartsPTResult:
    """Train a supernet on ``recipe``'s dataset with DARTS, project it, return the chosen model.

    Args:
        recipe: dataset, resolution, width, batch sizes, augmentation and split seed.
        seed: seed of the supernet's initial weights, batches, training and projection.
        epochs: supernet training epochs (None: ``recipe.epochs``).
        proj_intv: tuning epochs between two projections (DARTS-PT: 5).
        tune_alpha: tune α with the weights between projections.
        lr, arch_lr: learning rates of the weights (SGD, cosine) and of α (Adam).
        data: the loaded dataset (None: load ``recipe.dataset`` from ``data_root``).
        data_root, download: where the dataset lives and whether torchvision may download it.
        device: torch device.
        workdir: the resumable work folder (module docstring); None = no checkpoints.

    Raises:
        ConfigError: bad settings, or a ``workdir`` written by other settings.
        DeviceError: a device this machine does not have.
        DatasetNotFoundError: the dataset's local copy is missing.
    """
    seed = _check_int("seed", seed, 0)
    epochs = _check_int("epochs", recipe.epochs if epochs is None else epochs, 0)
    proj_intv = _check_int("proj_intv", proj_intv, 0)
    if not isinstance(tune_alpha, bool):
        raise ConfigError(f"tune_alpha must be true or false, got {tune_alpha!r}")
    lr, arch_lr = _check_rate("lr", lr), _check_rate("arch_lr", arch_lr)
    torch_device = resolve_device(device)
    settings = {
        "method": "darts-pt", "recipe_id": recipe.id, "recipe": recipe.name, "dataset": recipe.dataset,
        "width": recipe.width, "resolution": recipe.resolution, "split_seed": recipe.split_seed, "seed": seed,
        "epochs": epochs, "proj_intv": proj_intv, "tune_alpha": tune_alpha, "lr": lr, "arch_lr": arch_lr,
    }  # fmt: skip
    folder = None if workdir is None else Path(workdir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        known = folder / SETTINGS_FILE
        if known.exists():
            old = json.loads(known.read_text())
            if old != settings:
                diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
                raise ConfigError(
                    f"{folder} holds a DARTS-PT run with other settings ({', '.join(diff)} differ); "
                    "choose another work folder or delete it"
                )
            done = folder / RESULT_FILE
            if done.exists():
                logger.info("DARTS-PT: %s is finished; reading it back", folder)
                return DartsPTResult.from_dict(json.loads(done.read_text()))
        else:
            _write_json(known, settings)
    if data is None:
        data = load_dataset(
            recipe.dataset, root=data_root, resolution=recipe.resolution, split_seed=recipe.split_seed,
            download=download,
        )  # fmt: skip
    torch.manual_seed(seed)
    supernet = SuperNet(num_classes=data.num_classes, width=recipe.width, resolution=recipe.resolution)
    memory = torch.channels_last if recipe.channels_last else torch.contiguous_format
    supernet = supernet.to(torch_device, memory_format=memory)
    batches = search_batches(data, recipe, resolution=recipe.resolution, seed=seed, device=torch_device)
    optimizers = make_darts_optimizers(supernet, lr=lr, arch_lr=arch_lr)
    checkpoint = None if folder is None else folder / CHECKPOINT_FILE
    logger.info("DARTS-PT: training the supernet for %d epochs (seed %d)", epochs, seed)
    training = train_supernet(
        supernet, batches.train, batches.arch, epochs=epochs, seed=seed, checkpoint=checkpoint,
        optimizers=optimizers,
    )  # fmt: skip
    logger.info("DARTS-PT: %.1f s of training; projecting (proj_intv %d)", training.seconds, proj_intv)
    # tuning epoch t serves the batches of epoch epochs + t (training saw epochs 1..epochs)
    projection = project(
        supernet, batches.eval, lambda t: batches.train(epochs + t), seed=seed, proj_intv=proj_intv,
        arch_batches=lambda t: batches.arch(epochs + t),
        optimizers=(training.w_opt, training.a_opt), tune_alpha=tune_alpha,
        checkpoint=None if folder is None else folder / PROJECTION_FILE,
    )  # fmt: skip
    result = _result(projection, training, settings)
    if folder is not None:
        _write_json(folder / RESULT_FILE, result.to_dict())
    logger.info(
        "DARTS-PT: model %d (blocks %s) in %.1f s (argmax of alpha: %s)",
        result.model, result.block_ids, result.seconds, result.argmax_block_ids,
    )  # fmt: skip
    return result
