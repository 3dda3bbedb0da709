"""``check_predictor``: the estimator contract of STYLE §7, stated as executable checks.

Every registered predictor passes it (the tests run it on each, with small hyperparameters so it
is quick). It raises ``AssertionError`` naming the first broken rule.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
from blox_space import NUM_MODELS, to_arch_vec, to_blocks, to_hash, to_name
from blox_space.errors import ConfigError

from .base import BasePredictor, clone
from .errors import NotFittedError

__all__ = ["check_predictor", "synthetic_target"]


def synthetic_target(models: np.ndarray, *, seed: int = 0, noise: float = 0.1) -> np.ndarray:
    """A target that depends on the architecture: a fixed random score per (stage, block), summed
    over the three stages, with one interaction term and Gaussian noise (seeded)."""
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(3, 45))
    models = np.asarray(models, dtype=np.int64)
    blocks = np.stack([models % 45, (models // 45) % 45, models // 2025], axis=1)
    y = table[0, blocks[:, 0]] + table[1, blocks[:, 1]] + table[2, blocks[:, 2]]
    y += 0.3 * table[0, blocks[:, 0]] * table[2, blocks[:, 2]]
    return y + noise * np.random.default_rng(seed + 1).normal(size=len(models))


def _same(a: np.ndarray, b: np.ndarray, what: str, *, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    assert np.allclose(a, b, rtol=rtol, atol=atol), (
        f"{what}: predictions differ (max |diff| {np.max(np.abs(a - b)):.3g})"
    )


def check_predictor(est: BasePredictor, *, n_train: int = 40, n_test: int = 30, seed: int = 0) -> None:
    """Check that ``est`` follows the predictor contract.

    Checked: get_params / set_params / clone round-trip; ``NotFittedError`` (a ``ValueError``)
    before fit; ``fit`` returns ``self`` and leaves its hyperparameters unchanged; predictions are
    a finite 1-D float array aligned with the input (permuting or subsetting the input permutes /
    subsets them); every ArchLike form (indices, block ids, arch vectors, hashes, names) gives the
    same predictions; the same ``random_state`` gives the same predictions; refitting starts from
    scratch; bad targets raise a ``ConfigError``; it saves, and loading predicts identically.
    """
    rng = np.random.default_rng(seed)
    models = rng.choice(NUM_MODELS, size=2 * n_train + n_test, replace=False)
    train_a, train_b, test = models[:n_train], models[n_train : 2 * n_train], models[2 * n_train :]
    y_a, y_b = synthetic_target(train_a, seed=seed), synthetic_target(train_b, seed=seed + 7)
    name = type(est).__name__

    # parameters
    params = est.get_params()
    twin = clone(est)
    assert type(twin) is type(est), f"{name}: clone changed the type"
    assert set(twin.get_params()) == set(params), f"{name}: clone has other parameters"
    for key, value in params.items():
        other = twin.get_params()[key]
        assert np.array_equal(other, value) if isinstance(value, np.ndarray) else other == value, (
            f"{name}: clone changed parameter {key}"
        )
    assert est.set_params(**params) is est, f"{name}: set_params must return self"
    try:
        est.set_params(no_such_parameter_=1)
    except ConfigError:
        pass
    else:
        raise AssertionError(f"{name}: set_params accepted an unknown parameter")

    # not fitted
    fresh = clone(est)
    try:
        fresh.predict(test)
    except NotFittedError as err:
        assert isinstance(err, ValueError), f"{name}: NotFittedError must be a ValueError"
    else:
        raise AssertionError(f"{name}: predict before fit must raise NotFittedError")

    # fit returns self, hyperparameters unchanged
    first = clone(est)
    before = repr(first.get_params())
    assert first.fit(train_a, y_a) is first, f"{name}: fit must return self"
    assert repr(first.get_params()) == before, f"{name}: fit changed a hyperparameter"
    pred = first.predict(test)
    assert isinstance(pred, np.ndarray) and pred.ndim == 1 and pred.shape == (n_test,), (
        f"{name}: predict must return a 1-D array aligned with its input, got {getattr(pred, 'shape', type(pred))}"
    )
    assert np.issubdtype(pred.dtype, np.floating) and np.isfinite(pred).all(), (
        f"{name}: predictions not finite floats"
    )

    # alignment
    perm = rng.permutation(n_test)
    _same(first.predict(test[perm]), pred[perm], f"{name}: permuted input")
    _same(first.predict(test[:5]), pred[:5], f"{name}: subset of the input")

    # every ArchLike form
    forms: dict[str, Any] = {
        "list of ints": [int(m) for m in test],
        "block ids": np.array([to_blocks(int(m)) for m in test]),
        "block-id tuples": [to_blocks(int(m)) for m in test],
        "arch vectors": [to_arch_vec(int(m)) for m in test],
        "hashes": [to_hash(int(m)) for m in test],
        "names": [to_name(int(m)) for m in test],
    }
    for form, archs in forms.items():
        _same(first.predict(archs), pred, f"{name}: archs as {form}")

    # same seed, same predictions; refit from scratch
    second = clone(est).fit(train_a, y_a)
    _same(second.predict(test), pred, f"{name}: same random_state")
    refit = clone(est).fit(train_b, y_b)
    first.fit(train_b, y_b)
    _same(first.predict(test), refit.predict(test), f"{name}: refit must start from scratch")

    # bad targets
    for bad, why in ((np.full(n_train, np.nan), "NaN targets"), (y_a[:-1], "too few targets")):
        try:
            clone(est).fit(train_a, bad)
        except ConfigError:
            pass
        else:
            raise AssertionError(f"{name}: fit accepted {why}")

    # save / load
    from .base import load_predictor

    with tempfile.TemporaryDirectory() as tmp:
        first.save(tmp)  # every predictor saves (STYLE §7): one that cannot fails the contract
        loaded = load_predictor(tmp)
        assert type(loaded) is type(first), f"{name}: load gave another type"
        _same(loaded.predict(test), first.predict(test), f"{name}: save / load", rtol=0, atol=0)
