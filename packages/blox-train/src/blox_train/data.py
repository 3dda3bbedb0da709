"""Datasets by name: ``cifar100``, ``cifar10``, ``digits``, ``imagefolder`` and ``synthetic``.

Each loader returns a :class:`DataSplits` of three torch datasets yielding ``(image, label)``
with raw images (PIL, or uint8 ``(3, H, W)`` tensors); transforms are applied later by the
trainer, from the recipe. CIFAR uses the paper's seeded 45,000 / 5,000 split of the training
set (facts §4.4) and the official test set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from blox_space import Registry
from torch.utils.data import Dataset, Subset, TensorDataset

from .errors import DatasetNotFoundError, UnknownDatasetError

__all__ = [
    "DataSplits",
    "register_dataset",
    "get_dataset_loader",
    "list_datasets",
    "load_dataset",
    "paper_split",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
]

logger = logging.getLogger(__name__)

#: facts §4.2 normalisation (the release used CIFAR-100 statistics; CIFAR-10 uses the same).
CIFAR100_MEAN = (0.5070588235294118, 0.48666666666666664, 0.4407843137254902)
CIFAR100_STD = (0.26745098039215687, 0.2564705882352941, 0.27607843137254906)
#: facts §4.4: fraction of the CIFAR training set used for training; the rest validates.
PAPER_TRAIN_PORTION = 0.9


@dataclass(frozen=True)
class DataSplits:
    """Train, validation and test sets of one dataset plus what transforms need.

    Attributes:
        name: registered dataset name (recorded in every store).
        train, val, test: datasets of ``(image, label)``; images are PIL or uint8 (3, H, W).
        num_classes: number of labels.
        native_resolution: side of the stored images in pixels.
        mean, std: per-channel normalisation.
    """

    name: str
    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int
    native_resolution: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


DatasetLoader = Callable[..., DataSplits]
#: Every dataset loader by name (STYLE §3); filled by :func:`register_dataset` at import.
DATASETS: Registry[DatasetLoader] = Registry("dataset", UnknownDatasetError)


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    """Register a loader ``(root, *, resolution, split_seed, download) -> DataSplits``; a
    duplicate name raises ValueError."""
    return DATASETS.register(name)


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered dataset names matching a shell-style ``pattern``, sorted."""
    return DATASETS.list(pattern)


def get_dataset_loader(name: str) -> DatasetLoader:
    """The loader registered as ``name``.

    Raises:
        UnknownDatasetError: unknown name (the message lists the known ones and close matches).
    """
    return DATASETS.get(name)


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    resolution: int = 32,
    split_seed: int = 0,
    download: bool = False,
) -> DataSplits:
    """Load a registered dataset.

    Args:
        name: one of :func:`list_datasets`.
        root: folder holding the data (CIFAR: torchvision's layout; imagefolder: the image
            tree). Ignored by ``digits`` and ``synthetic``.
        resolution: side the model expects; tensor datasets are stored at this size.
        split_seed: seed of the train/validation split (0 = the paper's split).
        download: let torchvision download CIFAR when it is missing (needs network).

    Raises:
        UnknownDatasetError: unknown name.
        DatasetNotFoundError: the local copy is missing or corrupt; the message says how to
            get it.

    Example:
        >>> splits = load_dataset("digits", resolution=16)
        >>> len(splits.train) + len(splits.val) + len(splits.test), splits.num_classes
        (1797, 10)
    """
    loader = get_dataset_loader(name)
    return loader(root, resolution=resolution, split_seed=split_seed, download=download)


