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

__version__ = "0.1.0"

__all__ = [
    "BRPPredictor",
    "BasePredictor",
    "GCNPredictor",
    "DonnaPredictor",
    "LanaPredictor",
    "PROXY_NAMES",
    "ProxyPredictor",
    "NotFittedError",
    "PREDICTORS",
    "PredictError",
    "PredictorFileError",
    "TooFewPointsError",
    "UnknownPredictorError",
    "check_is_fitted",
    "clone",
    "compute_proxies",
    "evaluate_predictor",
    "get_predictor",
    "list_predictors",
    "load_predictor",
    "open_proxies",
    "register_predictor",
    "summarize_evaluation",
    "to_indices",
]
