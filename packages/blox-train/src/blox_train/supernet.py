"""The Blox cell as a DARTS supernet (SPEC §7b), for DARTS-PT search.

Each stage is a five-node cell followed by the stage's fixed :class:`~blox_train.ops.Reduction`.
Node 0 is the cell input ``x``:

=========  =====  ======================================  ===========================
edge       nodes  candidates (index = value)              raw-cell field it stands for
=========  =====  ======================================  ===========================
``op0``    0→1    conv, mbconv, bconv (:data:`OPS` ids)   ``op0`` (node 0's op)
``input``  0→2    zero, skip (0, 1)                       ``input`` flag
``prev``   1→2    zero, skip (0, 1)                       ``prev`` flag
``op1``    2→3    conv, mbconv, bconv (:data:`OPS` ids)   ``op1`` (node 1's op)
``sc``     1→4    zero, skip (0, 1)                       ``sc`` flag
(fixed)    3→4    skip
=========  =====  ======================================  ===========================

so node 1 = ``op0(x)``, node 2 = ``input·x + prev·node1``, node 3 = ``op1(node2)`` and the cell
output node 4 = ``node3 + sc·node1``. This is how :meth:`blox_train.network.Cell.forward`
computes a raw cell ``((op0,), (op1, prev, input, sc))``: node 1 of blocks.py reads node 0's
output (``prev``), the cell input (``input``) or their sum, and ``sc`` adds node 0's output to
its result. A node whose incoming edges are all decided to ``zero`` is *dead*: nothing flows
out of it (node 3 is not computed, as in blocks.py, where node 1 reading nothing is dead). With
that rule, one-hot weights on any valid raw cell compute exactly the cell's block, and every
non-canonical spelling computes the same function as its canonical block.

Mixing weights are ``softmax(α)`` over the candidates an edge still has. Candidates can be
masked out (:meth:`SuperNet.mask_op`, :meth:`SuperNet.masked` for perturbation-based
projection) and an edge can be decided to one candidate (:meth:`SuperNet.decide`); a masked
candidate has weight exactly 0 and is not computed, a decided edge has weight exactly 1 on its
op. :meth:`SuperNet.set_alpha_one_hot` decides every edge, so the supernet then computes exactly
one model of the space.

Invalid configurations: :meth:`SuperNet.argmax_cells` may return a raw cell with
``prev = input = sc = 0`` (nothing reaches the output; blocks.py's table gives -1);
:meth:`SuperNet.to_block_ids` then raises :class:`blox_space.InvalidCellError` (a
:class:`blox_space.BloxError`). Use :func:`cell_block_id` to test one cell without raising.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import blox_space as bs
import numpy as np
import torch
from blox_space import BLOCKS, NUM_STAGES, OPS, Block, Geometry
from blox_space.blocks import NUM_OPS, RAW_CELL_TO_BLOCK, raw_cell_position
from blox_space.errors import ArchShapeError, FlagError, OpOutOfRangeError
from blox_space.geometry import SCALING
from torch import nn

from .errors import ConfigError, DivergenceError
from .network import BloxNet
from .ops import ConvBNReLU, Reduction, make_op

__all__ = [
    "EDGES",
    "OP_EDGES",
    "FLAG_EDGES",
    "EDGE_NODES",
    "FLAG_CANDIDATES",
    "RawCell",
    "SuperCell",
    "SuperStage",
    "SuperNet",
    "cell_block_id",
    "canonical_cell",
    "darts_step",
    "make_darts_optimizers",
]

#: Edge names in raw-cell order ``(op0, op1, prev, input, sc)``.
EDGES: tuple[str, ...] = ("op0", "op1", "prev", "input", "sc")
#: The two edges mixed over :data:`blox_space.OPS`.
OP_EDGES: tuple[str, ...] = ("op0", "op1")
#: The three binary edges; candidate 0 is ``zero``, 1 is ``skip`` (the flag value).
FLAG_EDGES: tuple[str, ...] = ("prev", "input", "sc")
#: (from node, to node) of each edge in the five-node picture of SPEC §7b.
EDGE_NODES: dict[str, tuple[int, int]] = {
    "op0": (0, 1),
    "op1": (2, 3),
    "prev": (1, 2),
    "input": (0, 2),
    "sc": (1, 4),
}
#: Candidate names of the binary edges, by flag value.
FLAG_CANDIDATES: tuple[str, ...] = ("zero", "skip")
_NODES_TO_EDGE = {nodes: edge for edge, nodes in EDGE_NODES.items()}

#: A raw cell ``(op0, op1, prev, input, sc)``.
RawCell = tuple[int, int, int, int, int]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _raw_cell(cell: Any, stage: int) -> RawCell:
    """Read ``(op0, op1, prev, input, sc)`` or ``((op0,), (op1, prev, input, sc))``; flags may be 0/0/0."""
    if isinstance(cell, np.ndarray):
        cell = cell.tolist()
    if isinstance(cell, (list, tuple)) and len(cell) == 2:
        node0, node1 = cell
        if not (isinstance(node0, (list, tuple)) and len(node0) == 1) or not (
            isinstance(node1, (list, tuple)) and len(node1) == 4
        ):
            raise ArchShapeError(f"stage {stage}: a cell is ((op0,), (op1, prev, input, sc)), got {cell!r}")
        cell = (node0[0], *node1)
    if not isinstance(cell, (list, tuple)) or len(cell) != 5:
        raise ArchShapeError(
            f"stage {stage}: a raw cell is (op0, op1, prev, input, sc) or ((op0,), (op1, prev, input, sc)), "
            f"got {cell!r}"
        )
    op0, op1, *flags = cell
    for node, op in ((0, op0), (1, op1)):
        if not _is_int(op) or not 0 <= op < NUM_OPS:
            allowed = ", ".join(f"{i}={name}" for i, name in enumerate(OPS))
            raise OpOutOfRangeError(
                f"op {op!r} at stage {stage}, node {node} is out of range; ops are {allowed}"
            )
    for name, flag in zip(FLAG_EDGES, flags, strict=True):
        if not (_is_int(flag) or isinstance(flag, (bool, np.bool_))) or flag not in (0, 1):
            raise FlagError(f"flag {name}={flag!r} at stage {stage} must be 0 or 1")
    return (int(op0), int(op1), *(int(f) for f in flags))  # type: ignore[return-value]


def canonical_cell(block: Block | int) -> RawCell:
    """The canonical raw cell ``(op0, op1, prev, input, sc)`` of a block (blocks.py's ``Block.cell``)."""
    block = block if isinstance(block, Block) else BLOCKS[int(block)]
    (op0,), (op1, prev, inp, sc) = block.cell
    return (op0, op1, prev, inp, sc)


def cell_block_id(cell: Sequence[int]) -> int:
    """Block id of one raw cell ``(op0, op1, prev, input, sc)`` by blocks.py's table; -1 = invalid.

    Raises:
        blox_space.InvalidArchitectureError: malformed cell (shape, op or flag out of range).
    """
    return int(RAW_CELL_TO_BLOCK[raw_cell_position(*_raw_cell(cell, 0))])


def _raw_cells(arch: Any) -> tuple[RawCell, ...]:
    """Three raw cells from raw spellings (kept as spelt) or from any form blox-space reads."""
    if isinstance(arch, np.ndarray):
        arch = arch.tolist()
    if (
        isinstance(arch, (list, tuple))
        and len(arch) == NUM_STAGES
        and all(isinstance(c, (list, tuple)) for c in arch)
    ):
        return tuple(_raw_cell(c, s) for s, c in enumerate(arch))
    return tuple(canonical_cell(b) for b in bs.to_blocks(arch))


def _placement(cell: RawCell, block: Block) -> dict[str, int]:
    """Which op of the model's ``Cell`` (by position) sits on which mixed edge for this spelling."""
    op0, _, prev, inp, _ = cell
    if block.scheme == "single":
        return {"op0": 0} if not (prev or inp) else {"op1": 0}
    if block.scheme == "parallel":
        first = 0 if op0 == block.ops[0] else 1
        return {"op0": first, "op1": 1 - first}
    return {"op0": 0, "op1": 1}


class SuperCell(nn.Module):
    """The five-node DARTS cell of one stage (module docstring) at C channels.

    Attributes:
        op0, op1: the three candidate ops of edges 0→1 and 2→3, indexed by :data:`blox_space.OPS` id.
        alpha: architecture logits, one tensor per edge (3 for op edges, 2 for flag edges).
        mask_<edge>: boolean buffers, the candidates each edge still has.

    Shapes:
        x: (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.op0 = nn.ModuleList(make_op(op, channels) for op in range(NUM_OPS))
        self.op1 = nn.ModuleList(make_op(op, channels) for op in range(NUM_OPS))
        self.alpha = nn.ParameterDict(
            {edge: nn.Parameter(1e-3 * torch.randn(self.num_candidates(edge))) for edge in EDGES}
        )
        for edge in EDGES:
            self.register_buffer(f"mask_{edge}", torch.ones(self.num_candidates(edge), dtype=torch.bool))

    @staticmethod
    def num_candidates(edge: str) -> int:
        return NUM_OPS if edge in OP_EDGES else len(FLAG_CANDIDATES)

    def mask(self, edge: str) -> torch.Tensor:
        """The boolean candidate mask of ``edge`` (a buffer; edit in place)."""
        return getattr(self, f"mask_{edge}")

    def weights(self, edge: str) -> torch.Tensor:
        """Mixing weights of ``edge``: softmax of α over the unmasked candidates, 0 elsewhere."""
        logits = self.alpha[edge].masked_fill(~self.mask(edge), float("-inf"))
        return torch.softmax(logits, dim=0)

    def _live(self, edge: str, candidate: int) -> bool:
        return bool(self.mask(edge)[candidate])

    def _mix(self, ops: nn.ModuleList, edge: str, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(edge)
        out: torch.Tensor | None = None
        for k, op in enumerate(ops):
            if self._live(edge, k):
                term = w[k] * op(x)
                out = term if out is None else out + term
        assert out is not None  # an edge always keeps one candidate
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = FLAG_CANDIDATES.index("skip")
        node1 = None
        if self._live("prev", skip) or self._live("sc", skip):
            node1 = self._mix(self.op0, "op0", x)
        node2 = None
        if self._live("prev", skip):
            node2 = self.weights("prev")[skip] * node1
        if self._live("input", skip):
            term = self.weights("input")[skip] * x
            node2 = term if node2 is None else node2 + term
        out = None if node2 is None else self._mix(self.op1, "op1", node2)
        if self._live("sc", skip):
            term = self.weights("sc")[skip] * node1
            out = term if out is None else out + term
        return torch.zeros_like(x) if out is None else out

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class SuperStage(nn.Sequential):
    """:class:`SuperCell` at C channels followed by the fixed reduction to 2C (as :class:`~blox_train.network.Stage`).

    Shapes:
        x: (N, C, H, W) -> (N, 2C, H/2, W/2)
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.cell = SuperCell(channels)
        self.reduction = Reduction(channels, channels * SCALING)


class SuperNet(nn.Module):
    """The Blox space as one DARTS supernet: BloxNet's stem, 3 :class:`SuperStage` and its head.

    Module names match :class:`~blox_train.network.BloxNet` (``stem``, ``stages.{s}.reduction``,
    ``classifier``) so :meth:`load_from_model` copies them by name.

    Args:
        num_classes: classifier outputs.
        width: stem channels C; stage s runs at ``C * 2**s`` channels.
        resolution: input side the supernet is meant for.

    Raises:
        InvalidGeometryError: width, resolution or num_classes out of range.

    Shapes:
        x: (N, 3, R, R) -> logits (N, num_classes)
    """

    def __init__(self, *, num_classes: int = 100, width: int = 32, resolution: int = 32) -> None:
        super().__init__()
        self.geometry = Geometry(width=width, resolution=resolution, num_classes=num_classes)
        self.num_classes, self.width, self.resolution = num_classes, width, resolution
        self.stem = ConvBNReLU(3, width, 3, padding=1)
        self.stages = nn.ModuleList(SuperStage(c) for c in self.geometry.channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(self.geometry.head_channels, num_classes)

    # ----------------------------------------------------------------------------- forward
    # the same stem -> stages -> pool/classify path as a BloxNet (same module names)
    head = BloxNet.head
    forward = BloxNet.forward

    # ----------------------------------------------------------------------------- parameters
    def cell(self, stage: int) -> SuperCell:
        """The :class:`SuperCell` of ``stage``."""
        return self.stages[self._stage(stage)].cell

    def arch_parameters(self) -> list[nn.Parameter]:
        """The α tensors, 5 per stage in :data:`EDGES` order."""
        return [self.cell(s).alpha[edge] for s in range(NUM_STAGES) for edge in EDGES]

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not an α (ops, reductions, stem, classifier)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    # ----------------------------------------------------------------------------- edges
    @staticmethod
    def _stage(stage: int) -> int:
        if not _is_int(stage) or not 0 <= stage < NUM_STAGES:
            raise ConfigError(f"stage {stage!r} is out of range; stages are 0..{NUM_STAGES - 1}")
        return int(stage)

    @staticmethod
    def _edge(edge: str | tuple[int, int]) -> str:
        if isinstance(edge, tuple) and edge in _NODES_TO_EDGE:
            return _NODES_TO_EDGE[edge]
        if edge in EDGES:
            return str(edge)
        edges = ", ".join(f"{e}={EDGE_NODES[e][0]}->{EDGE_NODES[e][1]}" for e in EDGES)
        raise ConfigError(f"unknown edge {edge!r}; edges are {edges}")

    @staticmethod
    def _candidate(edge: str, op: int | str | bool) -> int:
        names = OPS if edge in OP_EDGES else FLAG_CANDIDATES
        if isinstance(op, str) and op in names:
            return names.index(op)
        if (_is_int(op) or isinstance(op, (bool, np.bool_))) and 0 <= int(op) < len(names):
            return int(op)
        allowed = ", ".join(f"{i}={name}" for i, name in enumerate(names))
        raise ConfigError(f"candidate {op!r} is not on edge {edge}; its candidates are {allowed}")

    def edge_weights(self, stage: int, edge: str | tuple[int, int]) -> torch.Tensor:
        """Mixing weights of one edge (softmax over the unmasked candidates, 0 for masked ones)."""
        return self.cell(stage).weights(self._edge(edge))

    def candidates(self, stage: int, edge: str | tuple[int, int]) -> tuple[int, ...]:
        """The candidate indices ``edge`` still has at ``stage``."""
        mask = self.cell(stage).mask(self._edge(edge))
        return tuple(int(k) for k in torch.nonzero(mask).flatten())

    def undecided_edges(self) -> list[tuple[int, str]]:
        """``(stage, edge)`` of every edge with more than one candidate left (what projection visits)."""
        return [(s, e) for s in range(NUM_STAGES) for e in EDGES if len(self.candidates(s, e)) > 1]

    def mask_op(self, stage: int, edge: str | tuple[int, int], op: int | str | bool) -> None:
        """Remove candidate ``op`` from ``edge`` (its weight becomes exactly 0; it is not computed).

        Raises:
            ConfigError: unknown stage, edge or candidate, or ``op`` is the edge's last candidate.
        """
        edge = self._edge(edge)
        k = self._candidate(edge, op)
        mask = self.cell(stage).mask(edge)
        if mask[k] and int(mask.sum()) == 1:
            raise ConfigError(
                f"cannot mask candidate {k} of edge {edge} at stage {stage}: it is the last one"
            )
        mask[k] = False

    def decide(self, stage: int, edge: str | tuple[int, int], op: int | str | bool) -> None:
        """Fix ``edge`` to candidate ``op`` (the others are masked; its weight becomes exactly 1)."""
        edge = self._edge(edge)
        k = self._candidate(edge, op)
        mask = self.cell(stage).mask(edge)
        mask.fill_(False)
        mask[k] = True

    @contextlib.contextmanager
    def masked(self, stage: int, edge: str | tuple[int, int], op: int | str | bool) -> Iterator[SuperNet]:
        """Context manager: ``op`` masked out of ``edge`` inside the block, the mask restored after.

        Example:
            >>> net = SuperNet(num_classes=2, width=2, resolution=8)
            >>> with net.masked(0, "op0", "bconv"):
            ...     net.candidates(0, "op0")
            (0, 1)
            >>> net.candidates(0, "op0")
            (0, 1, 2)
        """
        edge = self._edge(edge)
        mask = self.cell(stage).mask(edge)
        saved = mask.clone()
        self.mask_op(stage, edge, op)
        try:
            yield self
        finally:
            mask.copy_(saved)

    def reset_masks(self) -> None:
        """Give every edge all its candidates back."""
        for s in range(NUM_STAGES):
            for edge in EDGES:
                self.cell(s).mask(edge).fill_(True)

    # ----------------------------------------------------------------------------- architectures
    @torch.no_grad()
    def set_alpha_one_hot(self, arch: Any) -> None:
        """Put all the mixing weight of every edge on one model's choices.

        α is set to 1 on the chosen candidate and 0 elsewhere, and every edge is decided to its
        choice, so the mixing weights are exactly one-hot (undo with :meth:`reset_masks`).

        Args:
            arch: three raw cells, each ``(op0, op1, prev, input, sc)`` or
                ``((op0,), (op1, prev, input, sc))``, used as spelt (an invalid cell is allowed);
                or any architecture form of :func:`blox_space.to_blocks` (block ids, index,
                name, ...), which uses each block's canonical cell.

        Raises:
            blox_space.InvalidArchitectureError: malformed architecture.
        """
        for s, cell in enumerate(_raw_cells(arch)):
            for edge, choice in zip(EDGES, cell, strict=True):
                alpha = self.cell(s).alpha[edge]
                alpha.zero_()
                alpha[choice] = 1.0
                self.decide(s, edge, choice)

    @torch.no_grad()
    def argmax_cells(self) -> tuple[RawCell, ...]:
        """The raw cell ``(op0, op1, prev, input, sc)`` of each stage by argmax of the edge weights
        (masked candidates are never chosen). May be invalid; see :meth:`to_block_ids`."""
        return tuple(
            tuple(int(torch.argmax(self.cell(s).weights(edge))) for edge in EDGES)  # type: ignore[misc]
            for s in range(NUM_STAGES)
        )

    @staticmethod
    def to_block_ids(cells: Sequence[Sequence[int]]) -> tuple[int, int, int]:
        """Canonical block ids of three raw cells, via blox-space (non-canonical spellings map to
        their block).

        Raises:
            blox_space.InvalidCellError: a cell with ``prev = input = sc = 0`` (table entry -1).
            blox_space.InvalidArchitectureError: otherwise malformed cells.
        """
        vec = [[[c[0]], list(c[1:])] for c in _raw_cells(cells)]
        return bs.to_blocks(vec)

    def argmax_block_ids(self) -> tuple[int, int, int]:
        """:meth:`to_block_ids` of :meth:`argmax_cells`."""
        return self.to_block_ids(self.argmax_cells())

    # ----------------------------------------------------------------------------- weights
    @torch.no_grad()
    def load_from_model(self, model: BloxNet, cells: Any = None) -> SuperNet:
        """Copy a BloxNet's weights (parameters and BN statistics) into the matching supernet modules.

        Stem, reductions and classifier are copied as they are; each cell op goes to the mixed
        edge and candidate that ``cells`` (default: the model's canonical cells) place it on.
        After ``set_alpha_one_hot(cells)`` the supernet computes exactly what ``model`` does.

        Args:
            model: a :class:`~blox_train.network.BloxNet` of the same width and class count.
            cells: raw spellings of the model's blocks (see :meth:`set_alpha_one_hot`).

        Returns:
            self.

        Raises:
            ConfigError: another width or class count, or a spelling of another block.
        """
        if not isinstance(model, BloxNet):
            raise ConfigError(f"load_from_model needs a BloxNet, got {type(model).__name__}")
        if (model.width, model.num_classes) != (self.width, self.num_classes):
            raise ConfigError(
                f"model has width {model.width} and {model.num_classes} classes; the supernet has "
                f"width {self.width} and {self.num_classes} classes"
            )
        raw = _raw_cells(model.block_ids if cells is None else cells)
        ids = self.to_block_ids(raw)
        if ids != model.block_ids:
            raise ConfigError(f"cells {raw} are blocks {ids}, but the model's blocks are {model.block_ids}")
        self.stem.load_state_dict(model.stem.state_dict())
        self.classifier.load_state_dict(model.classifier.state_dict())
        for s, (cell, block_id) in enumerate(zip(raw, model.block_ids, strict=True)):
            stage = model.stages[s]
            self.stages[s].reduction.load_state_dict(stage.reduction.state_dict())
            block = BLOCKS[block_id]
            for edge, position in _placement(cell, block).items():
                op = cell[EDGES.index(edge)]
                assert op == block.ops[position]  # the placement matches the spelling
                getattr(self.cell(s), edge)[op].load_state_dict(stage.cell.ops[position].state_dict())
        return self

    def extra_repr(self) -> str:
        return f"width={self.width}, resolution={self.resolution}, num_classes={self.num_classes}"


def make_darts_optimizers(
    supernet: SuperNet,
    *,
    lr: float = 0.025,
    momentum: float = 0.9,
    weight_decay: float = 3e-4,
    arch_lr: float = 3e-4,
    arch_weight_decay: float = 1e-3,
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """DARTS' two optimizers: SGD on the network weights and Adam (betas 0.5, 0.999) on α.

    Returns:
        ``(w_opt, a_opt)``.
    """
    w_opt = torch.optim.SGD(supernet.weight_parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    a_opt = torch.optim.Adam(
        supernet.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999), weight_decay=arch_weight_decay
    )
    return w_opt, a_opt


def darts_step(
    supernet: SuperNet,
    train_batch: tuple[torch.Tensor, torch.Tensor],
    val_batch: tuple[torch.Tensor, torch.Tensor],
    w_opt: torch.optim.Optimizer,
    a_opt: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    grad_clip: float | None = 5.0,
) -> dict[str, float]:
    """One first-order DARTS step: α on the validation batch, then the weights on the train batch.

    Args:
        supernet: the supernet (put in train mode by the caller).
        train_batch, val_batch: ``(inputs, targets)``, moved to the supernet's device.
        w_opt: optimizer over :meth:`SuperNet.weight_parameters`.
        a_opt: optimizer over :meth:`SuperNet.arch_parameters` (Adam in DARTS).
        loss_fn: ``loss_fn(logits, targets)``.
        grad_clip: max gradient norm of the weights (DARTS: 5); None for no clipping.

    Returns:
        ``{"val_loss": ..., "train_loss": ...}`` (before the respective updates).

    Raises:
        DivergenceError: a non-finite loss.
    """
    device = next(supernet.parameters()).device
    losses = {}
    for name, (x, y), opt in (("val_loss", val_batch, a_opt), ("train_loss", train_batch, w_opt)):
        a_opt.zero_grad(set_to_none=True)
        w_opt.zero_grad(set_to_none=True)
        loss = loss_fn(supernet(x.to(device)), y.to(device))
        if not torch.isfinite(loss):
            raise DivergenceError(f"darts_step: {name} is {float(loss)}")
        loss.backward()
        if opt is w_opt and grad_clip is not None:
            nn.utils.clip_grad_norm_(supernet.weight_parameters(), grad_clip)
        opt.step()
        losses[name] = float(loss.detach())
    a_opt.zero_grad(set_to_none=True)
    w_opt.zero_grad(set_to_none=True)
    return losses
