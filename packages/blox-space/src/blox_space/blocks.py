"""THE block table: the three ops, the six connectivity schemes and the 45 unique blocks.

A *cell* (the searchable part of a stage) has two nodes. Node 0 holds one op and always
reads the cell input; node 1 holds one op and three binary flags ``(prev, input, sc)``:

* ``prev``  -- node 1 reads node 0's output;
* ``input`` -- node 1 reads the cell input (summed with ``prev`` when both are set);
* ``sc``    -- node 0's output is added to node 1's result (a residual around node 1).

Of the 72 raw cell configurations, 9 are invalid (flags ``(0, 0, 0)``) and the remaining
63 collapse to 45 unique blocks. Block ids follow the original code's first-occurrence
order over the odometer enumeration ``op0 + 3*op1 + 9*prev + 18*input + 36*sc`` so that a
model index here equals the original's unique-architecture position.

Readable block names (parsed back by :func:`blox_space.parse_name`):

=============  ======================  ===================================
scheme         name                    computes
=============  ======================  ===================================
single         ``a``                   ``a(x)``
parallel       ``a||b``                ``a(x) + b(x)``
seq            ``a>b``                 ``b(a(x))``
seq+inp        ``a>b+inp``             ``b(a(x) + x)``
seq+res        ``a>b+res``             ``b(a(x)) + a(x)``
seq+inp+res    ``a>b+inp+res``         ``b(a(x) + x) + a(x)``
=============  ======================  ===================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "OPS",
    "SCHEMES",
    "NUM_OPS",
    "NUM_STAGES",
    "NUM_BLOCKS",
    "NUM_MODELS",
    "NUM_RAW_CELLS",
    "Block",
    "BLOCKS",
    "RAW_CELL_TO_BLOCK",
    "OP_DEPTH",
    "raw_cell_position",
]

#: Op names; the position is the op index used in arch vectors (order matters everywhere).
OPS: tuple[str, ...] = ("conv", "mbconv", "bconv")
#: Linear (conv) layers on the main path of each op; SE 1x1 convs of mbconv not counted.
OP_DEPTH: tuple[int, ...] = (4, 4, 18)
#: Connectivity schemes, in the order used by :attr:`Block.scheme`.
SCHEMES: tuple[str, ...] = ("single", "parallel", "seq", "seq+inp", "seq+res", "seq+inp+res")

NUM_OPS = len(OPS)
NUM_STAGES = 3
NUM_RAW_CELLS = NUM_OPS * NUM_OPS * 8  # op0, op1, three binary flags
NUM_BLOCKS = 45
NUM_MODELS = NUM_BLOCKS**NUM_STAGES  # 91,125


@dataclass(frozen=True)
class Block:
    """One of the 45 unique blocks (cell classes).

    Attributes:
        id: block id 0..44 (the original's per-cell rank).
        scheme: one of :data:`SCHEMES`.
        ops: op indices of the surviving nodes, in execution order (1 or 2 entries).
            For ``parallel`` the larger op index comes first, as in the original.
        cell: the canonical raw cell ``((op0,), (op1, prev, input, sc))``.
        name: readable name, e.g. ``"conv>mbconv+res"``.
    """

    id: int
    scheme: str
    ops: tuple[int, ...]
    cell: tuple[tuple[int], tuple[int, int, int, int]]

    @property
    def name(self) -> str:
        names = [OPS[o] for o in self.ops]
        if self.scheme == "single":
            return names[0]
        if self.scheme == "parallel":
            return f"{names[0]}||{names[1]}"
        suffix = self.scheme[3:]  # "", "+inp", "+res", "+inp+res"
        return f"{names[0]}>{names[1]}{suffix}"

    @property
    def nodes(self) -> tuple[tuple[int, int, int, int], ...]:
        """The minimised node list ``[op, prev, input, sc]`` per surviving node (facts §1.4)."""
        if self.scheme == "single":
            return ((self.ops[0], 1, 0, 0),)
        _, prev, inp, sc = self.cell[1]
        return ((self.ops[0], 1, 0, 0), (self.ops[1], prev, inp, sc))

    @property
    def is_sequential(self) -> bool:
        return self.scheme.startswith("seq")

    @property
    def has_residual(self) -> bool:
        return self.scheme.endswith("res")

    @property
    def reads_input(self) -> bool:
        return "inp" in self.scheme

    @property
    def depth(self) -> int:
        """Linear layers on the longest path through the cell."""
        depths = [OP_DEPTH[o] for o in self.ops]
        return sum(depths) if self.is_sequential else max(depths)


def _raw_cell_key(op0: int, op1: int, prev: int, inp: int, sc: int) -> tuple | None:
    """The equivalence class of a raw cell: what it computes, independent of spelling."""
    if not (prev or inp):
        if not sc:
            return None  # node 1 reads nothing and node 0 reaches no output: invalid
        return ("single", (op0,))  # node 1 is dead; node 0 alone
    if not prev:
        if not sc:
            return ("single", (op1,))  # node 0 feeds nothing and dies
        return ("parallel", (max(op0, op1), min(op0, op1)))
    scheme = "seq" + ("+inp" if inp else "") + ("+res" if sc else "")
    return (scheme, (op0, op1))


def raw_cell_position(op0: int, op1: int, prev: int, inp: int, sc: int) -> int:
    """Flat odometer position (0..71) of a raw cell; op0 changes fastest, ``sc`` slowest."""
    return op0 + 3 * op1 + 9 * prev + 18 * inp + 36 * sc


def _build_table() -> tuple[tuple[Block, ...], np.ndarray]:
    blocks: list[Block] = []
    key_to_id: dict[tuple, int] = {}
    raw_to_block = np.full(NUM_RAW_CELLS, -1, dtype=np.int16)
    for flat in range(NUM_RAW_CELLS):
        op0, rest = flat % 3, flat // 3
        op1, rest = rest % 3, rest // 3
        prev, inp, sc = rest % 2, (rest // 2) % 2, rest // 4
        assert raw_cell_position(op0, op1, prev, inp, sc) == flat
        key = _raw_cell_key(op0, op1, prev, inp, sc)
        if key is None:
            continue
        if key not in key_to_id:
            key_to_id[key] = len(blocks)
            blocks.append(
                Block(id=len(blocks), scheme=key[0], ops=key[1], cell=((op0,), (op1, prev, inp, sc)))
            )
        raw_to_block[flat] = key_to_id[key]
    raw_to_block.setflags(write=False)
    return tuple(blocks), raw_to_block


#: The 45 blocks, indexed by block id.
BLOCKS: tuple[Block, ...]
#: Block id of each raw cell by flat position ``op0 + 3*op1 + 9*prev + 18*input + 36*sc``; -1 = invalid.
RAW_CELL_TO_BLOCK: np.ndarray
BLOCKS, RAW_CELL_TO_BLOCK = _build_table()
assert len(BLOCKS) == NUM_BLOCKS  # a property of the definition above, not of user input
