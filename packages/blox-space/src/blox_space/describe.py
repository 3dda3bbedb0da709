"""One architecture, every fact blox-space knows about it, as a plain dict."""

from __future__ import annotations

from typing import Any

from ._typing import ArchLike
from .arch import to_arch_vec, to_blocks, to_hash
from .blocks import BLOCKS, NUM_BLOCKS
from .cost import model_depth, model_macs, model_params

__all__ = ["describe"]


def describe(
    arch: ArchLike, *, width: int = 32, resolution: int = 32, num_classes: int = 100
) -> dict[str, Any]:
    """Describe one model (what ``blox-space show ARCH --json`` prints).

    Args:
        arch: any architecture form.
        width: stem channels of the network the costs refer to.
        resolution: input side in pixels.
        num_classes: classifier outputs.

    Returns:
        ``index``, ``hash``, ``blocks`` (block-id triple), ``arch_vec`` (canonical), ``name``,
        ``block_names``, ``schemes``, ``params``, ``macs``, ``depth``, ``is_uniform`` and the
        geometry the costs refer to (``width``, ``resolution``, ``num_classes``).

    Raises:
        InvalidArchitectureError: (a subclass) for an invalid architecture.

    Example:
        >>> describe(24519)["hash"]
        'c3bc16e69893c8ea08f1e89e61f4caa5'
    """
    blocks = to_blocks(arch)
    geometry = {"width": width, "resolution": resolution, "num_classes": num_classes}
    return {
        "index": blocks[0] + NUM_BLOCKS * blocks[1] + NUM_BLOCKS**2 * blocks[2],
        "hash": to_hash(blocks),
        "blocks": list(blocks),
        "arch_vec": to_arch_vec(blocks),
        "name": " | ".join(BLOCKS[b].name for b in blocks),
        "block_names": [BLOCKS[b].name for b in blocks],
        "schemes": [BLOCKS[b].scheme for b in blocks],
        "params": model_params(blocks, **geometry),
        "macs": model_macs(blocks, **geometry),
        "depth": model_depth(blocks),
        "is_uniform": len(set(blocks)) == 1,
        **geometry,
    }
