"""The estimator contract every Blox predictor follows (STYLE §7), the predictor registry, and
saving / loading.

A predictor is a scikit-learn style estimator over architectures:

* hyperparameters only in ``__init__`` (keyword-only, with defaults, stored under the same name,
  no logic), so :meth:`BasePredictor.get_params`, :meth:`~BasePredictor.set_params` and
  :func:`clone` work from the ``__init__`` signature;
* ``fit(archs, y)`` starts from scratch, seeds itself from ``random_state``, leaves learned state in
  attributes ending with ``_`` and returns ``self``;
* ``predict(archs)`` returns a 1-D float64 array aligned with ``archs``, and raises
  :class:`~blox_predict.errors.NotFittedError` before ``fit``. Higher predictions mean better
  models (for rankers such as BRP only the order is meaningful).

``archs`` is any sequence of :data:`~blox_space.ArchLike` (model indices, block-id triples, arch
vectors, hashes, names) or an integer array of model indices / an ``(N, 3)`` array of block ids;
:func:`to_indices` turns it into model indices once.

Saving (:meth:`BasePredictor.save`, :func:`load_predictor`) writes a folder with
``predictor.json`` (format version, registered name, hyperparameters, the training-set description
and the fitted scalars) and ``weights.pt`` (a flat dict of tensors, loaded with
``torch.load(weights_only=True)``). No pickles.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from blox_space import NUM_MODELS, to_index
from blox_space.arch import blocks_to_indices
from blox_space.errors import ConfigError
from blox_space.registry import Registry

from .errors import NotFittedError, PredictorFileError, UnknownPredictorError

__all__ = [
    "BasePredictor",
    "PREDICTORS",
    "register_predictor",
    "get_predictor",
    "list_predictors",
    "clone",
    "check_is_fitted",
    "to_indices",
    "check_targets",
    "load_predictor",
    "FORMAT_VERSION",
]

#: Version of the saved-predictor format (``predictor.json``).
FORMAT_VERSION = 1
_JSON = "predictor.json"
_WEIGHTS = "weights.pt"

P = TypeVar("P", bound="BasePredictor")

#: Every predictor class by name (``"gcn"``, ``"brp"``, ``"donna"``, ...).
PREDICTORS: Registry[type[BasePredictor]] = Registry("predictor", UnknownPredictorError)


def register_predictor(name: str) -> Callable[[type[P]], type[P]]:
    """Class decorator registering a predictor under ``name`` (sets its ``name`` attribute)."""

    def decorate(cls: type[P]) -> type[P]:
        cls.name = name
        PREDICTORS.add(name, cls)
        return cls

    return decorate


def get_predictor(name: str, **params: Any) -> BasePredictor:
    """A new, unfitted predictor of the registered ``name`` with ``params`` as hyperparameters.

    Raises:
        UnknownPredictorError: no predictor of that name (lists the known ones).
        ConfigError: a parameter the predictor does not have.
    """
    cls = PREDICTORS.get(name)
    return cls().set_params(**params)


def list_predictors(pattern: str = "*") -> list[str]:
    """Registered predictor names matching a glob ``pattern``, sorted."""
    return PREDICTORS.list(pattern)


def to_indices(archs: Any) -> np.ndarray:
    """Model indices (``(N,)`` int64) of a sequence of architectures in any :data:`ArchLike` form.

    Integer arrays are taken as model indices, ``(N, 3)`` integer arrays as block ids, anything
    else element by element through :func:`blox_space.to_index`.

    Raises:
        InvalidArchitectureError: an element is not an architecture (says which and why).
        ConfigError: ``archs`` is a single architecture or a string rather than a sequence.
    """
    if isinstance(archs, (str, bytes, int, np.integer)):
        raise ConfigError("expected a sequence of architectures, got a single value; wrap it in a list")
    if isinstance(archs, np.ndarray) and np.issubdtype(archs.dtype, np.integer):
        if archs.ndim == 1:
            out = archs.astype(np.int64, copy=False)
            if out.size and (out.min() < 0 or out.max() >= NUM_MODELS):
                bad = out[(out < 0) | (out >= NUM_MODELS)][0]
                to_index(int(bad))  # raises the space's own error
            return out
        if archs.ndim == 2 and archs.shape[1] == 3:
            return blocks_to_indices(archs)
    try:
        items = list(archs)
    except TypeError:
        raise ConfigError(f"expected a sequence of architectures, got {type(archs).__name__}") from None
    return np.fromiter((to_index(a) for a in items), dtype=np.int64, count=len(items))


def check_targets(y: Any, n: int) -> np.ndarray:
    """``y`` as a finite 1-D float64 array of length ``n``.

    Raises:
        ConfigError: wrong shape, or a NaN / infinite value (says where).
    """
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError("targets must be numbers") from None
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ConfigError(
            f"targets must be a 1-D array of length {n} (one per architecture), got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ConfigError(
            f"targets must be finite; {int(bad.sum())} are not (first at position {int(np.argmax(bad))})"
        )
    return arr


def check_is_fitted(est: BasePredictor) -> None:
    """Raise :class:`~blox_predict.errors.NotFittedError` unless ``est`` has been fitted."""
    if not getattr(est, "is_fitted_", False):
        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call fit(archs, y) first")


def clone(est: P) -> P:
    """A new, unfitted estimator with the same hyperparameters (arrays copied)."""
    params = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in est.get_params().items()}
    return type(est)(**params)


class BasePredictor:
    """Base of every predictor: parameters from the ``__init__`` signature, a readable repr,
    the fitted check, and save / load. Subclasses implement ``fit`` and ``predict`` and, to be
    saved, :meth:`_get_state` / :meth:`_set_state`."""

    #: Registered name (set by :func:`register_predictor`).
    name: str = ""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters by name (``deep`` is accepted for scikit-learn compatibility)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: P, **params: Any) -> P:
        """Set hyperparameters; returns ``self``.

        Raises:
            ConfigError: an unknown parameter (lists the valid ones).
        """
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = type(self)()
        changed = []
        for key, value in self.get_params().items():
            default = getattr(defaults, key)
            same = (
                np.array_equal(value, default)
                if isinstance(value, np.ndarray) or isinstance(default, np.ndarray)
                else value == default
            )
            if not same:
                changed.append(f"{key}={_short_repr(value)}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # --- learned-state hooks ----------------------------------------------------------------------
    def fit(self: P, archs: Sequence[Any], y: Any) -> P:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, archs: Sequence[Any]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(meta, tensors)``: JSON-able fitted scalars/lists and a flat dict of tensors/arrays."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _set_state(self, meta: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
        """Restore what :meth:`_get_state` returned (the inverse; sets ``is_fitted_``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")

    # --- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path, *, train: Mapping[str, Any] | None = None) -> Path:
        """Save the fitted predictor into the folder ``path`` (created; files replaced).

        Args:
            train: a JSON-able description of the training set (store, metric, models, ...);
                defaults to what ``fit`` recorded in ``train_``.

        Raises:
            NotFittedError: not fitted.
        """
        import torch

        check_is_fitted(self)
        meta, tensors = self._get_state()
        params = {k: _jsonable(v) for k, v in self.get_params().items()}
        doc = {
            "format": "blox-predict",
            "format_version": FORMAT_VERSION,
            "predictor": self.name,
            "class": type(self).__name__,
            "params": params,
            "train": dict(train) if train is not None else getattr(self, "train_", {}),
            "state": meta,
        }
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        weights = {
            k: (torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v)
            for k, v in tensors.items()
        }
        torch.save(weights, folder / _WEIGHTS)
        (folder / _JSON).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        return folder


def load_predictor(path: str | Path) -> BasePredictor:
    """Load a predictor saved with :meth:`BasePredictor.save` (weights with ``weights_only=True``).

    Raises:
        PredictorFileError: missing files, another format, or damaged contents.
        UnknownPredictorError: the saved predictor's name is not registered here.
    """
    import torch

    folder = Path(path)
    meta_file, weights_file = folder / _JSON, folder / _WEIGHTS
    if not meta_file.is_file() or not weights_file.is_file():
        raise PredictorFileError(f"{folder}: not a saved predictor (needs {_JSON} and {_WEIGHTS})")
    doc = read_format_file(meta_file, fmt="blox-predict", version=FORMAT_VERSION, what="blox-predict file")
    cls = PREDICTORS.get(str(doc.get("predictor")))
    try:
        est = cls().set_params(**{k: _from_json(v) for k, v in doc.get("params", {}).items()})
    except ConfigError as err:
        raise PredictorFileError(f"{meta_file}: {err}") from None
    try:
        tensors = torch.load(weights_file, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
        raise PredictorFileError(f"{weights_file}: unreadable ({type(err).__name__}: {err})") from None
    est._set_state(doc.get("state", {}), tensors)
    est.train_ = doc.get("train", {})
    est.is_fitted_ = True
    return est


def read_format_file(file: Path, *, fmt: str, version: int, what: str) -> dict[str, Any]:
    """The JSON document in ``file``, checked to carry ``"format": fmt`` and ``"format_version": version``
    (how saved predictors and ensembles are recognised).

    Raises:
        PredictorFileError: unreadable, not JSON, another format (``not a <what>``) or version.
    """
    try:
        doc = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PredictorFileError(f"{file}: unreadable ({err})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise PredictorFileError(f"{file}: not a {what}")
    if doc.get("format_version") != version:
        raise PredictorFileError(
            f"{file}: format version {doc.get('format_version')!r}, this blox-predict reads {version}"
        )
    return doc


def _short_repr(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape})"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value.get("dtype", "float64"))
    return value
