"""Teachers (SPEC §5a): a normally trained model saved as its best-validation weights and a
JSON record, so blockwise distillation and fine-tuning can start from it.

A teacher folder holds two files:

- ``weights.pt``: the model's ``state_dict`` at its best validation epoch (the weights its test
  metrics were measured with), plain tensors, read back with ``torch.load(weights_only=True)``;
- ``teacher.json``: the record (:data:`TEACHER_FORMAT`, version :data:`TEACHER_VERSION`): name
  (``"M1"`` or null) and the selector it was chosen by, the architecture (model index, block ids,
  readable name) and geometry, the recipe id and recipe, dataset, seed, per-epoch metrics (NaN as
  null), test metrics, best epoch, train seconds, params and MACs, environment, and the weights'
  file name and sha256.

:func:`make_teacher` trains through :func:`blox_train.train`, exactly the normal-training path,
so on CPU its metrics are the benchmark store's row for that model and seed, bit for bit (the
store keeps them as float32). The folder is written atomically (a temporary folder renamed into
place), so it is either complete or absent; an interrupted training resumes from its per-epoch
checkpoint in ``<out>.ckpt/``, like a benchmark shard's. :func:`load_teacher` checks the record,
the sha256 and the tensors before it returns a model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blox_space as bs
import torch
from blox_space import ArchLike

from .data import DataSplits
from .errors import ConfigError, DivergenceError
from .network import BloxNet, build_model
from .recipes import Recipe, get_recipe
from .shard import checkpoint_dir_for
from .train import TrainResult, train

__all__ = [
    "RECORD_FILE",
    "TEACHER_FORMAT",
    "TEACHER_VERSION",
    "WEIGHTS_FILE",
    "Teacher",
    "load_teacher",
    "make_teacher",
]

logger = logging.getLogger(__name__)

#: Format tag and version of ``teacher.json``.
TEACHER_FORMAT, TEACHER_VERSION = "blox-teacher", 1
#: File names inside a teacher folder.
WEIGHTS_FILE, RECORD_FILE = "weights.pt", "teacher.json"
#: Record keys that say which teacher a folder holds (a rerun with the same ones skips).
IDENTITY_KEYS = ("model", "seed", "recipe_id", "dataset", "name")


@dataclass(frozen=True)
class Teacher:
    """A loaded teacher.

    Attributes:
        model: the network with the saved weights, in eval mode.
        record: the parsed ``teacher.json``.
        path: the teacher folder.
    """

    model: BloxNet
    record: dict[str, Any]
    path: Path

    @property
    def name(self) -> str | None:
        """The teacher's name (e.g. ``"M1"``), or None."""
        return self.record["name"]

    @property
    def index(self) -> int:
        """Model index of the teacher's architecture."""
        return int(self.record["model"])

    @property
    def seed(self) -> int:
        """The seed the teacher was trained with."""
        return int(self.record["seed"])

    @property
    def sha256(self) -> str:
        """Hex sha256 of ``weights.pt``."""
        return str(self.record["weights"]["sha256"])

    @property
    def recipe(self) -> Recipe:
        """The recipe the teacher was trained with (rebuilt from the record, same id)."""
        return _recipe_of(self.record, self.path)

    @property
    def attrs(self) -> dict[str, Any]:
        """What stores built from this teacher record about it (blockwise and finetune
        ``teacher`` attribute): name, model, block_ids, recipe_id, val_acc (best validation
        top-1, %), test_acc (%), train_seconds, width, resolution, num_classes."""
        r = self.record
        return {
            "name": r["name"],
            "model": int(r["model"]),
            "block_ids": [int(b) for b in r["block_ids"]],
            "recipe_id": str(r["recipe_id"]),
            "val_acc": r["val_acc"],
            "test_acc": r["test"]["test_acc"],
            "train_seconds": r["train_seconds"],
            "width": int(r["width"]),
            "resolution": int(r["resolution"]),
            "num_classes": int(r["num_classes"]),
        }


