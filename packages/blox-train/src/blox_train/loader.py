"""Reproducible data loading: every augmented sample is a pure function of (seed, epoch, index).

The sampler draws the epoch's order and one seed per sample from a generator seeded with
``(seed, epoch)``; the dataset wrapper seeds torch's CPU generator with the sample's seed (and
restores it afterwards, so the caller's RNG is untouched) before running the transform. Results therefore
do not depend on the number of workers, and a run resumed at epoch e sees exactly the data an
uninterrupted run would have seen.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["EpochSampler", "SeededTransform", "make_loader", "epoch_seed", "seed_worker"]

_MASK63 = (1 << 63) - 1


def epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    """A 63-bit seed derived from (seed, epoch, stream) with numpy's SeedSequence."""
    return (
        int(
            np.random.SeedSequence([seed, epoch, stream])
            .generate_state(2, dtype=np.uint32)
            .view(np.uint64)[0]
        )
        & _MASK63
    )


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, sample_seed)`` for one epoch, shuffled when asked.

    Args:
        num_samples: dataset length.
        seed: run seed.
        epoch: epoch number (1-based); each epoch has its own order and sample seeds.
        shuffle: permute the order (training) or keep it (evaluation).
    """

    def __init__(self, num_samples: int, *, seed: int, epoch: int, shuffle: bool) -> None:
        self.num_samples, self.seed, self.epoch, self.shuffle = num_samples, seed, epoch, shuffle

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        order = (
            torch.randperm(self.num_samples, generator=gen)
            if self.shuffle
            else torch.arange(self.num_samples)
        )
        seeds = torch.randint(0, 2**62, (self.num_samples,), generator=gen)
        return zip(order.tolist(), seeds.tolist(), strict=True)


class SeededTransform(Dataset):
    """Applies ``transform`` to ``base[index]`` under torch seeded with the sample's seed.

    Keys are ``(index, sample_seed)`` pairs from :class:`EpochSampler`.
    """

    def __init__(self, base: Dataset, transform: Callable | None) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, sample_seed = key
        image, label = self.base[index]
        if self.transform is not None:
            # seed only the CPU generator (torch.manual_seed also reseeds accelerators: ~100x slower)
            state = torch.default_generator.get_state()
            torch.default_generator.manual_seed(sample_seed)
            try:
                image = self.transform(image)
            finally:
                torch.default_generator.set_state(state)
        return image, int(label)


def seed_worker(worker_id: int) -> None:
    """Seed numpy and ``random`` in a worker from torch's per-worker seed (for third-party code)."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def make_loader(
    dataset: Dataset,
    transform: Callable | None,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader over ``dataset`` whose batches depend only on (seed, epoch), not on workers."""
    sampler = EpochSampler(len(dataset), seed=seed, epoch=epoch, shuffle=shuffle)  # type: ignore[arg-type]
    return DataLoader(
        SeededTransform(dataset, transform),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=False,
        worker_init_fn=seed_worker if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(epoch_seed(seed, epoch, stream=1)),
    )
