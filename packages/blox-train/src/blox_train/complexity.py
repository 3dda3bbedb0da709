"""Params and MACs counted on a built model, with ptflops' module-hook semantics (facts §4.9).

The benchmark's "flops" are MACs from ptflops' legacy ``pytorch`` backend. We count them with
our own forward hooks so that blox-train needs no ptflops, and tests compare the result with
blox-space's analytic cost model. Rules per leaf module, for one input of batch size 1:

* Conv2d: ``out_elems * k*k * C_in/groups`` (+ ``C_out * H_out * W_out`` for the bias)
* BatchNorm2d: ``2 * numel`` (affine)
* ReLU: ``numel(output)``;  AdaptiveAvgPool2d: ``numel(input)``
* Linear: ``numel(input) * out_features + out_features``
* Sigmoid, Flatten, Identity and tensor ``+``/``*``: 0
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["count_params", "count_macs"]

_FREE = (nn.Sigmoid, nn.Flatten, nn.Identity)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (conv biases included).

    Example:
        >>> count_params(nn.Conv2d(3, 8, 3))   # 8 * 3 * 3 * 3 weights + 8 biases
        224
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _module_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        out_hw = math.prod(output.shape[2:])
        per_position = (
            math.prod(module.kernel_size) * module.in_channels // module.groups * module.out_channels
        )
        bias = module.out_channels * out_hw if module.bias is not None else 0
        return per_position * out_hw * output.shape[0] + bias * output.shape[0]
    if isinstance(module, nn.BatchNorm2d):
        return inputs[0].numel() * (2 if module.affine else 1)
    if isinstance(module, nn.ReLU):
        return output.numel()
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return inputs[0].numel()
    if isinstance(module, nn.Linear):
        return inputs[0].numel() * module.out_features + (
            module.out_features if module.bias is not None else 0
        )
    if isinstance(module, _FREE):
        return 0
    raise TypeError(f"count_macs: no MAC rule for leaf module {type(module).__name__}")


@torch.no_grad()
def count_macs(model: nn.Module, *, input_shape: tuple[int, int, int] | None = None) -> int:
    """MACs of one forward pass at batch size 1, in ptflops semantics.

    Args:
        model: any module built from Conv2d, BatchNorm2d, ReLU, pooling, Linear and
            parameter-free glue; run in eval mode on a zero input.
        input_shape: ``(C, H, W)`` of one input; defaults to ``(3, R, R)`` with
            ``R = model.resolution``.

    Returns:
        Integer MACs.

    Raises:
        TypeError: a leaf module without a counting rule.

    Example:
        >>> count_macs(nn.Conv2d(3, 8, 3, padding=1), input_shape=(3, 8, 8))  # (27 + 1 bias) * 8 * 64
        14336
    """
    if input_shape is None:
        input_shape = (3, int(model.resolution), int(model.resolution))
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _module_macs(module, inputs, output)

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    param = next(model.parameters())
    try:
        model.eval()
        model(torch.zeros(1, *input_shape, dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return total
