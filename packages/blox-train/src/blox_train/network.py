"""The Blox network: stem, three stages (cell + reduction), pool and linear head (facts §2).

A *stage* is the distillation unit: the cell at C channels followed by its reduction to 2C
channels at half the resolution. Stages can be read out (``forward_features``) and swapped
for any module of the same signature (``replace_stage``).
"""

from __future__ import annotations

import copy

import blox_space as bs
import torch
from blox_space import BLOCKS, NUM_STAGES, ArchLike, Block, Geometry
from blox_space.geometry import MIN_RESOLUTION, MIN_WIDTH, SCALING
from torch import nn

from .errors import ConfigError
from .ops import ConvBNReLU, Reduction, make_op

__all__ = ["Cell", "Stage", "BloxNet", "build_model", "stage_shapes", "MIN_RESOLUTION", "MIN_WIDTH"]


class Cell(nn.Module):
    """One of the 45 blocks at C channels, computed from its minimised node list.

    Each node ``(op, prev, input, sc)`` reads ``prev`` (the previous node's output, the cell
    input for node 0), the cell input, or their sum; with ``sc`` the previous node's output is
    added to its result. The cell output is the last node's output.

    Args:
        block: a :class:`blox_space.Block` or block id 0..44.
        channels: C.

    Shapes:
        x: (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, block: Block | int, channels: int) -> None:
        super().__init__()
        if not isinstance(block, Block):
            if not 0 <= int(block) < len(BLOCKS):
                raise ValueError(f"Cell: block id {block} is out of range 0..{len(BLOCKS) - 1}")
            block = BLOCKS[int(block)]
        self.block = block
        self.channels = channels
        self.flags = tuple((bool(p), bool(i), bool(s)) for _, p, i, s in block.nodes)
        self.ops = nn.ModuleList(make_op(op, channels) for op, *_ in block.nodes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = x
        for op, (reads_prev, reads_input, has_sc) in zip(self.ops, self.flags, strict=True):
            if reads_prev and reads_input:
                out = op(prev + x)
            else:
                out = op(prev if reads_prev else x)
            prev = out + prev if has_sc else out
        return prev

    def extra_repr(self) -> str:
        return f"block={self.block.id} ({self.block.name}), channels={self.channels}"


class Stage(nn.Sequential):
    """Cell at C channels followed by the reduction to 2C channels.

    Args:
        block: block id or :class:`blox_space.Block`.
        channels: C.

    Shapes:
        x: (N, C, H, W) -> (N, 2C, H/2, W/2)
    """

    def __init__(self, block: Block | int, channels: int) -> None:
        super().__init__()
        self.cell = Cell(block, channels)
        self.reduction = Reduction(channels, channels * SCALING)


class BloxNet(nn.Module):
    """A Blox model: stem, 3 stages, global average pool and a linear classifier.

    Build it with :func:`build_model`.

    Args:
        block_ids: one block id per stage.
        num_classes: classifier outputs.
        width: stem channels C; stage s runs at ``C * 2**s`` channels.
        resolution: input height and width the model is meant for (used for MAC counts).

    Shapes:
        x: (N, 3, R, R) -> logits (N, num_classes)
    """

    def __init__(self, block_ids: tuple[int, ...], *, num_classes: int, width: int, resolution: int) -> None:
        super().__init__()
        if len(block_ids) != NUM_STAGES:
            raise ValueError(f"BloxNet: need {NUM_STAGES} block ids, got {len(block_ids)}")
        try:
            geometry = Geometry(width=width, resolution=resolution, num_classes=num_classes)
        except ValueError as err:
            raise ValueError(f"BloxNet: {err}") from None
        self.block_ids = tuple(int(b) for b in block_ids)
        self.geometry = geometry
        self.num_classes, self.width, self.resolution = (
            geometry.num_classes,
            geometry.width,
            geometry.resolution,
        )
        self.stem = ConvBNReLU(3, width, 3, padding=1)
        self.stages = nn.ModuleList(Stage(b, width * SCALING**s) for s, b in enumerate(self.block_ids))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(width * SCALING**NUM_STAGES, num_classes)

    def reset_parameters(self) -> None:
        """Re-draw every weight with PyTorch's default initialisation and reset BN statistics
        (the original's ``reset_parameters`` crashed on ``nn.Sequential``, facts §7.14)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    @property
    def index(self) -> int:
        """The model index ``b0 + 45*b1 + 2025*b2``."""
        return bs.to_index(self.block_ids)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Pool and classify the last stage's output: (N, 8C, R/8, R/8) -> (N, num_classes)."""
        return self.classifier(self.flatten(self.pool(features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Each stage's input and output, for blockwise distillation.

        Returns:
            ``(inputs, outputs)``: two lists of 3 tensors; stage s maps
            (N, C_s, H_s, W_s) to (N, 2 C_s, H_s/2, W_s/2).
        """
        inputs, outputs = [], []
        x = self.stem(x)
        for stage in self.stages:
            inputs.append(x)
            x = stage(x)
            outputs.append(x)
        return inputs, outputs

    def replace_stage(self, stage: int, module: nn.Module) -> BloxNet:
        """A new model whose stage ``stage`` is ``module``; all other modules are shared.

        ``module`` must map the stage's input shape to its output shape (see
        :func:`stage_shapes`). The original model is not changed.

        Raises:
            ConfigError: stage outside 0..2.
        """
        if not 0 <= stage < NUM_STAGES:
            raise ConfigError(f"stage {stage} is out of range; stages are 0..{NUM_STAGES - 1}")
        new = copy.copy(self)
        new._modules = dict(self._modules)
        new.stages = nn.ModuleList(module if s == stage else m for s, m in enumerate(self.stages))
        return new

    def extra_repr(self) -> str:
        return f"block_ids={self.block_ids}, width={self.width}, resolution={self.resolution}"


def stage_shapes(
    *, width: int = 32, resolution: int = 32
) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """Per-stage ``((C, H, W) in, (C, H, W) out)`` shapes of a model (batch dimension left out);
    :meth:`blox_space.Geometry.stage_shapes`.

    Raises:
        InvalidGeometryError: width or resolution out of range.

    Example:
        >>> stage_shapes()[0]
        ((32, 32, 32), (64, 16, 16))
    """
    return Geometry(width=width, resolution=resolution).stage_shapes()


def build_model(arch: ArchLike, *, num_classes: int = 100, width: int = 32, resolution: int = 32) -> BloxNet:
    """Build the PyTorch model of any architecture form blox-space accepts.

    Args:
        arch: model index, block-id triple, arch vector, hash or readable name.
        num_classes: classifier outputs (100 for CIFAR-100).
        width: stem channels (32 in the paper); stages run at C, 2C, 4C, the head sees 8C.
        resolution: input size in pixels (32 in the paper); at least 8.

    Returns:
        A :class:`BloxNet` with PyTorch default initialisation (seed torch before calling
        for reproducible weights).

    Raises:
        blox_space.InvalidArchitectureError: arch is not one of the 91,125 models.
        InvalidGeometryError: (a ConfigError) width, resolution or num_classes out of range.

    Example:
        >>> model = build_model("conv>conv | conv>conv | conv>conv")
        >>> sum(p.numel() for p in model.parameters())
        2917604
    """
    block_ids = bs.to_blocks(arch)
    Geometry(
        width=width, resolution=resolution, num_classes=num_classes
    )  # InvalidGeometryError (a ConfigError)
    return BloxNet(block_ids, num_classes=num_classes, width=width, resolution=resolution)
