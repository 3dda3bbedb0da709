"""Every registered predictor follows the estimator contract (blox_predict.testing.check_predictor)."""

from __future__ import annotations

import numpy as np
import pytest
from blox_predict import (
    BasePredictor,
    NotFittedError,
    PredictorFileError,
    UnknownPredictorError,
    get_predictor,
    list_predictors,
    load_predictor,
    to_indices,
)
from blox_predict.testing import check_predictor
from blox_space import to_blocks, to_hash
from blox_space.errors import ConfigError, InvalidArchitectureError

from .conftest import FAST_PARAMS


def test_every_registered_predictor_has_fast_params():
    assert set(list_predictors()) == set(FAST_PARAMS)


@pytest.mark.parametrize("name", sorted(FAST_PARAMS))
def test_check_predictor(name):
    check_predictor(get_predictor(name, **FAST_PARAMS[name]))


def test_get_predictor_unknown_name_lists_known():
    with pytest.raises(UnknownPredictorError) as err:
        get_predictor("gnc")
    assert "gcn" in str(err.value)


def test_set_params_unknown():
    name = list_predictors()[0]
    with pytest.raises(ConfigError, match="no parameter"):
        get_predictor(name, no_such=1)


def test_to_indices_forms():
    models = np.array([0, 5, 91124])
    assert to_indices(models).tolist() == [0, 5, 91124]
    assert to_indices([to_blocks(int(m)) for m in models]).tolist() == [0, 5, 91124]
    assert to_indices(np.array([to_blocks(int(m)) for m in models])).tolist() == [0, 5, 91124]
    assert to_indices([to_hash(int(m)) for m in models]).tolist() == [0, 5, 91124]
    with pytest.raises(InvalidArchitectureError):
        to_indices(np.array([0, 91125]))
    with pytest.raises(ConfigError):
        to_indices(7)
    with pytest.raises(InvalidArchitectureError):
        to_indices(["not-an-arch"])


def test_load_errors(tmp_path):
    with pytest.raises(PredictorFileError, match="not a saved predictor"):
        load_predictor(tmp_path)
    (tmp_path / "predictor.json").write_text("{broken")
    (tmp_path / "weights.pt").write_bytes(b"")
    with pytest.raises(PredictorFileError, match="unreadable"):
        load_predictor(tmp_path)


def test_save_unfitted_raises(tmp_path):
    est = get_predictor(list_predictors()[0])
    assert isinstance(est, BasePredictor)
    with pytest.raises(NotFittedError):
        est.save(tmp_path / "p")
