from __future__ import annotations

import blox_space as bs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st


def test_specs():
    assert bs.parse_models("0:4").tolist() == [0, 1, 2, 3]
    assert bs.parse_models(":3").tolist() == [0, 1, 2]
    assert len(bs.parse_models("91120:")) == 5
    assert bs.parse_models("9,3,3").tolist() == [3, 9]
    assert bs.parse_models([5, 1]).tolist() == [1, 5]
    assert len(bs.parse_models("all")) == bs.NUM_MODELS
    sample = bs.parse_models("sample:200:0")
    assert len(sample) == 200 and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, bs.parse_models("sample:200:0"))
    assert not np.array_equal(sample, bs.parse_models("sample:200:1"))


@pytest.mark.parametrize(
    "bad", ["", "x", "0:x", "5:5", "5:2", "0:91126", "sample:0:1", "sample:3", "-1", "91125", ["a"]]
)
def test_bad_specs_raise_model_spec_error(bad):
    with pytest.raises(bs.ModelSpecError):
        bs.parse_models(bad)


@given(st.integers(0, bs.NUM_MODELS - 1), st.integers(1, 500))
def test_ranges_round_trip(start, length):
    stop = min(start + length, bs.NUM_MODELS)
    assert bs.parse_models(f"{start}:{stop}").tolist() == list(range(start, stop))