def paper_split(
    num_images: int = 50_000, *, seed: int = 0, train_portion: float = PAPER_TRAIN_PORTION
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's train/validation indices into the CIFAR training set (facts §4.4).

    A legacy ``RandomState(seed)`` permutation: the first ``train_portion`` of it trains,
    the rest validates.

    Example:
        >>> train, val = paper_split()
        >>> train[:5].tolist(), val[:5].tolist()
        ([11841, 19602, 45519, 25747, 42642], [43726, 16118, 49381, 35715, 14489])
    """
    perm = np.random.RandomState(seed).permutation(num_images)
    num_train = int(np.floor(train_portion * num_images))
    return perm[:num_train], perm[num_train:]


# ---------------------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------------------
_CIFAR_URLS = {
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}


def _cifar(name: str, root: str | Path | None, split_seed: int, download: bool) -> DataSplits:
    from torchvision import datasets

    cls = {"cifar100": datasets.CIFAR100, "cifar10": datasets.CIFAR10}[name]
    root = Path(root if root is not None else "data").expanduser()
    try:
        train_full = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as err:
        raise DatasetNotFoundError(
            f"{name} not found or corrupt under {root} ({err}); download and extract "
            f"{_CIFAR_URLS[name]} into {root}, or pass --download on a machine with network"
        ) from None
    train_idx, val_idx = paper_split(len(train_full), seed=split_seed)
    return DataSplits(
        name=name,
        train=Subset(train_full, train_idx.tolist()),
        val=Subset(train_full, val_idx.tolist()),
        test=test,
        num_classes=len(train_full.classes),
        native_resolution=32,
        mean=CIFAR100_MEAN,
        std=CIFAR100_STD,
    )


@register_dataset("cifar100")
def cifar100(root: str | Path | None, *, resolution: int, split_seed: int, download: bool) -> DataSplits:
    """CIFAR-100 from torchvision's layout under ``root`` (default ``./data``)."""
    return _cifar("cifar100", root, split_seed, download)


@register_dataset("cifar10")
def cifar10(root: str | Path | None, *, resolution: int, split_seed: int, download: bool) -> DataSplits:
    """CIFAR-10 from torchvision's layout under ``root`` (default ``./data``)."""
    return _cifar("cifar10", root, split_seed, download)


# ---------------------------------------------------------------------------------------
# tensor datasets: digits and synthetic
# ---------------------------------------------------------------------------------------
#: digits and synthetic: fractions of the images for (train, val, test); stratified.
TENSOR_FRACTIONS = (0.6, 0.2, 0.2)


def _stratified_pair(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices split into (1 - fraction, fraction), stratified by label, seeded."""
    from sklearn.model_selection import train_test_split

    first, second = train_test_split(
        np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed
    )
    return np.sort(first), np.sort(second)


def _stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Indices split into (train, val, test) by ``fractions``, stratified by label, seeded."""
    rest, test = _stratified_pair(labels, fractions[2], seed)
    train, val = _stratified_pair(labels[rest], fractions[1] / (fractions[0] + fractions[1]), seed)
    return [rest[train], rest[val], test]


def _tensor_splits(
    name: str, images: torch.Tensor, labels: np.ndarray, num_classes: int, split_seed: int
) -> DataSplits:
    """uint8 (N, 3, R, R) images -> stratified splits normalised with train-set statistics."""
    train, val, test = _stratified_split(labels, TENSOR_FRACTIONS, split_seed)
    targets = torch.as_tensor(labels, dtype=torch.int64)
    pixels = images[torch.as_tensor(train)].to(torch.float64) / 255.0
    mean = tuple(float(v) for v in pixels.mean(dim=(0, 2, 3)))
    std = tuple(float(max(v, 1e-3)) for v in pixels.std(dim=(0, 2, 3)))
    sets = [
        TensorDataset(images[torch.as_tensor(i)], targets[torch.as_tensor(i)]) for i in (train, val, test)
    ]
    return DataSplits(
        name, *sets, num_classes=num_classes, native_resolution=images.shape[-1], mean=mean, std=std
    )


@register_dataset("digits")
def digits(root: str | Path | None, *, resolution: int, split_seed: int, download: bool) -> DataSplits:
    """scikit-learn's 1,797 real 8x8 handwritten digits, resized to ``resolution``, 3 channels.

    Stratified 60/20/20 train/val/test split seeded with ``split_seed``; offline.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    gray = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
    if resolution != gray.shape[-1]:
        gray = torch.nn.functional.interpolate(
            gray, size=(resolution, resolution), mode="bilinear", align_corners=False
        )
    images = (gray.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    return _tensor_splits("digits", images, bunch.target.astype(np.int64), 10, split_seed)


#: synthetic: images, classes and the seed of the generated data (fixed: the data never changes).
SYNTHETIC_SIZE, SYNTHETIC_CLASSES, SYNTHETIC_SEED = 600, 10, 1234


@register_dataset("synthetic")
def synthetic(root: str | Path | None, *, resolution: int, split_seed: int, download: bool) -> DataSplits:
    """Generated data for tests and benchmarks: noisy class prototypes, always the same images."""
    gen = torch.Generator().manual_seed(SYNTHETIC_SEED)
    prototypes = torch.rand(SYNTHETIC_CLASSES, 3, resolution, resolution, generator=gen)
    labels = torch.arange(SYNTHETIC_SIZE) % SYNTHETIC_CLASSES
    noise = torch.rand(SYNTHETIC_SIZE, 3, resolution, resolution, generator=gen)
    images = ((0.6 * prototypes[labels] + 0.4 * noise) * 255).round().to(torch.uint8)
    return _tensor_splits("synthetic", images, labels.numpy(), SYNTHETIC_CLASSES, split_seed)


# ---------------------------------------------------------------------------------------
# imagefolder
# ---------------------------------------------------------------------------------------
#: imagefolder without split folders: fractions of (train, val, test), stratified.
IMAGEFOLDER_FRACTIONS = (0.8, 0.1, 0.1)
IMAGEFOLDER_MEAN = IMAGEFOLDER_STD = (0.5, 0.5, 0.5)


@register_dataset("imagefolder")
def imagefolder(root: str | Path | None, *, resolution: int, split_seed: int, download: bool) -> DataSplits:
    """Any folder tree of images, one sub-folder per class (torchvision ``ImageFolder``).

    With ``train/`` and ``test/`` (and optionally ``val/``) sub-folders those are used; otherwise
    one tree is split 80/10/10, stratified and seeded. Images are resized to ``resolution``
    by the transforms (``native_resolution`` is 0 to say "always resize").
    """
    from torchvision.datasets import ImageFolder

    if root is None or not Path(root).is_dir():
        raise DatasetNotFoundError(
            f"imagefolder needs --data-root pointing at a folder of class sub-folders, got {root}"
        )
    root = Path(root)
    try:
        if (root / "train").is_dir() and (root / "test").is_dir():
            train = ImageFolder(str(root / "train"))
            test = ImageFolder(str(root / "test"))
            if (root / "val").is_dir():
                return DataSplits(
                    "imagefolder",
                    train,
                    ImageFolder(str(root / "val")),
                    test,
                    len(train.classes),
                    0,
                    IMAGEFOLDER_MEAN,
                    IMAGEFOLDER_STD,
                )
            tr, va = _stratified_pair(np.asarray(train.targets), IMAGEFOLDER_FRACTIONS[1], split_seed)
            return DataSplits(
                "imagefolder",
                Subset(train, tr.tolist()),
                Subset(train, va.tolist()),
                test,
                len(train.classes),
                0,
                IMAGEFOLDER_MEAN,
                IMAGEFOLDER_STD,
            )
        full = ImageFolder(str(root))
    except (FileNotFoundError, RuntimeError) as err:
        raise DatasetNotFoundError(f"no usable images under {root}: {err}") from None
    parts = _stratified_split(np.asarray(full.targets), IMAGEFOLDER_FRACTIONS, split_seed)
    train_ds, val, test = (Subset(full, p.tolist()) for p in parts)
    return DataSplits(
        "imagefolder", train_ds, val, test, len(full.classes), 0, IMAGEFOLDER_MEAN, IMAGEFOLDER_STD
    )