def _json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record(
    result: TrainResult,
    recipe: Recipe,
    *,
    num_classes: int,
    name: str | None,
    selector: str | None,
    sha256: str,
) -> dict[str, Any]:
    block_ids = bs.to_blocks(result.model)
    best = result.best_epoch
    return {
        "format": TEACHER_FORMAT,
        "version": TEACHER_VERSION,
        "name": name,
        "selector": selector,
        "model": result.model,
        "block_ids": list(block_ids),
        "arch": bs.to_name(result.model),
        "width": recipe.width,
        "resolution": recipe.resolution,
        "num_classes": num_classes,
        "recipe_id": recipe.id,
        "recipe": recipe.to_dict(),
        "dataset": recipe.dataset,
        "seed": result.seed,
        "status": result.status,
        "best_epoch": best,
        "val_acc": _json_float(result.metrics["val_acc"][best - 1]),
        "metrics": {k: [_json_float(v) for v in a] for k, a in result.metrics.items()},
        "test": {k: _json_float(v) for k, v in result.test.items()},
        "train_seconds": result.train_seconds,
        "params": result.params,
        "macs": result.macs,
        "environment": dict(result.env),
        "weights": {"file": WEIGHTS_FILE, "sha256": sha256},
    }


def _recipe_of(record: Mapping[str, Any], path: Path) -> Recipe:
    try:
        recipe = Recipe(**{**record["recipe"], "seeds": tuple(record["recipe"]["seeds"])})
    except (TypeError, KeyError, ValueError, ConfigError) as err:
        raise ConfigError(f"{path / RECORD_FILE}: its recipe cannot be rebuilt ({err})") from None
    if recipe.id != record["recipe_id"]:
        raise ConfigError(
            f"{path / RECORD_FILE}: its recipe hashes to id {recipe.id}, not the recorded {record['recipe_id']}"
        )
    return recipe


def _read_record(path: Path) -> dict[str, Any]:
    file = path / RECORD_FILE
    if not path.is_dir():
        raise ConfigError(f"teacher folder {path} does not exist; make one with `blox-train teacher`")
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} is not a teacher folder: it has no {RECORD_FILE}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {file}: {str(err).splitlines()[0][:120]}") from None
    if not isinstance(record, dict) or record.get("format") != TEACHER_FORMAT:
        raise ConfigError(f"{file} is not a Blox teacher record")
    if record.get("version") != TEACHER_VERSION:
        raise ConfigError(
            f"{file}: teacher record version {record.get('version')!r}; this blox-train reads {TEACHER_VERSION}"
        )
    missing = [
        k
        for k in (
            "model",
            "block_ids",
            "width",
            "resolution",
            "num_classes",
            "recipe",
            "recipe_id",
            "weights",
        )
        if k not in record
    ]
    if missing:
        raise ConfigError(f"{file} lacks {', '.join(missing)}")
    return record


