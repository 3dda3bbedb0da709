"""Fine-tuning students distilled from one teacher's block library (SPEC §5c) into a finetune
shard store.

Each student is :func:`blox_train.assemble_student`: the teacher's stem and classifier plus the
library's stage modules at one snapshot epoch (``distill_epoch``). It is trained by
:func:`blox_train.train` with the teacher (the normal-training loop, data, validation, best-epoch
test metrics and per-epoch checkpoints) on ``(1 - alpha) * CE + alpha * KL(T)``
(:func:`blox_train.fit.kd_loss`), under the teacher's recipe with ``epochs`` set to the FT
length, so the optimizer and its schedule run over those epochs (FT lengths are separate runs:
FT50 is not FT200 stopped at 50). The teacher stays in eval mode and is never changed. The
recorded ``train_loss`` is the loss optimised (the KD loss); validation and test losses are
the cross-entropy.

Rows go to a finetune shard (:func:`blox_space.store.create_finetune_shard`; the benchmark's
arrays, so :func:`blox_space.open_benchmark` reads it) through the shard runner's two halves
(:func:`blox_train.shard.open_or_create_shard`, :func:`blox_train.shard.train_pending`): a
rerun skips finished students and resumes the interrupted one from its checkpoint in
``<out>.ckpt/``, whose names carry a hash of the fine-tuning settings. A shard holding other
settings (teacher, library, distill epoch, FT length, alpha, T) is refused.

Students are trained with the teacher's seed (the store's one ``seed``) unless ``seeds`` says
otherwise. The recipe's ``label_smoothing`` does not enter the KD loss's cross-entropy.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import blox_space as bs
import numpy as np
import torch
from blox_space import NUM_STAGES, parse_models
from blox_space.store import canonical_json, create_finetune_shard

from .data import DataSplits
from .errors import ConfigError
from .fit import KD_ALPHA, KD_TEMPERATURE
from .library import Library, assemble_student, library_teacher, open_library
from .network import BloxNet
from .recipes import RECIPE_ID_VERSION, Recipe
from .shard import PRODUCER, ShardSummary, open_or_create_shard, train_pending
from .teacher import Teacher, load_teacher
from .train import TrainResult, check_kd_settings, train

__all__ = ["finetune_recipe", "finetune_settings", "read_models_file", "run_finetune"]


def finetune_recipe(teacher: Teacher, epochs: int) -> Recipe:
    """The teacher's recipe with ``epochs`` fine-tuning epochs (its schedule over them).

    Raises:
        ConfigError: ``epochs`` out of the recipe's range.
    """
    return teacher.recipe.replace(epochs=int(epochs))


def _check_library(teacher: Teacher, library: Library) -> None:
    ours, theirs = library_teacher(teacher.record), dict(library.teacher)
    if ours != theirs:
        diff = ", ".join(
            f"{k} {theirs.get(k)!r} (teacher {ours[k]!r})" for k in ours if theirs.get(k) != ours[k]
        )
        raise ConfigError(
            f"block library {library.path} was distilled from another teacher than {teacher.path}: {diff}"
        )


def _resolve_distill_epoch(library: Library, models: np.ndarray, distill_epoch: int | None) -> int:
    """The snapshot epoch (default the library's last) after checking every student's blocks
    have it and read back with their sha256 (before the shard is created, so a user mistake
    writes nothing).

    Raises:
        ConfigError: the first block the library lacks at that epoch.
        LibraryError: the first missing or damaged block file.
    """
    epoch = library.last_epoch if distill_epoch is None else int(distill_epoch)
    needed = np.unique(bs.indices_to_blocks(models).reshape(-1, NUM_STAGES), axis=0)
    for stage in range(NUM_STAGES):
        for block in np.unique(needed[:, stage]).tolist():
            library.state(stage, int(block), epoch)
    return epoch


def finetune_settings(
    teacher: Teacher,
    library: Library,
    *,
    distill_epoch: int,
    ft_epochs: int,
    alpha: float,
    temperature: float,
) -> dict[str, Any]:
    """The finetune store's own attributes for these settings (what a rerun must match)."""
    return {
        "teacher": teacher.attrs,
        "library_id": library.distill_id,
        "distill_epoch": int(distill_epoch),
        "ft_epochs": int(ft_epochs),
        "alpha": float(alpha),
        "temperature": float(temperature),
        "teacher_sha256": teacher.sha256,
    }


def run_finetune(
    teacher: str | Path | Teacher,
    library: str | Path | Library,
    models: str | Sequence[int] | np.ndarray,
    *,
    epochs: int,
    out: str | Path,
    distill_epoch: int | None = None,
    alpha: float = KD_ALPHA,
    temperature: float = KD_TEMPERATURE,
    seeds: Sequence[int] | None = None,
    bucket: tuple[int, int] | None = None,
    data_root: str | Path | None = None,
    download: bool = False,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
    build: Callable[[BloxNet], torch.nn.Module] | None = None,
) -> ShardSummary:
    """Fine-tune every student of a bucket from a teacher's block library into the shard ``out``.

    Args:
        teacher: a teacher folder (:func:`blox_train.make_teacher`) or a loaded :class:`Teacher`.
        library: a block library folder (``blox-train distill``) or an opened :class:`Library`.
        models: a model spec (see :func:`blox_space.parse_models`) or indices of the students.
        epochs: the FT length (fine-tuning epochs).
        out: the finetune shard store (``.zarr``); created if missing, resumed if present.
        distill_epoch: the library snapshot the students' blocks are taken at (default: the
            library's last).
        alpha: weight of the KL term, in [0, 1] (SPEC 0.9).
        temperature: softmax temperature T > 0 (SPEC 1).
        seeds: fine-tuning seeds (data order; default the teacher's seed).
        bucket: ``(index, count)`` recorded for the merge's completeness check.
        data_root, download, device, num_workers, progress: as for :func:`blox_train.train`.
        build: wraps each assembled student (tests: e.g. a module that fails on cue).

    Returns:
        A :class:`~blox_train.shard.ShardSummary`.

    Raises:
        ConfigError: a missing or damaged teacher, a library of another teacher, a student
            block or distill epoch the library lacks, alpha outside [0, 1], a temperature
            <= 0, an FT length out of range, or ``out`` holding other settings.
        LibraryError: a missing or damaged library file (a ConfigError).

    Example:
        >>> import tempfile
        >>> from blox_train import get_recipe, make_teacher
        >>> from blox_train.library import save_library_block
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     teacher = make_teacher(0, get_recipe("ci", {"epochs": 1}), out=f"{tmp}/teacher")
        ...     for s, stage in enumerate(teacher.model.stages):  # the teacher's own blocks
        ...         _ = save_library_block(f"{tmp}/lib", s, 0, 1, stage.state_dict(),
        ...                                teacher=teacher.record, distill_id="d")
        ...     summary = run_finetune(teacher, f"{tmp}/lib", [0], epochs=1, out=f"{tmp}/ft.zarr")
        >>> summary.num_runs, summary.num_trained, summary.num_failed
        (1, 1, 0)
    """
    start = time.perf_counter()
    check_kd_settings(alpha, temperature)
    teacher = teacher if isinstance(teacher, Teacher) else load_teacher(teacher)
    library = library if isinstance(library, Library) else open_library(library)
    _check_library(teacher, library)
    recipe = finetune_recipe(teacher, epochs)
    recipe = recipe.replace(seeds=tuple(seeds) if seeds is not None else (teacher.seed,))
    indices = parse_models(models)
    distill_epoch = _resolve_distill_epoch(library, indices, distill_epoch)
    settings = finetune_settings(
        teacher,
        library,
        distill_epoch=distill_epoch,
        ft_epochs=recipe.epochs,
        alpha=alpha,
        temperature=temperature,
    )
    out = Path(out)
    fixed = {k: settings[k] for k in ("library_id", "distill_epoch", "alpha", "temperature")}
    group = open_or_create_shard(
        out,
        indices,
        recipe,
        kind="finetune",
        settings=settings,
        create=lambda: create_finetune_shard(
            out,
            indices,
            seeds=recipe.seeds,
            epochs=recipe.epochs,
            recipe_id=recipe.id,
            recipe=recipe.to_dict(),
            dataset=recipe.dataset,
            teacher=settings["teacher"],
            **fixed,
            bucket=bucket,
            attrs={"recipe_id_version": RECIPE_ID_VERSION, "teacher_sha256": teacher.sha256},
            producer=PRODUCER,
        ),
    )
    tag = hashlib.sha256(canonical_json(settings).encode()).hexdigest()[:12]

    def student(index: int, **_geometry: int) -> torch.nn.Module:
        model = assemble_student(teacher.model, library, index, epoch=distill_epoch)
        return model if build is None else build(model)

    def train_one(model: int, seed: int, data: DataSplits, ckpt: Path) -> TrainResult:
        return train(
            model,
            recipe,
            seed=seed,
            data=data,
            device=device,
            num_workers=num_workers,
            checkpoint=ckpt,
            progress=progress,
            build=student,
            teacher=teacher.model,
            alpha=alpha,
            temperature=temperature,
        )

    return train_pending(
        group,
        out,
        recipe,
        train_one,
        data_root=data_root,
        download=download,
        progress=progress,
        checkpoint_tag=f"-ft-{tag}",
        start=start,
    )


def read_models_file(path: str | Path) -> np.ndarray:
    """The model indices of a JSON file: the ``"models"`` list ``blox-space select`` writes, or
    a plain list (sorted, unique).

    Raises:
        ConfigError: a missing or unreadable file, or no list of model indices in it.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"models file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"cannot read models file {path}: {str(err).splitlines()[0][:100]}") from None
    models = data.get("models") if isinstance(data, dict) else data
    if not isinstance(models, list) or not models:
        raise ConfigError(f"models file {path} needs a non-empty list, or an object with a 'models' list")
    if not all(isinstance(m, int) and not isinstance(m, bool) for m in models):
        raise ConfigError(f"models file {path}: the models must be integer model indices")
    return parse_models(models)
