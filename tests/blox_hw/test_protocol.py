from __future__ import annotations

import blox_hw as bh
import numpy as np
import pytest
from blox_hw.protocol import interquartile_mean, relative_spread, trimmed_mean_of_means
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

finite = st.floats(min_value=1e-6, max_value=10.0, allow_nan=False, allow_infinity=False)


def test_interquartile_mean_known_vectors():
    assert interquartile_mean([1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.5)
    assert interquartile_mean([5.0]) == 5.0
    assert interquartile_mean([1.0, 9.0]) == 5.0  # n // 4 == 0: nothing dropped
    # 8 values: the 2 smallest and 2 largest are dropped
    assert interquartile_mean([0, 100, 3, 4, 5, 6, -50, 1000]) == pytest.approx((3 + 4 + 5 + 6) / 4)
    np.testing.assert_allclose(interquartile_mean([[1, 2, 3, 4], [4, 4, 4, 40]], axis=1), [2.5, 4.0])


def test_interquartile_mean_rejects_empty():
    with pytest.raises(ValueError):
        interquartile_mean([])


@given(arrays(np.float64, st.integers(1, 40), elements=finite))
def test_interquartile_mean_is_a_robust_location(values):
    iqm = float(interquartile_mean(values))
    assert values.min() - 1e-12 <= iqm <= values.max() + 1e-12
    assert iqm == pytest.approx(float(interquartile_mean(values[::-1])))  # order does not matter
    if values.size >= 4:  # one wild outlier is always dropped
        spoiled = values.copy()
        spoiled[np.argmax(spoiled)] = 1e9
        assert float(interquartile_mean(spoiled)) == pytest.approx(iqm)


def test_statistic_on_synthetic_timings():
    rng = np.random.default_rng(0)
    base = 0.010
    timings = base + rng.uniform(-1e-4, 1e-4, size=(20, 8))
    # scheduler hiccups: a few huge repetitions and one whole slow run
    timings[3, 2] = 1.0
    timings[11, 0] = 0.5
    timings[7, :] = 0.05
    assert trimmed_mean_of_means(timings) == pytest.approx(base, abs=1e-4)
    assert relative_spread(timings) < 0.05
    assert trimmed_mean_of_means(np.full((4, 4), 0.02)) == pytest.approx(0.02)
    assert relative_spread(np.full((4, 4), 0.02)) == 0.0


def test_spread_is_iqr_over_median_of_run_means():
    run_means = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    timings = np.repeat(run_means[:, None], 3, axis=1)
    q25, q50, q75 = np.percentile(run_means, [25, 50, 75])
    assert relative_spread(timings) == pytest.approx((q75 - q25) / q50)


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((0, 3))])
def test_statistic_needs_runs_by_reps(bad):
    with pytest.raises(ValueError):
        trimmed_mean_of_means(bad)


@pytest.mark.parametrize("name", bh.list_protocols())
def test_registered_protocols_round_trip(name):
    protocol = bh.get_protocol(name)
    assert protocol.name == name and protocol.batch_size == 1
    data = protocol.to_dict()
    assert data["version"] == bh.PROTOCOL_VERSION and data["units"] == "s"
    assert bh.Protocol.from_dict(data) == protocol
    assert protocol.num_calls == protocol.warmup_runs + protocol.num_runs * protocol.num_reps


def test_protocol_overrides_and_errors():
    assert bh.get_protocol("quick", batch_size=4, num_runs=None).batch_size == 4
    with pytest.raises(bh.ProtocolError, match="num_runs"):
        bh.get_protocol("quick", num_runs=0)
    with pytest.raises(bh.ProtocolError, match="pause_s"):
        bh.get_protocol("quick", pause_s=-1)
    with pytest.raises(bh.ProtocolError, match="wall, thread"):
        bh.get_protocol("quick", clock="sundial")
    assert bh.get_protocol("quick", clock="thread").to_dict()["clock"] == "thread"
    with pytest.raises(bh.UnknownProtocolError, match="quick"):
        bh.get_protocol("quik")
    with pytest.raises(ValueError, match="already registered"):
        bh.register_protocol("quick")(lambda: bh.Protocol("quick"))
    assert bh.list_protocols("f*") == ["full"]
