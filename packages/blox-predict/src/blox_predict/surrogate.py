"""Ensembles of fitted predictors and the surrogate-completed benchmark (SPEC §6, §8).

:func:`fit_ensemble` fits K members of one registered predictor on a benchmark or finetune store
(member ``i`` with ``random_state = seed + i``) and saves them in a folder; :func:`complete`
predicts every one of the 91,125 models with them and writes a **surrogate** store
(:mod:`blox_space.store.surrogate`): measured models keep their measured rows, the others get
the ensemble mean, marked ``is_predicted``, with the members' standard deviation as
``prediction_std``, and the store records the ensemble's exact error on the measured models it
did not train on.

An ensemble folder::

    DIR/ensemble.json     what was fitted: predictor, params, metric, source store, seeds,
                          training and held-out models
    DIR/member-0/         one saved predictor each (BasePredictor.save: predictor.json + weights.pt)
    DIR/member-1/ ...

Training set and held-out set: with ``train_size=N`` the N training models are drawn from the
store's measured models with ``numpy.random.default_rng(seed)``, the same for every member (so
the held-out set is shared and its error is the ensemble's); ``train_size=None`` trains on all
of them (no held-out error). With ``bootstrap=True`` member ``i`` fits on a bootstrap resample
of the training models drawn with ``default_rng(seed + i)``, so deterministic predictors (ridge
regressions such as DONNA) get a spread too; otherwise the members differ only in their
``random_state``.

Predictions are on the target metric's scale only for regressors (GCN, DONNA, LANA with its
affine map, the proxy ridge); a ranker's scores (BRP) are not accuracies. Predicted values
outside the metric's valid range (0..100 for accuracies) are clipped to it, and the count is
recorded in the store's ``predictor`` attribute (``clipped_predictions``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from blox_space import NUM_MODELS
from blox_space.errors import ConfigError, StoreError
from blox_space.schema import METRICS
from blox_space.store import check_output_path, write_surrogate_store

from .base import BasePredictor, _jsonable, get_predictor, load_predictor, read_format_file, to_indices
from .data import DEFAULT_METRIC, open_measurements, training_data
from .errors import PredictError, PredictorFileError

__all__ = [
    "ENSEMBLE_FILE",
    "Ensemble",
    "fit_ensemble",
    "load_ensemble",
    "complete_benchmark",
    "heldout_error",
    "split_training",
]

logger = logging.getLogger(__name__)

ENSEMBLE_FILE = "ensemble.json"
_FORMAT = "blox-predict-ensemble"
_FORMAT_VERSION = 1
#: Models predicted per call when completing the space (bounds the memory of graph batches).
PREDICT_CHUNK = 32768


def split_training(models: np.ndarray, train_size: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, heldout)`` model indices, both sorted: ``train_size`` of ``models`` drawn with
    ``default_rng(seed)`` and the rest (all and none for ``train_size=None``).

    Raises:
        ConfigError: a train size < 1 or larger than the number of measured models.
    """
    models = np.asarray(models, dtype=np.int64)
    if train_size is None:
        return models.copy(), models[:0].copy()
    if isinstance(train_size, bool) or not isinstance(train_size, (int, np.integer)) or train_size < 1:
        raise ConfigError(f"the train size must be an int >= 1, got {train_size!r}")
    if train_size > len(models):
        raise ConfigError(
            f"train size {train_size} is larger than the {len(models)} measured models of the store; "
            f"use at most {len(models)}"
        )
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(models), dtype=bool)
    chosen[rng.choice(len(models), size=int(train_size), replace=False)] = True
    return np.sort(models[chosen]), np.sort(models[~chosen])


