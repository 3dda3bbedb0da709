"""DARTS-PT on the Blox supernet: seeded bi-level training that resumes bit-for-bit, and a
perturbation-based projection that is reproducible and always ends at a valid block-id triple."""

from __future__ import annotations

import blox_train.darts_pt as dpt
import pytest
import torch
from blox_space import NUM_STAGES
from blox_space.blocks import NUM_BLOCKS
from blox_train.data import load_dataset
from blox_train.errors import ConfigError
from blox_train.recipes import get_recipe
from blox_train.supernet import EDGES, FLAG_EDGES, SuperNet, cell_block_id

torch.set_num_threads(1)

GEOMETRY = {"num_classes": 10, "width": 8, "resolution": 8}


def _batches(n: int, seed: int, size: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, 3, 8, 8, generator=gen), torch.randint(0, 10, (size,), generator=gen))
        for _ in range(n)
    ]


TRAIN, VAL = _batches(2, 1), _batches(2, 2)


def _net(seed: int = 0) -> SuperNet:
    torch.manual_seed(seed)
    return SuperNet(**GEOMETRY)


def _state(net: SuperNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_training_changes_alpha_and_records_seconds() -> None:
    net = _net()
    before = [a.detach().clone() for a in net.arch_parameters()]
    result = dpt.train_supernet(net, TRAIN, VAL, epochs=1, seed=0)
    assert result.epochs == 1 and result.resumed_from == 0 and result.seconds > 0
    assert len(result.history["train_loss"]) == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, net.arch_parameters(), strict=True))


def test_resume_equals_uninterrupted_run(tmp_path) -> None:
    straight = _net()
    dpt.train_supernet(straight, TRAIN, VAL, epochs=2, seed=3)
    ckpt = tmp_path / "supernet.pt"
    first = _net()
    dpt.train_supernet(first, TRAIN, VAL, epochs=1, seed=3, checkpoint=ckpt)
    torch.manual_seed(999)  # whatever happened in between, the checkpoint's RNG state is restored
    resumed = _net(seed=123)  # a fresh object with other initial weights
    result = dpt.train_supernet(resumed, TRAIN, VAL, epochs=2, seed=3, checkpoint=ckpt)
    assert result.resumed_from == 1 and result.epochs == 2 and len(result.history["seconds"]) == 2
    want, got = _state(straight), _state(resumed)
    assert want.keys() == got.keys()
    for key in want:
        assert torch.equal(want[key], got[key]), key
    again = dpt.train_supernet(_net(seed=5), TRAIN, VAL, epochs=2, seed=3, checkpoint=ckpt)
    assert again.resumed_from == 2 and again.seconds == result.seconds  # nothing left to train


def test_projection_is_seeded_and_valid() -> None:
    results = []
    for _ in range(2):
        net = _net()
        dpt.train_supernet(net, TRAIN, VAL, epochs=1, seed=0)
        results.append((dpt.project(net, VAL, TRAIN, seed=7, proj_intv=1), _state(net)))
    (a, state_a), (b, state_b) = results
    assert a.cells == b.cells and a.block_ids == b.block_ids
    assert [(d.stage, d.edge, d.choice) for d in a.decisions] == [
        (d.stage, d.edge, d.choice) for d in b.decisions
    ]
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert len(a.decisions) == NUM_STAGES * len(EDGES) and a.tune_epochs == NUM_STAGES * len(EDGES) - 1
    assert len(a.block_ids) == NUM_STAGES and all(0 <= i < NUM_BLOCKS for i in a.block_ids)
    assert all(cell_block_id(c) >= 0 for c in a.cells)
    assert a.block_ids == SuperNet.to_block_ids(a.cells)
    assert a.argmax_block_ids == "invalid" or len(a.argmax_block_ids) == NUM_STAGES
    assert a.seconds > 0 and len(a.resolutions) == sum(d.forced for d in a.decisions)
    for d in a.decisions:  # decided to the candidate whose removal hurt most, unless that is invalid
        if d.forced:
            assert d.edge in FLAG_EDGES and (d.measured, d.choice) == (0, 1)
        else:
            assert d.choice == d.measured and d.scores[d.choice][0] == min(s[0] for s in d.scores.values())


