"""The noise-to-signal ratio (NSR) of blockwise distillation, and dead teacher channels.

NSR (SPEC §5, DONNA): per output channel, the mean squared error between a candidate's output
and the teacher's, divided by the teacher channel's variance (mean and population variance over
the batch and spatial dimensions); averaged over the channels. Scaling both tensors by one factor
leaves it unchanged.

A teacher channel that barely varies would make its term explode (a constant channel has
variance 0), so SPEC §5b leaves *dead* channels out of the average: a channel whose variance
over the split is below :data:`DEAD_CHANNEL_RATIO` (1e-6) times the mean channel variance of
that stage output (:func:`live_channels`). :data:`NSR_EPS` is still added to every variance, so
a live channel that is constant in one small batch stays finite too.
"""

from __future__ import annotations

import torch

__all__ = ["DEAD_CHANNEL_RATIO", "NSR_EPS", "live_channels", "nsr_loss"]

#: Added to each teacher channel's variance so a constant channel in a batch does not divide by zero.
NSR_EPS = 1e-8
#: SPEC §5b: a teacher channel whose variance is below this times the mean channel variance is dead.
DEAD_CHANNEL_RATIO = 1e-6


def nsr_loss(
    student_out: torch.Tensor,
    teacher_out: torch.Tensor,
    *,
    eps: float = NSR_EPS,
    live: torch.Tensor | None = None,
) -> torch.Tensor:
    """Noise-to-signal ratio: per-channel MSE over the teacher channel's variance, averaged.

    Mean and (population) variance run over the batch and spatial dimensions. Scaling both
    tensors by the same factor leaves the value unchanged (up to ``eps``).

    Args:
        student_out: the candidate's output.
        teacher_out: the teacher's output (the target; no gradient flows into it).
        eps: added to every channel variance.
        live: ``(C,)`` bool mask of the channels averaged (default: all), e.g.
            :func:`live_channels` of the teacher's stage output.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: the shapes differ, the tensors are not (N, C, ...) with N*... > 0, or
            ``live`` is not a ``(C,)`` mask with at least one channel.

    Shapes:
        student_out, teacher_out: (N, C, H, W) (any trailing dims) -> ()

    Example:
        >>> t = torch.tensor([[[[1.0, 3.0]]]])             # one channel, variance 1
        >>> round(float(nsr_loss(torch.zeros_like(t), t)), 4)   # MSE (1 + 9) / 2 = 5
        5.0
    """
    if student_out.shape != teacher_out.shape or student_out.dim() < 2 or student_out.numel() == 0:
        raise ValueError(
            f"nsr_loss: need two non-empty (N, C, ...) tensors of one shape, got {tuple(student_out.shape)} "
            f"and {tuple(teacher_out.shape)}"
        )
    dims = [0, *range(2, teacher_out.dim())]
    teacher_out = teacher_out.detach()
    ratio = (student_out - teacher_out).pow(2).mean(dim=dims) / (
        teacher_out.var(dim=dims, unbiased=False) + eps
    )
    if live is None:
        return ratio.mean()
    if live.shape != ratio.shape or live.dtype != torch.bool or not bool(live.any()):
        raise ValueError(
            f"nsr_loss: live must be a ({ratio.shape[0]},) bool mask with at least one channel, "
            f"got {tuple(live.shape)} {live.dtype}"
        )
    return ratio[live.to(ratio.device)].mean()


def live_channels(variance: torch.Tensor, *, ratio: float = DEAD_CHANNEL_RATIO) -> torch.Tensor:
    """The channels that count in the NSR: variance at least ``ratio`` times the mean variance.

    Args:
        variance: ``(C,)`` per-channel variance of a teacher stage output over a split.
        ratio: the dead-channel threshold relative to the mean channel variance (SPEC 1e-6).

    Returns:
        ``(C,)`` bool mask, True for live channels. Where the mean variance is 0 or not finite
        (a constant or broken output) no channel is live.

    Example:
        >>> live_channels(torch.tensor([1.0, 2.0, 0.0, 1e-9, 1e-6])).tolist()  # mean 0.6
        [True, True, False, False, True]
    """
    variance = variance.detach()
    mean = variance.mean()
    if not bool(torch.isfinite(mean)) or float(mean) <= 0:
        return torch.zeros_like(variance, dtype=torch.bool)
    return variance >= ratio * mean
