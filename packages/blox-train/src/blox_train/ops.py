"""The three ops of a cell and the fixed reduction, exactly as in the original network.

Every ``Conv2d`` keeps its bias even before BatchNorm (facts §2, §7.15): it changes the
parameter and MAC counts the benchmark records. Weights use PyTorch's default
initialisation; no custom init is applied.
"""

from __future__ import annotations

import torch
from blox_space import OPS
from torch import nn

__all__ = [
    "ConvBNReLU",
    "ConvOp",
    "SqueezeExcite",
    "MBConvOp",
    "BConvOp",
    "Reduction",
    "OP_MODULES",
    "make_op",
]


class ConvBNReLU(nn.Sequential):
    """Conv2d (with bias) -> BatchNorm2d -> ReLU, the original ``GenericConv``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: convolution stride (default 1).
        padding: zero padding (default 0).
        groups: convolution groups (default 1).

    Shapes:
        x: (N, in_channels, H, W) -> (N, out_channels, H', W')
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
    ) -> None:
        if min(in_channels, out_channels, kernel_size, stride, groups) < 1:
            raise ValueError(
                f"ConvBNReLU: channels, kernel, stride and groups must be >= 1, got "
                f"{in_channels}->{out_channels}, k{kernel_size}, s{stride}, g{groups}"
            )
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


def _check_channels(cls: type, channels: int, minimum: int = 1) -> None:
    if channels < minimum:
        raise ValueError(f"{cls.__name__}: channels must be >= {minimum}, got {channels}")


class ConvOp(nn.Sequential):
    """The ``conv`` op: four 3x3 ConvBNReLU in sequence, no residual.

    Args:
        channels: C, kept from input to output.

    Shapes:
        x: (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels: int) -> None:
        _check_channels(type(self), channels)
        super().__init__(*(ConvBNReLU(channels, channels, 3, padding=1) for _ in range(4)))
        self.channels = channels

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation without channel reduction (ratio 1), as in the original.

    Args:
        channels: C of the input and of both 1x1 convs.

    Shapes:
        x: (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        _check_channels(type(self), channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Conv2d(channels, channels, 1)
        self.relu = nn.ReLU()
        self.excite = nn.Conv2d(channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.excite(self.relu(self.squeeze(self.pool(x)))))


class _ResidualStack(nn.Module):
    """Sub-blocks applied in turn, each as ``y = f(x) + x``."""

    def __init__(self, channels: int, subblocks: list[nn.Module]) -> None:
        super().__init__()
        self.channels = channels
        self.subblocks = nn.ModuleList(subblocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for subblock in self.subblocks:
            x = subblock(x) + x
        return x

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class MBConvOp(_ResidualStack):
    """The ``mbconv`` op: two fused inverted-residual sub-blocks (expansion 2).

    Each sub-block is ConvBNReLU(C->2C, 3x3) -> SE(2C) -> ConvBNReLU(2C->C, 1x1) (the projection
    keeps its ReLU), with a residual around it.

    Args:
        channels: C, kept from input to output.

    Shapes:
        x: (N, C, H, W) -> (N, C, H, W)
    """

    EXPANSION_RATIOS: tuple[int, ...] = (2, 2)

    def __init__(self, channels: int) -> None:
        _check_channels(MBConvOp, channels)
        subblocks = [
            nn.Sequential(
                ConvBNReLU(channels, channels * ratio, 3, padding=1),
                SqueezeExcite(channels * ratio),
                ConvBNReLU(channels * ratio, channels, 1),
            )
            for ratio in self.EXPANSION_RATIOS
        ]
        super().__init__(channels, subblocks)


class BConvOp(_ResidualStack):
    """The ``bconv`` op: six bottleneck sub-blocks of widths C/2, C, 2C, C/2, C, 2C.

    Each sub-block is ConvBNReLU(C->w, 1x1) -> depthwise ConvBNReLU(w, 5x5) ->
    ConvBNReLU(w->C, 1x1) (ReLU before the add), with a residual around it.

    Args:
        channels: C, kept from input to output; at least 2 so that C/2 >= 1.

    Shapes:
        x: (N, C, H, W) -> (N, C, H, W)
    """

    BOTTLENECK_RATIOS: tuple[float, ...] = (2, 1, 0.5)
    NUM_SUBBLOCKS = 6

    def __init__(self, channels: int) -> None:
        _check_channels(BConvOp, channels, minimum=2)
        widths = [int(channels // r) for r in self.BOTTLENECK_RATIOS]
        subblocks = []
        for i in range(self.NUM_SUBBLOCKS):
            w = widths[i % len(widths)]
            subblocks.append(
                nn.Sequential(
                    ConvBNReLU(channels, w, 1),
                    ConvBNReLU(w, w, 5, padding=2, groups=w),
                    ConvBNReLU(w, channels, 1),
                )
            )
        super().__init__(channels, subblocks)


class Reduction(nn.Module):
    """The fixed reduction after every cell: halves H and W, maps C to ``out_channels``.

    Main path ConvBNReLU(3x3, stride 2) -> ConvBNReLU(3x3); shortcut ConvBNReLU(2x2, stride 2);
    output = main + shortcut, no activation after the sum. When the two paths differ in size
    (odd inputs), the larger one drops its last row and column, as in the original.

    Args:
        in_channels: C.
        out_channels: usually 2C.

    Shapes:
        x: (N, C, H, W) -> (N, out_channels, ceil(H/2), ceil(W/2)) (floor(H/2) for odd H)
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Reduction: channels must be >= 1, got {in_channels}->{out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.main = nn.Sequential(
            ConvBNReLU(in_channels, out_channels, 3, stride=2, padding=1),
            ConvBNReLU(out_channels, out_channels, 3, padding=1),
        )
        self.shortcut = ConvBNReLU(in_channels, out_channels, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main, short = self.main(x), self.shortcut(x)
        h = min(main.shape[-2], short.shape[-2])
        w = min(main.shape[-1], short.shape[-1])
        return main[..., :h, :w] + short[..., :h, :w]

    def extra_repr(self) -> str:
        return f"{self.in_channels}->{self.out_channels}"


#: Module class of each op, aligned with :data:`blox_space.OPS` by op index.
OP_MODULES: tuple[type[nn.Module], ...] = (ConvOp, MBConvOp, BConvOp)
if len(OP_MODULES) != len(OPS):  # pragma: no cover - a definition error, not a user error
    raise RuntimeError(f"OP_MODULES has {len(OP_MODULES)} entries but blox_space.OPS has {len(OPS)}")


def make_op(op: int, channels: int) -> nn.Module:
    """Build op ``op`` (an index into :data:`blox_space.OPS`) at ``channels`` channels.

    Raises:
        ValueError: op outside the allowed indices.
    """
    if not 0 <= op < len(OPS):
        allowed = ", ".join(f"{i}={name}" for i, name in enumerate(OPS))
        raise ValueError(f"make_op: op {op} is out of range; ops are {allowed}")
    return OP_MODULES[op](channels)
