"""Image transforms: the paper's augmentation (facts §4.3), lighter ones for presets, and
the evaluation transform. Pipelines are built by name, so a recipe names its augmentation.

Randomness comes from torch's generator only (RandAugment, crop, flip and Cutout all draw
from it); :mod:`blox_train.loader` seeds it per sample, which makes every augmented image a
pure function of (seed, epoch, sample) whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T
from torchvision.transforms import functional as F

from .errors import ConfigError

__all__ = [
    "ToFloatTensor",
    "Cutout",
    "AUGMENTATIONS",
    "train_transform",
    "eval_transform",
    "PAPER_RANDAUGMENT_OPS",
    "PAPER_RANDAUGMENT_MAGNITUDE",
    "PAPER_CROP_PADDING",
    "PAPER_CUTOUT_LENGTH",
]

#: facts §4.2/§4.3: RandAugment(num_ops=2, magnitude=14), flip 0.5, crop padding 4, Cutout 16.
PAPER_RANDAUGMENT_OPS = 2
PAPER_RANDAUGMENT_MAGNITUDE = 14
PAPER_FLIP_P = 0.5
PAPER_CROP_PADDING = 4
PAPER_CUTOUT_LENGTH = 16


class ToFloatTensor(nn.Module):
    """PIL image or uint8 tensor -> float tensor in [0, 1] (``ToTensor`` for both inputs).

    Shapes:
        img: PIL (H, W) RGB or uint8 (3, H, W) -> float32 (3, H, W)
    """

    def forward(self, img: Image.Image | torch.Tensor) -> torch.Tensor:
        if isinstance(img, Image.Image):
            img = F.pil_to_tensor(img.convert("RGB"))
        return img.to(torch.float32).div_(255.0) if img.dtype == torch.uint8 else img.to(torch.float32)


class Cutout(nn.Module):
    """Zero one ``length`` x ``length`` square (clipped at the borders) of a normalised image.

    The centre is drawn uniformly over the whole image with torch's generator; zero is the
    channel mean after normalisation. Applied to every image, as in the original.

    Args:
        length: side of the square in pixels (16 in the paper).

    Shapes:
        img: (C, H, W) -> (C, H, W)
    """

    def __init__(self, length: int) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f"Cutout: length must be >= 1, got {length}")
        self.length = length

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        cy = int(torch.randint(h, ()).item())
        cx = int(torch.randint(w, ()).item())
        half = self.length // 2
        y0, y1 = max(cy - half, 0), min(cy + half, h)
        x0, x1 = max(cx - half, 0), min(cx + half, w)
        img = img.clone()
        img[..., y0:y1, x0:x1] = 0.0
        return img

    def extra_repr(self) -> str:
        return f"length={self.length}"


def _normalise(mean: Sequence[float], std: Sequence[float]) -> list[Callable]:
    return [ToFloatTensor(), T.Normalize(mean, std)]


def _resize(resolution: int, native: int) -> list[Callable]:
    return [] if resolution == native else [T.Resize((resolution, resolution), antialias=True)]


def _paper(resolution: int, mean: Sequence[float], std: Sequence[float]) -> list[Callable]:
    return [
        T.RandAugment(num_ops=PAPER_RANDAUGMENT_OPS, magnitude=PAPER_RANDAUGMENT_MAGNITUDE),
        T.RandomHorizontalFlip(p=PAPER_FLIP_P),
        T.RandomCrop(resolution, padding=PAPER_CROP_PADDING),
        *_normalise(mean, std),
        Cutout(PAPER_CUTOUT_LENGTH),
    ]


def _crop_flip(resolution: int, mean: Sequence[float], std: Sequence[float]) -> list[Callable]:
    return [
        T.RandomHorizontalFlip(p=0.5),
        T.RandomCrop(resolution, padding=max(resolution // 8, 1)),
        *_normalise(mean, std),
    ]


def _crop(resolution: int, mean: Sequence[float], std: Sequence[float]) -> list[Callable]:
    # no flip: digits are not mirror-symmetric
    return [T.RandomCrop(resolution, padding=max(resolution // 8, 1)), *_normalise(mean, std)]


def _none(resolution: int, mean: Sequence[float], std: Sequence[float]) -> list[Callable]:
    return _normalise(mean, std)


#: Training augmentations by name (applied after resizing to the recipe's resolution).
AUGMENTATIONS: dict[str, Callable[[int, Sequence[float], Sequence[float]], list[Callable]]] = {
    "paper": _paper,
    "crop-flip": _crop_flip,
    "crop": _crop,
    "none": _none,
}


def train_transform(
    augment: str, *, resolution: int, native_resolution: int, mean: Sequence[float], std: Sequence[float]
) -> T.Compose:
    """The training pipeline ``augment`` at ``resolution``.

    ``paper`` is RandAugment(2, 14) -> RandomHorizontalFlip(0.5) -> RandomCrop(R, padding 4)
    -> to float -> Normalize -> Cutout(16), in this order (facts §4.3).

    Raises:
        ConfigError: unknown augmentation name (the message lists the known ones).
    """
    try:
        build = AUGMENTATIONS[augment]
    except KeyError:
        raise ConfigError(
            f"unknown augmentation {augment!r}; known augmentations: {', '.join(AUGMENTATIONS)}"
        ) from None
    return T.Compose([*_resize(resolution, native_resolution), *build(resolution, mean, std)])


def eval_transform(
    *, resolution: int, native_resolution: int, mean: Sequence[float], std: Sequence[float]
) -> T.Compose:
    """Validation and test pipeline: (resize) -> to float -> Normalize."""
    return T.Compose([*_resize(resolution, native_resolution), *_normalise(mean, std)])
