"""The DARTS supernet computes exactly the standalone BloxNet when its weights are copied in and
α is one-hot on the model's cells: every block at every stage, every raw spelling, full models;
raw cells map to canonical block ids; masks, parameters and one DARTS step behave."""

from __future__ import annotations

import blox_space as bs
import blox_train as bt
import numpy as np
import pytest
import torch
from blox_space import BLOCKS, NUM_STAGES
from blox_space.blocks import RAW_CELL_TO_BLOCK
from blox_train.errors import ConfigError
from blox_train.supernet import (
    EDGES,
    SuperNet,
    canonical_cell,
    cell_block_id,
    darts_step,
    make_darts_optimizers,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

torch.set_num_threads(1)

WIDTH, RESOLUTION, CLASSES = 8, 8, 5
FIXED = 9  # "conv" (single): the block of the stages a test does not look at
GEOMETRY = {"num_classes": CLASSES, "width": WIDTH, "resolution": RESOLUTION}


def _raw(flat: int) -> tuple[int, int, int, int, int]:
    op0, rest = flat % 3, flat // 3
    op1, rest = rest % 3, rest // 3
    return (op0, op1, rest % 2, (rest // 2) % 2, rest // 4)


VALID_RAW = [_raw(p) for p in range(len(RAW_CELL_TO_BLOCK)) if RAW_CELL_TO_BLOCK[p] >= 0]


@pytest.fixture(scope="module")
def supernet() -> SuperNet:
    torch.manual_seed(0)
    return SuperNet(**GEOMETRY)


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.randn(4, 3, RESOLUTION, RESOLUTION, generator=torch.Generator().manual_seed(1))


def _assert_same(model: bt.BloxNet, supernet: SuperNet, x: torch.Tensor, *, train_too: bool = True) -> None:
    for mode in (False, True) if train_too else (False,):
        model.train(mode)
        supernet.train(mode)
        with torch.no_grad():
            expected, got = model(x), supernet(x)
        assert torch.allclose(expected, got, rtol=0, atol=1e-6), (
            f"train={mode}: {(expected - got).abs().max()}"
        )
    supernet.eval()


@pytest.mark.parametrize("stage", range(NUM_STAGES))
@pytest.mark.parametrize("block", range(len(BLOCKS)))
def test_one_hot_supernet_is_the_model(supernet, batch, stage, block):
    ids = tuple(block if s == stage else FIXED for s in range(NUM_STAGES))
    torch.manual_seed(100 + block)
    model = bt.build_model(ids, **GEOMETRY)
    supernet.load_from_model(model).set_alpha_one_hot(ids)
    _assert_same(model, supernet, batch)
    assert supernet.argmax_block_ids() == ids
    assert supernet.argmax_cells()[stage] == canonical_cell(block)


@pytest.mark.parametrize("raw", VALID_RAW, ids=str)
def test_every_raw_spelling_computes_its_block(supernet, batch, raw):
    block = cell_block_id(raw)
    cells = (canonical_cell(FIXED), raw, canonical_cell(FIXED))
    torch.manual_seed(7)
    model = bt.build_model((FIXED, block, FIXED), **GEOMETRY)
    supernet.load_from_model(model, cells=cells).set_alpha_one_hot(cells)
    _assert_same(model, supernet, batch, train_too=False)
    assert supernet.argmax_cells()[1] == raw
    assert supernet.argmax_block_ids() == (FIXED, block, FIXED)


def test_random_full_models(supernet, batch):
    rng = np.random.default_rng(0)
    for _ in range(3):
        ids = tuple(int(b) for b in rng.integers(0, len(BLOCKS), NUM_STAGES))
        model = bt.build_model(ids, **GEOMETRY)
        supernet.load_from_model(model)
        supernet.set_alpha_one_hot(bs.to_index(ids))  # any blox-space form gives the canonical cells
        _assert_same(model, supernet, batch)
        assert supernet.argmax_block_ids() == ids


def test_non_canonical_spellings_map_to_the_canonical_block():
    found = {}
    for raw in VALID_RAW:
        block = BLOCKS[int(RAW_CELL_TO_BLOCK[bs.blocks.raw_cell_position(*raw)])]
        if canonical_cell(block) != raw:
            found.setdefault(block.scheme, (raw, block.id))
    assert {"single", "parallel"} <= set(found)  # dead-node and swapped-parallel spellings
    for raw, block_id in found.values():
        assert SuperNet.to_block_ids((raw, raw, raw)) == (block_id,) * 3
        nested = ((raw[0],), raw[1:])
        assert SuperNet.to_block_ids([nested, raw, canonical_cell(0)]) == (block_id, block_id, 0)
    # conv||mbconv spelt mbconv-first is the same block as conv-first
    assert cell_block_id((0, 1, 0, 1, 1)) == cell_block_id((1, 0, 0, 1, 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(RAW_CELL_TO_BLOCK) - 1), min_size=3, max_size=3))
def test_to_block_ids_follows_the_table(flats):
    cells = [_raw(p) for p in flats]
    table = [int(RAW_CELL_TO_BLOCK[p]) for p in flats]
    if min(table) < 0:
        with pytest.raises(bs.InvalidCellError):
            SuperNet.to_block_ids(cells)
    else:
        assert SuperNet.to_block_ids(cells) == tuple(table)
        assert [cell_block_id(c) for c in cells] == table


def test_invalid_one_hot_configuration_is_reported(supernet, batch):
    cells = (canonical_cell(0), (1, 2, 0, 0, 0), canonical_cell(3))
    supernet.set_alpha_one_hot(cells)
    assert supernet.argmax_cells() == cells
    assert cell_block_id(cells[1]) == -1
    with pytest.raises(bs.InvalidCellError, match="stage 1"):
        supernet.argmax_block_ids()
    with pytest.raises(bs.BloxError):
        SuperNet.to_block_ids(cells)
    assert torch.isfinite(supernet(batch)).all()  # the cell outputs zeros; the net still runs
    # the same by α alone (no masks): zero beats skip on all three flag edges of stage 2
    supernet.reset_masks()
    with torch.no_grad():
        for edge in ("prev", "input", "sc"):
            supernet.cell(2).alpha[edge].copy_(torch.tensor([1.0, -1.0]))
    assert supernet.argmax_cells()[2][2:] == (0, 0, 0)
    with pytest.raises(bs.InvalidCellError):
        supernet.argmax_block_ids()


def test_arch_and_weight_parameters_split_all_parameters(supernet):
    arch = {id(p) for p in supernet.arch_parameters()}
    weights = {id(p) for p in supernet.weight_parameters()}
    assert len(arch) == NUM_STAGES * len(EDGES)
    assert not arch & weights
    assert arch | weights == {id(p) for p in supernet.parameters()}
    assert sorted(p.numel() for p in supernet.arch_parameters()) == [2] * 9 + [3] * 6


def test_soft_weights_reach_every_alpha(batch):
    torch.manual_seed(0)
    net = SuperNet(**GEOMETRY).train()
    net(batch).square().mean().backward()
    for p in net.arch_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_masks_decide_and_restore(supernet):
    supernet.reset_masks()
    assert len(supernet.undecided_edges()) == NUM_STAGES * len(EDGES)
    supernet.mask_op(0, "op0", "mbconv")
    assert supernet.candidates(0, (0, 1)) == (0, 2)
    w = supernet.edge_weights(0, "op0")
    assert w[1] == 0 and torch.isclose(w.sum(), torch.tensor(1.0))
    with supernet.masked(1, (1, 4), "skip"):
        assert supernet.candidates(1, "sc") == (0,)
        assert torch.equal(supernet.edge_weights(1, "sc"), torch.tensor([1.0, 0.0]))
        with pytest.raises(ConfigError, match="last one"):
            supernet.mask_op(1, "sc", 0)
    assert supernet.candidates(1, "sc") == (0, 1)
    supernet.decide(2, "op1", 2)
    assert supernet.candidates(2, "op1") == (2,) and supernet.edge_weights(2, "op1")[2] == 1.0
    assert (2, "op1") not in supernet.undecided_edges()
    for bad in ((3, "op0", 0), (0, "zero", 0), (0, (0, 4), 0), (0, "op0", 3), (0, "sc", "conv")):
        with pytest.raises(ConfigError):
            supernet.mask_op(*bad)
    supernet.reset_masks()


def test_load_from_model_checks_the_model(supernet):
    with pytest.raises(ConfigError, match="width"):
        supernet.load_from_model(bt.build_model((0, 0, 0), num_classes=CLASSES, width=4, resolution=8))
    model = bt.build_model((0, 1, 2), **GEOMETRY)
    with pytest.raises(ConfigError, match="blocks"):
        supernet.load_from_model(model, cells=(canonical_cell(1), canonical_cell(1), canonical_cell(2)))


def test_darts_step_moves_alpha_and_weights(batch):
    torch.manual_seed(0)
    net = SuperNet(**GEOMETRY).train()
    w_opt, a_opt = make_darts_optimizers(net, lr=0.05, arch_lr=0.01)
    targets = torch.tensor([0, 1, 2, 3])
    train_batch, val_batch = (batch, targets), (batch.flip(0), targets)
    alpha = [p.detach().clone() for p in net.arch_parameters()]
    weights = [p.detach().clone() for p in net.weight_parameters()]
    losses = darts_step(net, train_batch, val_batch, w_opt, a_opt, nn.CrossEntropyLoss())
    assert set(losses) == {"val_loss", "train_loss"} and all(np.isfinite(list(losses.values())))
    assert all(not torch.equal(a, p) for a, p in zip(alpha, net.arch_parameters(), strict=True))
    assert sum(not torch.equal(w, p) for w, p in zip(weights, net.weight_parameters(), strict=True)) > 0
    assert all(p.grad is None for p in net.parameters())
