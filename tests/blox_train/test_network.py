"""The built network matches the original exactly: params and ptflops MACs against the
analytic cost model of blox-space, for every block at every stage and a sample of models."""

from __future__ import annotations

import blox_space as bs
import blox_train as bt
import numpy as np
import pytest
import torch
from blox_space import BLOCKS, NUM_MODELS, NUM_STAGES
from blox_space.cost import block_costs, fixed_costs, model_macs, model_params
from blox_train.network import Cell, stage_shapes

# facts §2.3 / §2.5: per-op params at stages 0/1/2 and whole-model reference values
OP_PARAMS = {
    "conv": (37248, 148224, 591360),
    "mbconv": (58176, 231040, 920832),
    "bconv": (21856, 72384, 259456),
}
REFERENCE = [
    (0, 2917604, 278475876),
    ("[[[0],[1,1,1,1]],[[1],[1,1,0,0]],[[0],[0,1,1,0]]]", 3104164, 291994596),
    (91124, 2071332, 167474276),
    (8284, 3784036, 305711460),
    ("bconv | bconv | bconv", 1717636, 108811364),
    ("conv | conv | conv", 2140772, 164312164),
]


@pytest.mark.parametrize(("arch", "params", "macs"), REFERENCE)
def test_reference_models(arch, params, macs):
    model = bt.build_model(arch)
    assert bt.count_params(model) == params
    assert bt.count_macs(model) == macs


@pytest.mark.parametrize("op", bs.OPS)
def test_op_params_match_facts(op):
    single = next(b for b in BLOCKS if b.scheme == "single" and bs.OPS[b.ops[0]] == op)
    for stage, channels in enumerate((32, 64, 128)):
        assert bt.count_params(Cell(single, channels)) == OP_PARAMS[op][stage]


@pytest.mark.parametrize(("width", "resolution"), [(32, 32), (8, 16), (4, 8)])
def test_every_block_at_every_stage(width, resolution):
    """All 45 blocks x 3 stages: cell params and MACs equal the analytic per-block costs."""
    params, macs, _ = block_costs(width=width, resolution=resolution)
    for stage, ((c, h, w), _) in enumerate(stage_shapes(width=width, resolution=resolution)):
        for block in BLOCKS:
            cell = Cell(block, c)
            assert bt.count_params(cell) == params[stage, block.id], (stage, block.name)
            assert bt.count_macs(cell, input_shape=(c, h, w)) == macs[stage, block.id]


def test_fixed_parts_match_facts():
    parts = fixed_costs()
    assert sum(p for p, _ in parts.values()) == 1363940
    assert sum(m for _, m in parts.values()) == 50148452


@pytest.mark.parametrize(("width", "resolution", "num_classes"), [(32, 32, 100), (8, 16, 10)])
def test_sampled_models_match_analytic_cost(width, resolution, num_classes):
    """A seeded sample of 200 models: built params and hook-counted MACs equal blox-space's."""
    rng = np.random.default_rng(0)
    sample = rng.choice(NUM_MODELS, size=200, replace=False)
    for index in sample.tolist():
        model = bt.build_model(index, width=width, resolution=resolution, num_classes=num_classes)
        kw = dict(width=width, resolution=resolution, num_classes=num_classes)
        assert bt.count_params(model) == model_params(index, **kw), index
        assert bt.count_macs(model) == model_macs(index, **kw), index


def test_any_arch_form_builds_the_same_model():
    index = 24519
    forms = [index, bs.to_blocks(index), bs.to_arch_vec(index), bs.to_hash(index), bs.to_name(index)]
    assert {bt.build_model(f).block_ids for f in forms} == {bs.to_blocks(index)}
    assert bt.build_model(bs.to_name(index)).index == index


def test_forward_features_and_stage_shapes():
    model = bt.build_model(5, width=8, resolution=16, num_classes=10).eval()
    x = torch.randn(2, 3, 16, 16)
    inputs, outputs = model.forward_features(x)
    assert len(inputs) == len(outputs) == NUM_STAGES
    for (cin, cout), fin, fout in zip(stage_shapes(width=8, resolution=16), inputs, outputs, strict=True):
        assert fin.shape[1:] == cin and fout.shape[1:] == cout
    torch.testing.assert_close(model.head(outputs[-1]), model(x))


def test_replace_stage_returns_new_model_and_keeps_original():
    torch.manual_seed(0)
    teacher = bt.build_model(0, width=8, resolution=16, num_classes=10).eval()
    other = bt.build_model(bs.to_index((0, 44, 0)), width=8, resolution=16, num_classes=10).eval()
    student = teacher.replace_stage(1, other.stages[1])
    x = torch.randn(2, 3, 16, 16)
    assert student.stages[1] is other.stages[1] and teacher.stages[1] is not other.stages[1]
    assert student.stem is teacher.stem
    inputs, _ = teacher.forward_features(x)
    _, outputs = student.forward_features(x)
    torch.testing.assert_close(outputs[1], other.stages[1](inputs[1]))
    with pytest.raises(bt.ConfigError, match="stage 3"):
        teacher.replace_stage(3, other.stages[1])


@pytest.mark.parametrize(("kwargs", "match"), [({"width": 1}, "width"), ({"resolution": 4}, "resolution")])
def test_bad_geometry_raises_config_error(kwargs, match):
    with pytest.raises(bt.ConfigError, match=match):
        bt.build_model(0, **kwargs)


def test_invalid_arch_raises_blox_space_error():
    with pytest.raises(bs.InvalidArchitectureError):
        bt.build_model(NUM_MODELS)


@pytest.mark.parametrize("scheme", bs.SCHEMES)
def test_cell_semantics(scheme):
    """Cell output follows the documented formula of its scheme."""
    block = next(b for b in BLOCKS if b.scheme == scheme)
    torch.manual_seed(0)
    cell = Cell(block, 4).eval()
    x = torch.randn(1, 4, 8, 8)
    ops = list(cell.ops)
    with torch.no_grad():
        if scheme == "single":
            want = ops[0](x)
        elif scheme == "parallel":
            want = ops[1](x) + ops[0](x)
        else:
            a = ops[0](x)
            b = ops[1](a + x) if "inp" in scheme else ops[1](a)
            want = b + a if scheme.endswith("res") else b
        torch.testing.assert_close(cell(x), want)


def test_reset_parameters_redraws_weights_and_bn_statistics():
    model = bt.build_model(0, width=4, resolution=8, num_classes=10)
    model.train()(torch.randn(4, 3, 8, 8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.reset_parameters()
    after = model.state_dict()
    assert not torch.equal(before["stem.0.weight"], after["stem.0.weight"])
    assert torch.equal(after["stem.1.running_mean"], torch.zeros(4))