def test_invalid_cell_rule_forces_skip(monkeypatch) -> None:
    def fake_eval(supernet: SuperNet, batches, **_: object) -> tuple[float, float]:
        # each binary edge left with skip only costs accuracy, so masking ``zero`` always hurts most
        skips = sum(supernet.candidates(s, e) == (1,) for s in range(NUM_STAGES) for e in FLAG_EDGES)
        return 1.0, 100.0 - 5.0 * skips

    net = _net()
    net.decide(0, "prev", "zero")
    net.decide(0, "input", "zero")
    monkeypatch.setattr(dpt, "evaluate_supernet", fake_eval)
    result = dpt.project(net, VAL, TRAIN, seed=1, proj_intv=0)
    sc = next(d for d in result.decisions if (d.stage, d.edge) == (0, "sc"))
    assert sc.measured == 0 and sc.choice == 1 and sc.forced
    assert len(result.resolutions) == NUM_STAGES and any("stage 0, edge sc" in r for r in result.resolutions)
    for cell in result.cells:
        assert cell_block_id(cell) >= 0
        assert cell[2:].count(1) >= 1  # at least one binary edge is skip in every stage
    assert all(0 <= i < NUM_BLOCKS for i in result.block_ids)
    for d in result.decisions:  # the others follow the (fake) measurement: zero unless that is invalid
        if d.edge in FLAG_EDGES:
            assert d.measured == 0 and d.choice == (1 if d.forced else 0)


def test_project_rejects_invalid_start_and_bad_interval() -> None:
    net = _net()
    for edge in FLAG_EDGES:
        net.decide(1, edge, "zero")
    with pytest.raises(ConfigError, match="stage 1"):
        dpt.project(net, VAL, TRAIN, seed=0, proj_intv=0)
    with pytest.raises(ConfigError):
        dpt.project(_net(), VAL, TRAIN, seed=0, proj_intv=-1)


def test_search_batches_from_a_dataset() -> None:
    data = load_dataset("synthetic", resolution=8)
    recipe = get_recipe("ci").replace(batch_size=16, eval_batch_size=64)
    batches = dpt.search_batches(data, recipe, resolution=8, seed=0, device=torch.device("cpu"))
    x, y = next(iter(batches.train(1)))
    assert x.shape == (16, 3, 8, 8) and y.shape == (16,)
    xa, _ = next(iter(batches.arch(1)))
    xv, _ = next(iter(batches.eval(0)))
    assert xa.shape[0] == 16 and xv.shape[0] == min(64, len(data.val))
    net = _net()
    first = [list(batches.train(1))[:2], list(batches.arch(1))[:2]]
    dpt.train_supernet(net, first[0], first[1], epochs=1, seed=0)
    loss, top1 = dpt.evaluate_supernet(net, [(xv, _) for xv, _ in list(batches.eval(0))[:1]])
    assert loss > 0 and 0.0 <= top1 <= 100.0


@pytest.mark.parametrize("tune_alpha", [False, True])
def test_tuning_between_projections(tune_alpha: bool) -> None:
    net = _net()
    for s in range(NUM_STAGES):
        for edge, choice in zip(EDGES, (0, 1, 1, 0, 0), strict=True):
            if s > 0 or edge not in ("op0", "op1"):
                net.decide(s, edge, choice)
    alpha = [a.detach().clone() for a in net.arch_parameters()]
    weights = [w.detach().clone() for w in net.weight_parameters()]
    result = dpt.project(net, VAL, TRAIN, seed=0, proj_intv=1, tune_alpha=tune_alpha)
    assert [(d.stage, d.edge) for d in result.decisions] in (
        [(0, "op0"), (0, "op1")],
        [(0, "op1"), (0, "op0")],
    )
    assert result.tune_epochs == 1 and not result.resolutions
    assert result.cells[1:] == ((0, 1, 1, 0, 0),) * 2
    alpha_moved = any(not torch.equal(a, b) for a, b in zip(alpha, net.arch_parameters(), strict=True))
    assert alpha_moved == tune_alpha
    assert any(not torch.equal(a, b) for a, b in zip(weights, net.weight_parameters(), strict=True))
