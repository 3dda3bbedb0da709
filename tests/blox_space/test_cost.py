from __future__ import annotations

import blox_space as bs
import numpy as np
import pytest
from blox_space import InvalidGeometryError
from blox_space.cost import op_macs, op_params

README_ARCH = [[[0], [1, 1, 1, 1]], [[1], [1, 1, 0, 0]], [[0], [0, 1, 1, 0]]]


@pytest.mark.parametrize(
    ("arch", "params", "macs"),
    [
        (0, 2_917_604, 278_475_876),
        (README_ARCH, 3_104_164, 291_994_596),
        (91124, 2_071_332, 167_474_276),
        (8284, 3_784_036, 305_711_460),
        ("bconv | bconv | bconv", 1_717_636, 108_811_364),
        ("conv | conv | conv", 2_140_772, 164_312_164),
    ],
)
def test_facts_params_and_macs_table(arch, params, macs):
    assert bs.model_params(arch) == params
    assert bs.model_macs(arch) == macs


def test_per_op_params_and_macs_at_the_three_stages():
    channels, sides = (32, 64, 128), (32, 16, 8)
    assert [op_params(0, c) for c in channels] == [37_248, 148_224, 591_360]
    assert [op_params(1, c) for c in channels] == [58_176, 231_040, 920_832]
    assert [op_params(2, c) for c in channels] == [21_856, 72_384, 259_456]
    assert [op_macs(0, c, s) for c, s in zip(channels, sides)] == [38_273_024, 38_010_880, 37_879_808]
    assert [op_macs(1, c, s) for c, s in zip(channels, sides)] == [42_877_312, 42_468_096, 42_436_096]
    assert [op_macs(2, c, s) for c, s in zip(channels, sides)] == [23_035_904, 18_857_984, 16_769_024]


def test_fixed_parts():
    fixed = bs.fixed_costs()
    assert fixed["stem"] == (960, 1_015_808)
    assert fixed["reduction0"] == (64_064, 16_449_536)
    assert fixed["reduction1"] == (255_104, 16_351_232)
    assert fixed["reduction2"] == (1_018_112, 16_302_080)
    assert fixed["head"] == (25_700, 29_796)
    assert sum(p for p, _ in fixed.values()) == 1_363_940
    assert sum(m for _, m in fixed.values()) == 50_148_452


def test_distribution_over_all_models():
    costs = bs.space_costs()
    assert costs["params"].min() == 1_717_636 and costs["params"].max() == 3_784_036
    assert np.median(costs["params"]) == 2_884_900
    assert costs["macs"].min() == 108_811_364 and costs["macs"].max() == 305_711_460
    assert np.median(costs["macs"]) == 247_225_700


@pytest.mark.parametrize(("width", "resolution"), [(32, 32), (8, 16), (16, 28), (3, 9)])
def test_vectorised_equals_scalar(width, resolution):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, bs.NUM_MODELS, 300)
    costs = bs.space_costs(idx, width=width, resolution=resolution, num_classes=10)
    for i, p, m, d in zip(idx, costs["params"], costs["macs"], costs["depth"]):
        assert bs.model_params(int(i), width=width, resolution=resolution, num_classes=10) == p
        assert bs.model_macs(int(i), width=width, resolution=resolution, num_classes=10) == m
        assert bs.model_depth(int(i)) == d


def test_block_costs_sum_to_model_costs():
    params, macs, depth = bs.block_costs()
    assert params.shape == macs.shape == (3, 45) and depth.shape == (45,)
    fixed_p = sum(p for p, _ in bs.fixed_costs().values())
    assert bs.model_params((5, 17, 40)) == fixed_p + params[0, 5] + params[1, 17] + params[2, 40]


def test_params_do_not_depend_on_resolution_but_macs_do():
    assert bs.model_params(123, resolution=16) == bs.model_params(123, resolution=64)
    assert bs.model_macs(123, resolution=64) > bs.model_macs(123, resolution=16)


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 1}, {"width": 0}, {"resolution": 4}, {"num_classes": 0}, {"width": 2.5}, {"width": True}],
)
def test_impossible_geometry_raises_typed_error(kwargs):
    with pytest.raises(InvalidGeometryError):
        bs.model_params(0, **kwargs)


def test_depth_range():
    depth = bs.space_costs()["depth"]
    assert depth.min() == 2 + 3 * (4 + 2) and depth.max() == 2 + 3 * (36 + 2)
