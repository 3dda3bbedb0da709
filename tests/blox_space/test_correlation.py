"""Rank correlations and block oracles of the blockwise figures (blox_space.bench.correlation)."""

import blox_space as bs
import numpy as np
import pytest
from blox_space.bench.correlation import block_oracle, signature_rho, spearman
from hypothesis import given
from hypothesis import strategies as st

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(st.tuples(finite, finite), min_size=3, max_size=40))
def test_spearman_is_symmetric_and_bounded(pairs):
    a, b = np.array(pairs).T
    rho = spearman(a, b)
    if np.isnan(rho):
        assert len(np.unique(a)) == 1 or len(np.unique(b)) == 1
    else:
        assert -1 - 1e-12 <= rho <= 1 + 1e-12
        assert rho == pytest.approx(spearman(b, a), abs=1e-12)


@given(st.lists(finite, min_size=3, max_size=40, unique=True))
def test_spearman_of_a_monotone_map_is_one(values):
    a = np.array(values)
    assert spearman(a, 2 * a) == pytest.approx(1.0)  # exact in floats: no new ties
    assert spearman(a, -a) == pytest.approx(-1.0)


def test_spearman_matches_scipy_with_ties_and_nan():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = rng.integers(0, 5, 25).astype(float)
        b = rng.normal(size=25)
        b[rng.integers(0, 25, 3)] = np.nan
        keep = np.isfinite(b)
        assert spearman(a, b) == pytest.approx(stats.spearmanr(a[keep], b[keep]).statistic, abs=1e-12)


def test_spearman_needs_three_pairs_and_equal_lengths():
    assert np.isnan(spearman([1, 2], [3, 4]))
    assert np.isnan(spearman([1, 2, np.nan, 4], [1, np.nan, 3, 4]))
    with pytest.raises(bs.QueryError, match="one length"):
        spearman([1, 2, 3], [1, 2])


def test_block_oracle_is_the_best_model_containing_each_block():
    rng = np.random.default_rng(1)
    models = rng.choice(bs.NUM_MODELS, 200, replace=False)
    acc = rng.uniform(0, 100, 200)
    acc[:5] = np.nan
    oracle = block_oracle(models, acc)
    blocks = np.array([bs.to_blocks(int(m)) for m in models])
    for stage in range(bs.NUM_STAGES):
        for block in range(bs.NUM_BLOCKS):
            held = (blocks[:, stage] == block) & np.isfinite(acc)
            expected = acc[held].max() if held.any() else np.nan
            np.testing.assert_equal(oracle[stage, block], expected)


def test_signature_rho_negates_the_donna_loss():
    oracle = np.tile(np.arange(bs.NUM_BLOCKS, dtype=float), (bs.NUM_STAGES, 1))
    nsr = -oracle + 100  # lower NSR = better block
    np.testing.assert_allclose(signature_rho(nsr, oracle, kind="donna"), 1.0)
    np.testing.assert_allclose(signature_rho(oracle, oracle, kind="lana"), 1.0)
    with pytest.raises(bs.QueryError, match="unknown signature"):
        signature_rho(nsr, oracle, kind="nas")
    with pytest.raises(bs.QueryError, match=r"\(3, 45\)"):
        signature_rho(nsr[:2], oracle, kind="lana")