def heldout_error(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Exact error of predictions on held-out models: ``n``, ``spearman``, ``kendall`` (None for
    fewer than two models or constant values), ``mae`` and ``rmse`` (in the metric's units)."""
    from scipy import stats

    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    n = int(y_true.size)
    out: dict[str, Any] = {"n": n, "spearman": None, "kendall": None, "mae": None, "rmse": None}
    if n == 0:
        return out
    diff = y_pred - y_true
    out["mae"] = float(np.mean(np.abs(diff)))
    out["rmse"] = float(np.sqrt(np.mean(diff**2)))
    if n >= 2 and np.ptp(y_true) > 0 and np.ptp(y_pred) > 0:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            out["spearman"] = float(stats.spearmanr(y_true, y_pred).statistic)
            out["kendall"] = float(stats.kendalltau(y_true, y_pred).statistic)
    return out


@dataclass
class Ensemble:
    """K fitted members of one predictor and what they were fitted on (``meta``: the contents
    of ``ensemble.json``)."""

    members: list[BasePredictor]
    meta: dict[str, Any]
    path: Path | None = None

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def metric(self) -> str:
        return str(self.meta.get("metric", DEFAULT_METRIC))

    def predict(self, archs: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` over the members for each model (float64; std 0 for one member)."""
        models = to_indices(archs)
        preds = np.empty((self.size, len(models)), dtype=np.float64)
        for start in range(0, len(models), PREDICT_CHUNK):
            part = models[start : start + PREDICT_CHUNK]
            for i, member in enumerate(self.members):
                preds[i, start : start + len(part)] = member.predict(part)
        return preds.mean(axis=0), preds.std(axis=0)


def _atomic_folder(out: Path, overwrite: bool) -> Path:
    check_output_path(out, overwrite=overwrite)
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out} is a file; --out must be a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def fit_ensemble(
    store: str | Path,
    *,
    predictor: str,
    out: str | Path,
    params: Mapping[str, Any] | None = None,
    metric: str = DEFAULT_METRIC,
    seeds: str | int = "mean",
    ensemble: int = 1,
    train_size: int | None = None,
    seed: int = 0,
    bootstrap: bool = False,
    overwrite: bool = False,
) -> Ensemble:
    """Fit an ensemble of ``ensemble`` members of a registered predictor on a store and save it.

    Args:
        store: a benchmark or finetune store.
        predictor: registered predictor name (``gcn``, ``brp``, ``donna``, ``lana``, ``proxy`` ...).
        out: the ensemble folder to write (missing; an existing one needs ``overwrite``).
        params: hyperparameters of every member (``random_state`` is set per member).
        metric: the target metric (:data:`blox_predict.data.TARGET_METRICS`).
        seeds: how the store's seeds are reduced (``"mean"`` or one seed).
        ensemble: K >= 1.
        train_size: training models drawn from the measured ones (None: all of them).
        seed: seed of the training split; member ``i`` gets ``random_state = seed + i``.
        bootstrap: each member fits on a bootstrap resample of the training models.
        overwrite: replace an existing folder.

    Returns:
        The fitted :class:`Ensemble` (saved in ``out``).

    Raises:
        UnknownPredictorError: an unknown predictor name.
        ConfigError: a bad parameter, metric, ensemble size or train size.
        StoreError / SchemaError: the store is missing or of another kind; ``out`` exists.
        TooFewPointsError: the predictor cannot be fitted on so few models.
    """
    if isinstance(ensemble, bool) or not isinstance(ensemble, (int, np.integer)) or ensemble < 1:
        raise ConfigError(f"the ensemble size must be an int >= 1, got {ensemble!r}")
    params = dict(params or {})
    template = get_predictor(predictor, **params)  # unknown names and parameters fail here
    has_state = "random_state" in template.get_params()
    bench = open_measurements(store)
    models, y = training_data(bench, metric=metric, seeds=seeds)
    train, heldout = split_training(models, train_size, seed)
    y_of = dict(zip(models.tolist(), y.tolist(), strict=True))
    out = Path(out)
    tmp = _atomic_folder(out, overwrite)
    members: list[BasePredictor] = []
    start = time.perf_counter()
    try:
        tmp.mkdir(parents=True)
        for i in range(int(ensemble)):
            member_params = dict(params)
            if has_state:
                member_params["random_state"] = int(seed) + i
            est = get_predictor(predictor, **member_params)
            fit_models = train
            if bootstrap:
                rng = np.random.default_rng(int(seed) + i)
                fit_models = train[rng.integers(0, len(train), size=len(train))]
            est.fit(fit_models, np.array([y_of[m] for m in fit_models.tolist()]))
            description = {
                "store": str(store), "kind": bench.kind, "recipe_id": bench.recipe_id, "metric": metric,
                "seeds": seeds, "n": int(len(fit_models)), "member": i, "bootstrap": bool(bootstrap),
            }  # fmt: skip
            est.save(tmp / f"member-{i}", train=description)
            members.append(est)
            logger.info("member %d of %d fitted on %d models", i + 1, ensemble, len(fit_models))
        meta = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "predictor": predictor,
            "params": {k: _jsonable(v) for k, v in params.items()},
            "metric": metric,
            "seeds": seeds,
            "store": str(store),
            "store_kind": bench.kind,
            "recipe_id": bench.recipe_id,
            "ensemble_size": int(ensemble),
            "seed": int(seed),
            "bootstrap": bool(bootstrap),
            "train_size": None if train_size is None else int(train_size),
            "num_measured": int(len(models)),
            "train_models": train.tolist(),
            "heldout_models": heldout.tolist(),
            "members": [f"member-{i}" for i in range(int(ensemble))],
            "fit_seconds": time.perf_counter() - start,
        }
        (tmp / ENSEMBLE_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return Ensemble(members, meta, out)


def load_ensemble(path: str | Path) -> Ensemble:
    """An ensemble folder written by :func:`fit_ensemble`, or one saved predictor folder
    (``BasePredictor.save``), which is an ensemble of one.

    Raises:
        PredictorFileError: not an ensemble or predictor folder, or damaged.
    """
    folder = Path(path)
    meta_file = folder / ENSEMBLE_FILE
    if not meta_file.is_file():
        if (folder / "predictor.json").is_file():
            member = load_predictor(folder)
            train = dict(getattr(member, "train_", {}) or {})
            meta = {"predictor": member.name, "params": {}, "ensemble_size": 1, **train}
            return Ensemble([member], meta, folder)
        what = "no such folder" if not folder.exists() else f"no {ENSEMBLE_FILE} or predictor.json in it"
        raise PredictorFileError(f"{folder}: not a fitted ensemble ({what}); make one with blox-predict fit")
    meta = read_format_file(
        meta_file, fmt=_FORMAT, version=_FORMAT_VERSION, what="blox-predict ensemble file"
    )
    members = [load_predictor(folder / name) for name in meta.get("members", [])]
    if not members:
        raise PredictorFileError(f"{meta_file}: the ensemble lists no members")
    return Ensemble(members, meta, folder)


def complete_benchmark(
    ensemble: str | Path | Ensemble,
    *,
    out: str | Path,
    store: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the surrogate store of an ensemble: every model's target metric, measured where the
    source store measured it, else the ensemble mean (``is_predicted``), with the members'
    standard deviation and the exact error on the held-out measured models.

    Args:
        ensemble: a folder from :func:`fit_ensemble` (or an :class:`Ensemble`).
        out: the surrogate store to write.
        store: the source store (default: the one the ensemble was fitted on).
        overwrite: replace an existing store.

    Returns:
        The store's path.

    Raises:
        PredictorFileError: not an ensemble folder.
        StoreError / SchemaError: the source store is gone or of another kind; ``out`` exists.
    """
    ens = ensemble if isinstance(ensemble, Ensemble) else load_ensemble(ensemble)
    meta = ens.meta
    source = store if store is not None else meta.get("store")
    if source is None:
        raise ConfigError(f"{ens.path}: the ensemble does not name its source store; pass the store")
    if not Path(source).exists():
        raise StoreError(f"the source store {source} of {ens.path} is gone; pass --store PATH")
    check_output_path(out, overwrite=overwrite)
    metric = ens.metric
    seeds_mode = meta.get("seeds", "mean")
    bench = open_measurements(source)
    measured, y = training_data(bench, metric=metric, seeds=seeds_mode)
    start = time.perf_counter()
    mean, std = ens.predict(np.arange(NUM_MODELS))
    logger.info(
        "predicted %d models with %d members in %.1f s", NUM_MODELS, ens.size, time.perf_counter() - start
    )
    if not np.isfinite(mean).all():
        raise PredictError(
            f"the ensemble predicts non-finite values for {int((~np.isfinite(mean)).sum())} models"
        )
    low, high = METRICS[metric].spec.valid_range or (-np.inf, np.inf)
    is_predicted = np.ones(NUM_MODELS, dtype=bool)
    is_predicted[measured] = False
    outside = is_predicted & ((mean < low) | (mean > high))
    if outside.any():
        logger.warning(
            "%d predictions lie outside %s's valid range %s and are clipped to it",
            int(outside.sum()),
            metric,
            (low, high),
        )
    values = np.clip(mean, low, high)
    heldout = np.asarray(meta.get("heldout_models", []), dtype=np.int64)
    heldout = heldout[np.isin(heldout, measured)]
    y_of = dict(zip(measured.tolist(), y.tolist(), strict=True))
    error = (
        heldout_error(np.array([y_of[m] for m in heldout.tolist()]), mean[heldout]) if heldout.size else None
    )
    member = ens.members[0]
    description = {
        "name": str(meta.get("predictor", member.name)),
        "params": {k: _jsonable(v) for k, v in member.get_params().items() if k != "random_state"},
        "train": {
            "store": str(source),
            "metric": metric,
            "seeds": seeds_mode,
            "n": len(meta.get("train_models", [])) or None,
            "train_size": meta.get("train_size"),
            "seed": meta.get("seed"),
            "bootstrap": meta.get("bootstrap", False),
        },  # fmt: skip
        "clipped_predictions": int(outside.sum()),
    }
    description = json.loads(json.dumps(description, default=str))
    return write_surrogate_store(
        out, source, metric=metric, values=values, std=std, is_predicted=is_predicted, predictor=description,
        ensemble_size=ens.size, seeds_mode=seeds_mode, heldout_error=error, overwrite=overwrite,
        producer="blox-predict",
    )  # fmt: skip


def ensemble_summary(ens: Ensemble) -> dict[str, Any]:
    """What ``blox-predict fit`` prints: predictor, members, metric, train/held-out counts."""
    meta = ens.meta
    return {
        "path": str(ens.path),
        "predictor": meta.get("predictor"),
        "ensemble_size": ens.size,
        "metric": ens.metric,
        "store": meta.get("store"),
        "num_train": len(meta.get("train_models", [])),
        "num_heldout": len(meta.get("heldout_models", [])),
        "fit_seconds": meta.get("fit_seconds"),
    }


def predict_table(ens: Ensemble, models: Sequence[int] | np.ndarray) -> Any:
    """A pandas table of ``models``: ``model``, ``prediction`` (the mean), ``std``."""
    import pandas as pd

    models = to_indices(np.asarray(models, dtype=np.int64))
    mean, std = ens.predict(models)
    return pd.DataFrame({"model": models, "prediction": mean, "std": std})
