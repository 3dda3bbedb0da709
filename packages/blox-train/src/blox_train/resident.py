"""Device-resident data with batched augmentation: the fast path for GPUs (and small CPU sets).

The whole split lives on the training device as uint8 ``(N, 3, R, R)``; each batch is drawn,
augmented and normalised there in a few tensor ops, with a generator seeded by (seed, epoch),
so no per-sample Python runs. Batched augmentations are named ``batch-*``; they are not the
paper's pipeline (there is no batched RandAugment), so recipes using them are separate recipes
with their own ids and are never mixed with ``paper``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset, Subset, TensorDataset

from .augment import PAPER_CROP_PADDING, PAPER_CUTOUT_LENGTH, PAPER_FLIP_P, ToFloatTensor
from .loader import epoch_seed

__all__ = ["BATCH_AUGMENTATIONS", "ResidentSplit", "to_resident", "resident_batches", "is_batched"]

#: Batched augmentations: (flip probability, crop padding, cutout length); 0 = off.
BATCH_AUGMENTATIONS: dict[str, tuple[float, int, int]] = {
    "batch-flip-crop-cutout": (PAPER_FLIP_P, PAPER_CROP_PADDING, PAPER_CUTOUT_LENGTH),
    "batch-crop": (0.0, -1, 0),  # padding -1 = resolution // 8, as the per-sample "crop"
    "batch-none": (0.0, 0, 0),
}


def is_batched(augment: str) -> bool:
    """Whether ``augment`` runs batched on the device (a ``batch-*`` name)."""
    return augment in BATCH_AUGMENTATIONS


@dataclass(frozen=True)
class ResidentSplit:
    """One split on the device: uint8 images (N, 3, R, R) and int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _raw_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[0], dataset.tensors[1]
    if (
        isinstance(dataset, Subset)
        and hasattr(dataset.dataset, "data")
        and hasattr(dataset.dataset, "targets")
    ):
        index = np.asarray(dataset.indices)  # torchvision CIFAR: data (N, H, W, 3) uint8
        images = torch.from_numpy(np.asarray(dataset.dataset.data)[index]).permute(0, 3, 1, 2)
        return images, torch.as_tensor(np.asarray(dataset.dataset.targets)[index])
    if hasattr(dataset, "data") and hasattr(dataset, "targets"):
        return torch.from_numpy(np.asarray(dataset.data)).permute(0, 3, 1, 2), torch.as_tensor(
            dataset.targets
        )
    to_tensor = ToFloatTensor()
    pairs = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    images = torch.stack([(to_tensor(img) * 255).round().to(torch.uint8) for img, _ in pairs])
    return images, torch.as_tensor([int(label) for _, label in pairs])


def to_resident(dataset: Dataset, *, resolution: int, device: torch.device) -> ResidentSplit:
    """Copy a split to ``device`` as uint8, resized to ``resolution`` if needed."""
    images, labels = _raw_tensors(dataset)
    images = images.contiguous()
    if images.shape[-1] != resolution or images.shape[-2] != resolution:
        images = (
            F.interpolate(
                images.float(),
                size=(resolution, resolution),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
            .round()
            .clamp(0, 255)
            .to(torch.uint8)
        )
    return ResidentSplit(images.to(device), labels.to(device=device, dtype=torch.int64))


def _augment(x: torch.Tensor, augment: str, gen: torch.Generator) -> torch.Tensor:
    """Flip, pad-and-crop on uint8/float (N, C, H, W) with draws from ``gen``."""
    flip_p, padding, _ = BATCH_AUGMENTATIONS[augment]
    n, _, h, w = x.shape
    device = x.device
    if flip_p > 0:
        flip = torch.rand(n, generator=gen, device=device) < flip_p
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if padding:
        pad = max(h // 8, 1) if padding < 0 else padding
        padded = F.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=device)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=device)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
        batch = torch.arange(n, device=device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=device)[None, :, None, None]
        x = padded[batch, chans, rows, cols]
    return x


def _cutout(x: torch.Tensor, length: int, gen: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=gen, device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=gen, device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    half = length // 2
    hole = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half)
    return x.masked_fill(hole[:, None], 0.0)


def resident_batches(
    split: ResidentSplit,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool,
    augment: str | None,
    mean: Sequence[float],
    std: Sequence[float],
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Normalised float batches of a resident split; augmented when ``augment`` is given.

    Shapes:
        yields images (B, 3, R, R) float32 and labels (B,) int64, on the split's device.
    """
    device = split.images.device
    gen = torch.Generator(device=device).manual_seed(epoch_seed(seed, epoch, stream=2))
    n = len(split)
    order = torch.randperm(n, generator=gen, device=device) if shuffle else torch.arange(n, device=device)
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=device)[None, :, None, None]
    std_t = torch.as_tensor(std, dtype=torch.float32, device=device)[None, :, None, None]
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        x = split.images[index]
        if augment is not None:
            x = _augment(x, augment, gen)
        x = (x.float() / 255.0 - mean_t) / std_t
        if augment is not None and BATCH_AUGMENTATIONS[augment][2]:
            x = _cutout(x, BATCH_AUGMENTATIONS[augment][2], gen)
        yield x, split.labels[index]
