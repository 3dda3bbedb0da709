"""Batches of a dataset's splits the way a recipe asks for them, for normal training and
distillation alike: resident on the device with batched augmentation when the recipe's
augmentation is a batched one (the GPU fast path), else a seeded :func:`make_loader`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

from .augment import eval_transform, train_transform
from .data import DataSplits
from .loader import make_loader
from .recipes import Recipe
from .resident import is_batched, resident_batches, to_resident

__all__ = ["split_batches"]


def split_batches(
    data: DataSplits,
    recipe: Recipe,
    *,
    resolution: int,
    seed: int,
    device: torch.device,
    num_workers: int = 0,
    splits: Sequence[str] = ("train", "val", "test"),
) -> Callable[[str, int], Iterable]:
    """``batches(split, epoch)``: the batches of one split in one epoch.

    The train split is shuffled and augmented with the recipe's augmentation at
    ``recipe.batch_size``; the others are evaluated in order at ``recipe.eval_batch_size``.
    Order and augmentation depend only on (seed, epoch, sample), never on the worker count.

    Args:
        data: the dataset's splits.
        recipe: batch sizes and augmentation.
        resolution: image side the batches have.
        seed: seed of the order and the augmentation.
        device: where the batches go (resident data lives there).
        num_workers: DataLoader workers (ignored by resident data).
        splits: the splits to prepare (resident data is copied to the device once).
    """
    sources = {name: getattr(data, name) for name in splits}
    if is_batched(recipe.augment):
        resident = {
            name: to_resident(split, resolution=resolution, device=device) for name, split in sources.items()
        }

        def batches(split: str, epoch: int) -> Iterable:
            is_train = split == "train"
            return resident_batches(
                resident[split], batch_size=recipe.batch_size if is_train else recipe.eval_batch_size, seed=seed,
                epoch=epoch, shuffle=is_train, augment=recipe.augment if is_train else None, mean=data.mean,
                std=data.std,
            )  # fmt: skip

        return batches
    geometry = dict(
        resolution=resolution, native_resolution=data.native_resolution, mean=data.mean, std=data.std
    )
    evaluate = eval_transform(**geometry)
    transforms = {
        name: train_transform(recipe.augment, **geometry) if name == "train" else evaluate for name in splits
    }

    def loader(split: str, epoch: int) -> Iterable:
        is_train = split == "train"
        return make_loader(
            sources[split], transforms[split], batch_size=recipe.batch_size if is_train else recipe.eval_batch_size,
            seed=seed, epoch=epoch, shuffle=is_train, num_workers=num_workers, pin_memory=device.type == "cuda",
        )  # fmt: skip

    return loader
