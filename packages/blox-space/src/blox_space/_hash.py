"""The original model hash (facts §1.5), bit-identical: NAS-Bench-101 style WL hashing with
float degrees and stage-aware integer labels.

Hashing all 91,125 models means about nine million md5 rounds, so the per-round Python
overhead matters. A model's graph shape depends only on the connectivity scheme of its three
blocks (6**3 shapes); for each shape we generate, once, a straight-line function that runs
the synchronous WL rounds on local variables without building lists or sorting singletons.
"""

from __future__ import annotations

import hashlib
from binascii import hexlify
from collections.abc import Callable
from functools import cache

from .blocks import BLOCKS

_md5 = hashlib.md5


@cache
def _template(scheme: str) -> tuple[int, tuple[int, ...], tuple, tuple[int, ...]]:
    """Local cell shape of a scheme: (vertex count, entry vertices, internal edges, exits)."""
    if scheme == "single":
        return 1, (0,), (), (0,)
    if scheme == "parallel":
        return 2, (0, 1), (), (1, 0)
    entries = (0, 1) if "inp" in scheme else (0,)
    exits = (1, 0) if scheme.endswith("res") else (1,)
    return 2, entries, ((0, 1),), exits


def _graph(schemes: tuple[str, ...]) -> tuple[list[list[int]], list[list[int]], list[int | None]]:
    """Neighbour lists and, per vertex, the (stage, node) it holds (None for in/out/reduction)."""
    ins: list[list[int]] = [[]]
    outs: list[list[int]] = [[]]
    owner: list = [("input",)]
    stage_in = 0

    def add(kind: tuple) -> int:
        ins.append([])
        outs.append([])
        owner.append(kind)
        return len(owner) - 1

    def edge(src: int, dst: int) -> None:
        outs[src].append(dst)
        ins[dst].append(src)

    for stage, scheme in enumerate(schemes):
        count, entries, internal, exits = _template(scheme)
        local = [add(("op", stage, k)) for k in range(count)]
        red = add(("reduction", stage))
        for e in entries:
            edge(stage_in, local[e])
        for a, b in internal:
            edge(local[a], local[b])
        for x in exits:
            edge(local[x], red)
        stage_in = red
    out = add(("output",))
    edge(stage_in, out)
    return ins, outs, owner


def _sorted_concat(names: list[str]) -> str:
    if not names:
        return 'b""'
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        a, b = names
        return f"({a} + {b} if {a} <= {b} else {b} + {a})"
    return f'b"".join(sorted(({", ".join(names)},)))'


@cache
def _compiled(schemes: tuple[str, ...]) -> tuple[Callable, list, list[int], list[int]]:
    ins, outs, owner = _graph(schemes)
    num = len(owner)
    names = [f"h{v}" for v in range(num)]
    rounds = ", ".join(
        f"hx(md5({_sorted_concat([names[u] for u in ins[v]])} + b'|' + "
        f"{_sorted_concat([names[w] for w in outs[v]])} + b'|' + {names[v]}).digest())"
        for v in range(num)
    )
    source = (
        f"def wl({', '.join(names)}):\n"
        f"    for _ in range({num}):\n"
        f"        {', '.join(names)} = {rounds}\n"
        f"    return [{', '.join(names)}]\n"
    )
    namespace = {"hx": hexlify, "md5": _md5}
    exec(compile(source, f"<wl {'/'.join(schemes)}>", "exec"), namespace)  # noqa: S102
    return namespace["wl"], owner, [len(o) for o in outs], [len(i) for i in ins]


@cache
def _initial(out_deg: int, in_deg: int, label: int) -> bytes:
    return hexlify(_md5(str((float(out_deg), float(in_deg), label)).encode()).digest())


def model_hash(block_ids: tuple[int, int, int]) -> str:
    """The 32-hex md5 fingerprint the original code keys every model by."""
    blocks = [BLOCKS[b] for b in block_ids]
    wl, owner, out_deg, in_deg = _compiled(tuple(b.scheme for b in blocks))
    initial = []
    for v, kind in enumerate(owner):
        if kind[0] == "input":
            label = -1
        elif kind[0] == "output":
            label = -2
        elif kind[0] == "reduction":
            label = 3 + 4 * kind[1]
        else:
            _, stage, node = kind
            label = blocks[stage].ops[node] + 4 * stage
        initial.append(_initial(out_deg[v], in_deg[v], label))
    final = wl(*initial)
    final.sort()
    # str() of a sorted list of str, as the original hashes it: "['h1', 'h2', ...]"
    return _md5(("['" + "', '".join(h.decode() for h in final) + "']").encode()).hexdigest()
