"""blox-predict: accuracy predictors for the Blox space as scikit-learn style estimators.

Every predictor is registered by name (:func:`get_predictor`, :func:`list_predictors`), fits on
architectures in any :data:`~blox_space.ArchLike` form, and saves as JSON + a ``state_dict``
(:func:`load_predictor`). :func:`blox_predict.testing.check_predictor` states the contract.
"""

from __future__ import annotations

from .base import (
    PREDICTORS,
    BasePredictor,
    check_is_fitted,
    clone,
    get_predictor,
    list_predictors,
    load_predictor,
    register_predictor,
    to_indices,
)
from .brp import BRPPredictor
from .data import TARGET_METRICS, training_data
from .donna import DonnaPredictor
from .errors import (
    NotFittedError,
    PredictError,
    PredictorFileError,
    TooFewPointsError,
    UnknownPredictorError,
)
from .evaluate import evaluate_predictor, summarize_evaluation
from .gcn import GCNPredictor
from .lana import LanaPredictor
from .proxies import PROXY_NAMES, ProxyPredictor, compute_proxies, open_proxies
from .surrogate import Ensemble, complete_benchmark, fit_ensemble, load_ensemble

__version__ = "0.1.0"

__all__ = [
    "BRPPredictor",
    "BasePredictor",
    "Ensemble",
    "GCNPredictor",
    "DonnaPredictor",
    "LanaPredictor",
    "PROXY_NAMES",
    "ProxyPredictor",
    "NotFittedError",
    "PREDICTORS",
    "PredictError",
    "PredictorFileError",
    "TARGET_METRICS",
    "TooFewPointsError",
    "UnknownPredictorError",
    "check_is_fitted",
    "clone",
    "complete_benchmark",
    "compute_proxies",
    "evaluate_predictor",
    "fit_ensemble",
    "get_predictor",
    "list_predictors",
    "load_ensemble",
    "load_predictor",
    "open_proxies",
    "register_predictor",
    "summarize_evaluation",
    "to_indices",
    "training_data",
]