def load_teacher(path: str | Path, *, device: str | torch.device = "cpu") -> Teacher:
    """Load a teacher folder written by :func:`make_teacher`.

    Args:
        path: the teacher folder (``teacher.json`` + ``weights.pt``).
        device: where the model goes.

    Returns:
        A :class:`Teacher` whose model is in eval mode.

    Raises:
        ConfigError: a missing folder or file, a record of another format or version, a
            weights file whose sha256 differs from the record's (damaged or replaced), or
            weights that do not fit the recorded architecture.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     made = make_teacher(0, get_recipe("ci", {"epochs": 1}), out=f"{tmp}/t")
        ...     teacher = load_teacher(f"{tmp}/t")
        >>> teacher.index, teacher.model.training, teacher.sha256 == made.sha256
        (0, False, True)
    """
    path = Path(path)
    record = _read_record(path)
    _recipe_of(record, path)
    weights = path / str(record["weights"].get("file", WEIGHTS_FILE))
    if not weights.is_file():
        raise ConfigError(f"teacher {path} has no weights file {weights.name}")
    sha = _sha256(weights)
    if sha != record["weights"].get("sha256"):
        raise ConfigError(
            f"{weights}: sha256 {sha[:12]}... differs from the recorded {str(record['weights'].get('sha256'))[:12]}...; "
            "the file is damaged or was replaced, make the teacher again"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(weights, map_location="cpu", weights_only=True)
        model = build_model(
            record["block_ids"],
            num_classes=int(record["num_classes"]),
            width=int(record["width"]),
            resolution=int(record["resolution"]),
        )
        model.load_state_dict(state)
    except Exception as err:  # noqa: BLE001 - any unreadable weights are the same user-facing problem
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise ConfigError(f"cannot load teacher weights {weights}: {first[:120]}") from None
    return Teacher(model=model.to(device).eval(), record=record, path=path)


def _existing(out: Path, wanted: Mapping[str, Any]) -> Teacher | None:
    """The teacher already at ``out`` when it is the one asked for; None when ``out`` is
    missing or an empty folder.

    Raises:
        ConfigError: ``out`` is a file, holds something else, or holds another teacher.
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder; give --out a folder for the teacher")
    if not any(out.iterdir()):
        return None
    if not (out / RECORD_FILE).exists():
        raise ConfigError(f"{out} is not empty and holds no teacher; use another --out or delete it")
    record = _read_record(out)
    held = {k: record.get(k) for k in IDENTITY_KEYS}
    if held != dict(wanted):
        diff = ", ".join(
            f"{k} {held[k]!r} (asked {wanted[k]!r})" for k in IDENTITY_KEYS if held[k] != wanted[k]
        )
        raise ConfigError(f"{out} holds another teacher: {diff}; use another --out or delete it")
    return load_teacher(out)


def make_teacher(
    arch: ArchLike,
    recipe: Recipe | str,
    *,
    out: str | Path,
    seed: int | None = None,
    name: str | None = None,
    selector: str | None = None,
    data: DataSplits | None = None,
    data_root: str | Path | None = None,
    download: bool = False,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> Teacher:
    """Train a teacher with the normal-training path and save it to the folder ``out``.

    If ``out`` already holds this teacher (same model, seed, recipe id, dataset and name) it
    is loaded and returned without training (``logger`` says so), so a rerun is cheap.

    Args:
        arch: any architecture form blox-space accepts.
        recipe: a :class:`Recipe` or registered name.
        out: the teacher folder to create (missing or empty).
        seed: model seed; defaults to the recipe's first seed.
        name: the teacher's name, e.g. ``"M1"`` (:data:`blox_space.PAPER_TEACHERS`).
        selector: how the architecture was chosen (e.g. ``"rank:1"``), recorded.
        data, data_root, download, device, num_workers, progress: as for
            :func:`blox_train.train`.

    Returns:
        The :class:`Teacher` as :func:`load_teacher` reads it back.

    Raises:
        ConfigError: ``out`` holds something else or another teacher.
        DivergenceError: the training diverged (no teacher is written; try another recipe).
        blox_space.InvalidArchitectureError, UnknownRecipeError, DatasetNotFoundError: as for
            :func:`blox_train.train`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     teacher = make_teacher("conv>conv | conv | conv", "ci", out=f"{tmp}/t", name="M1")
        ...     files = sorted(p.name for p in teacher.path.iterdir())
        >>> teacher.name, teacher.record["best_epoch"] >= 1, files
        ('M1', True, ['teacher.json', 'weights.pt'])
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    seed = recipe.seeds[0] if seed is None else int(seed)
    index = bs.to_index(arch)
    out = Path(out)
    wanted = {"model": index, "seed": seed, "recipe_id": recipe.id, "dataset": recipe.dataset, "name": name}
    existing = _existing(out, wanted)
    if existing is not None:
        logger.info("%s already holds teacher model %d seed %d; not trained again", out, index, seed)
        return existing
    ckpt_dir = checkpoint_dir_for(out)
    ckpt = ckpt_dir / "teacher.pt"
    result = train(
        index,
        recipe,
        seed=seed,
        data=data,
        data_root=data_root,
        download=download,
        device=device,
        num_workers=num_workers,
        checkpoint=ckpt,
        progress=progress,
    )
    if not result.is_done:
        raise DivergenceError(f"teacher model {index} seed {seed} failed to train: {result.reason}")
    num_classes = int(result.best_state["classifier.weight"].shape[0])
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        torch.save(result.best_state, tmp / WEIGHTS_FILE)
        record = _record(
            result,
            recipe,
            num_classes=num_classes,
            name=name,
            selector=selector,
            sha256=_sha256(tmp / WEIGHTS_FILE),
        )
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ckpt.unlink(missing_ok=True)
    if ckpt_dir.exists() and not any(ckpt_dir.iterdir()):
        ckpt_dir.rmdir()
    return load_teacher(out)
