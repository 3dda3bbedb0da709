"""Zero-cost proxies (Abdelfattah, Mehrotra, Dudziak, Lane 2021, "Zero-Cost Proxies for
Lightweight NAS", ICLR -- the Blox paper's ref. [9]): scores of an *untrained* network from one
minibatch, computed for any set of Blox models at a recipe's geometry, stored in a ``proxies``
store (:mod:`blox_space.store.proxies`) and used as a predictor (:class:`ProxyPredictor`).

Every model is built with :func:`blox_train.build_model` at the recipe's width, resolution and
the dataset's class count, initialised with PyTorch's default initialisation under a seed
derived from ``(seed, model)`` (so a model's proxies do not depend on the shard it is in), and
scored on the same seeded training minibatch of the recipe's dataset (the recipe's training
augmentation, ``batch_size`` images). Every proxy starts from the same initial weights and
BatchNorm statistics. "Weight layers" are the ``Conv2d`` and ``Linear`` layers (their
``weight``; biases and BatchNorm parameters are left out), as in Abdelfattah et al. Higher is
better for every proxy, the convention of Abdelfattah et al. (so :class:`ProxyPredictor` ranks
by the raw value).

Proxies (:data:`PROXY_NAMES`), ``L`` = the cross-entropy of the minibatch with BatchNorm in
training mode (batch statistics) unless said otherwise:

* ``grad_norm`` -- ``sum over weight layers of ||dL/dW||_2`` (the per-layer Euclidean norms,
  summed; Abdelfattah et al. 2021).
* ``snip`` -- ``sum over weight layers of sum |W * dL/dW|`` (connection sensitivity; Lee,
  Ajanthan, Torr 2019, "SNIP", aggregated by summing as in Abdelfattah et al.).
* ``grasp`` -- ``sum over weight layers of sum (-W * (H g))`` with ``g = dL/dW`` and ``H g``
  the Hessian-gradient product, by double backpropagation (Wang, Zhang, Grosse 2020,
  "GraSP"; the sign and sum of Abdelfattah et al.). May be negative.
* ``synflow`` -- ``sum over weight layers of sum (W * dR/dW)`` where ``R`` is the sum of the
  logits of a copy of the network with every parameter replaced by its absolute value, in
  float64, fed a single all-ones image (Tanaka, Kunin, Yamins, Ganguli 2020, "SynFlow"; data
  free). BatchNorm is in **eval mode** with its initial running statistics (mean 0, variance
  1), i.e. a positive per-channel scale ``|gamma| / sqrt(1 + eps)`` plus ``|beta|``: batch
  statistics of an all-ones input would have zero variance and zero the signal. float64 keeps
  the product of layer sums far from overflow at the Blox widths.
* ``jacob_cov`` -- from the Jacobians ``J_i = d(sum of logits_i)/d x_i`` of the minibatch
  (one row per image), their correlation matrix ``C`` (``numpy.corrcoef``) and its eigenvalues
  ``e`` (``eigvalsh``, clipped at 0): ``-sum(log(e + k) + 1 / (e + k))`` with ``k = 1e-5``
  (Mellor, Turner, Storkey, Crowley 2021, "Neural Architecture Search without Training", in
  the form of Abdelfattah et al.). NaN when a Jacobian row is constant.
* ``params`` and ``macs`` -- the baselines: trainable parameters and multiply-accumulates of
  one forward pass at batch 1, at the recipe's geometry (:func:`blox_space.model_params`,
  :func:`blox_space.model_macs`).

blox-train builds the networks and loads the data; it is imported only inside
:func:`compute_proxies`, so blox-predict installs and imports without it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from blox_space.errors import ConfigError
from blox_space.store.group import open_store, read_array
from blox_space.store.proxies import PROXIES, PROXY_NAMES, write_proxies_shard

from .base import BasePredictor, check_is_fitted, check_targets, register_predictor, to_indices
from .donna import check_alpha, ridge_fit
from .errors import PredictError, TooFewPointsError

__all__ = [
    "PROXY_NAMES",
    "GRADIENT_PROXIES",
    "LOG_PROXIES",
    "compute_proxies",
    "model_proxies",
    "open_proxies",
    "ProxyPredictor",
]

logger = logging.getLogger(__name__)

#: The proxies computed from the network (the others are counted from the geometry).
GRADIENT_PROXIES = ("grad_norm", "snip", "grasp", "synflow", "jacob_cov")
#: Proxies :class:`ProxyPredictor` feeds to its ridge as ``sign(x) * log1p(|x|)``: they span
#: orders of magnitude across models.
LOG_PROXIES = ("grad_norm", "snip", "grasp", "synflow", "params", "macs")
_NEEDS_TRAIN = "blox-predict proxies needs blox-train: pip install packages/blox-train"
_JACOB_K = 1e-5
DEFAULT_BATCH_SIZE = 64


def _model_seed(seed: int, model: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(model)]).generate_state(1)[0])


def _weight_layers(net: Any) -> list[Any]:
    import torch.nn as nn

    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def model_proxies(net: Any, images: Any, labels: Any) -> dict[str, float]:
    """The five gradient proxies of one untrained network on one minibatch (see the module
    docstring for their definitions). The network's weights are restored afterwards; its
    gradients are left cleared.

    Shapes:
        images: (B, 3, R, R) float32, labels: (B,) int64.
    """
    import copy

    import torch
    import torch.nn.functional as F

    initial = copy.deepcopy(net.state_dict())
    layers = _weight_layers(net)
    weights = [m.weight for m in layers]
    out: dict[str, float] = {}

    # grad_norm and snip: one backward of the loss, BN in training mode
    net.train()
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(images), labels).backward()
    out["grad_norm"] = float(sum(w.grad.norm().item() for w in weights))
    out["snip"] = float(sum((w.grad * w).abs().sum().item() for w in weights))
    net.zero_grad(set_to_none=True)
    net.load_state_dict(initial)

    # grasp: -W * (H g) by double backpropagation
    grads = torch.autograd.grad(F.cross_entropy(net(images), labels), weights, create_graph=True)
    inner = sum((g * g.detach()).sum() for g in grads)
    hessian_grad = torch.autograd.grad(inner, weights)
    out["grasp"] = float(sum((-w.detach() * h).sum().item() for w, h in zip(weights, hessian_grad)))
    del grads, inner, hessian_grad
    net.load_state_dict(initial)

    # synflow: |parameters| in float64, all-ones input, BN in eval mode with initial statistics
    flow = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for p in flow.parameters():
            p.abs_()
    ones = torch.ones((1, *images.shape[1:]), dtype=torch.float64, device=images.device)
    flow(ones).sum().backward()
    out["synflow"] = float(sum((m.weight * m.weight.grad).sum().item() for m in _weight_layers(flow)))
    del flow

    # jacob_cov: correlation of the input Jacobians of the summed logits
    x = images.detach().clone().requires_grad_(True)
    net.train()
    logits = net(x)
    (jac,) = torch.autograd.grad(logits.sum(), x)
    rows = jac.reshape(jac.shape[0], -1).double().cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(rows)
    if np.isfinite(corr).all():
        eig = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
        out["jacob_cov"] = float(-np.sum(np.log(eig + _JACOB_K) + 1.0 / (eig + _JACOB_K)))
    else:
        out["jacob_cov"] = math.nan
    net.load_state_dict(initial)
    net.zero_grad(set_to_none=True)
    return out


def compute_proxies(
    models: Any,
    *,
    recipe: Any = "quick",
    out: str | Path,
    data_root: str | Path | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    bucket: tuple[int, int] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    device: str = "cpu",
    **overrides: Any,
) -> Path:
    """Compute every proxy of :data:`PROXY_NAMES` for ``models`` and write a proxies shard.

    Args:
        models: the models (any :data:`~blox_space.ArchLike` sequence; duplicates refused).
        recipe: a recipe name (``quick``, ``ci``, ``paper`` ...) or a :class:`blox_train.Recipe`;
            its dataset, width and resolution are used (nothing is trained).
        out: the shard store to write (whole, at the end; into a temporary path first).
        data_root: dataset folder (CIFAR); ``digits`` and ``synthetic`` need none.
        seed: seed of the minibatch (drawn like epoch 1 of training with this seed) and of every
            model's initial weights (mixed with the model index).
        batch_size: minibatch size (default: the recipe's batch size, at most 64).
        bucket: ``(index, count)`` recorded in the shard, so the merge refuses a missing bucket.
        overwrite: replace an existing ``out``.
        progress: show a progress bar (tqdm).
        device: torch device of the networks (``"cpu"``, ``"cuda"``).
        **overrides: recipe settings to change (e.g. ``width=4``), as for
            :func:`blox_train.get_recipe`.

    Returns:
        ``out`` as a Path. A model whose proxies raise is stored ``failed`` with the reason;
        a non-finite proxy value is stored as NaN.

    Raises:
        PredictError: blox-train is not installed (says how to install it).
        ConfigError: no models, duplicates, an unknown recipe or setting, a bad batch size.
        StoreError: ``out`` exists and ``overwrite`` is False.
    """
    try:
        import torch
        from blox_train import Recipe, build_model, get_recipe, load_dataset
        from blox_train.batches import split_batches
    except ImportError:
        raise PredictError(_NEEDS_TRAIN) from None
    from blox_space import model_macs, model_params

    indices = to_indices(models)
    if indices.size == 0:
        raise ConfigError("no models given; pass at least one model")
    if np.unique(indices).size != indices.size:
        raise ConfigError("models must be unique; the list has duplicates")
    if isinstance(recipe, Recipe):
        rec = recipe.replace(**overrides) if overrides else recipe
    else:
        rec = get_recipe(str(recipe), overrides or None)
    size = min(rec.batch_size, DEFAULT_BATCH_SIZE) if batch_size is None else batch_size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ConfigError(f"batch_size must be an integer >= 2 (jacob_cov correlates images), got {size!r}")
    dev = torch.device(device)
    data = load_dataset(rec.dataset, root=data_root, resolution=rec.resolution, split_seed=rec.split_seed)
    batches = split_batches(
        data, rec.replace(batch_size=int(size)), resolution=rec.resolution, seed=int(seed), device=dev,
        splits=("train",),
    )  # fmt: skip
    images, labels = next(iter(batches("train", 1)))
    images, labels = images.to(dev), labels.to(dev)
    geometry = {"width": rec.width, "resolution": rec.resolution, "num_classes": data.num_classes}

    values = {name: np.full(indices.size, np.nan) for name in PROXY_NAMES}
    seconds = np.zeros(indices.size)
    status = np.ones(indices.size, dtype=np.int8)
    reasons = [""] * indices.size
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - blox-train depends on tqdm
        tqdm = None
    items = enumerate(indices.tolist())
    if progress and tqdm is not None:
        items = tqdm(items, total=indices.size, desc="proxies", unit="model")
    for i, model in items:
        values["params"][i] = model_params(model, **geometry)
        values["macs"][i] = model_macs(model, **geometry)
        start = time.perf_counter()
        try:
            with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                torch.manual_seed(_model_seed(seed, model))
                net = build_model(model, **geometry).to(dev)
            for name, value in model_proxies(net, images, labels).items():
                values[name][i] = value
        except Exception as err:  # noqa: BLE001 - torch raises many types; the row records it
            status[i] = 2
            reasons[i] = f"{type(err).__name__}: {err}"[:160]
            logger.warning("model %d: proxies failed (%s)", model, reasons[i])
        seconds[i] = time.perf_counter() - start
    producer = "blox-predict"
    return write_proxies_shard(
        out, indices, values, seconds=seconds, recipe_id=rec.id, recipe=rec.to_dict(), dataset=data.name,
        seed=int(seed), batch_size=int(size), geometry=geometry, status=status, fail_reason=reasons,
        device=str(dev), bucket=bucket, overwrite=overwrite, producer=producer,
    )  # fmt: skip


def open_proxies(path: str | Path) -> pd.DataFrame:
    """A proxies store (shard or merged) as a DataFrame: index ``model`` (sorted), one float64
    column per proxy of :data:`PROXY_NAMES`, NaN where not computed or failed. ``df.attrs``
    holds the store's recipe_id, dataset, seed, batch_size, geometry and path.

    Raises:
        StoreError / SchemaError: not a proxies store.
    """
    group = open_store(path, PROXIES.kind)
    models = read_array(group, "model")
    done = read_array(group, "status") == 1
    frame = pd.DataFrame(
        {name: np.where(done, read_array(group, name), np.nan) for name in PROXY_NAMES},
        index=pd.Index(models, name="model"),
    )
    attrs = dict(group.attrs)
    frame.attrs = {k: attrs[k] for k in ("recipe_id", "dataset", "seed", "batch_size", "geometry")}
    frame.attrs["path"] = str(path)
    return frame


def _features(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    for j, name in enumerate(names):
        if name in LOG_PROXIES:
            out[:, j] = np.sign(out[:, j]) * np.log1p(np.abs(out[:, j]))
    return out


@register_predictor("proxy")
class ProxyPredictor(BasePredictor):
    """Rank models by a zero-cost proxy, or by a ridge regression on all of them.

    Args:
        proxies: the path of a proxies store (:func:`compute_proxies`, ``blox-predict
            proxies``) holding every model to fit and predict.
        proxy: one of :data:`PROXY_NAMES`: predictions are that proxy's raw value (higher =
            better, no fitting; the targets are only checked). ``None``: ridge regression on
            all seven proxies, ``sign(x) * log1p(|x|)`` for the heavy-tailed
            :data:`LOG_PROXIES` (all but ``jacob_cov``, already a sum of logarithms),
            standardised, with an intercept (the closed form of
            :func:`blox_predict.donna.ridge_fit`); needs at least 8 training models.
        alpha: the ridge penalty (``proxy=None`` only).
        random_state: accepted for the common interface; nothing is random.

    The store is read at ``fit`` (and again after :func:`~blox_predict.load_predictor`, whose
    saved state keeps the path, not the values).

    Raises (in ``fit`` / ``predict``):
        ConfigError: no store given (says how to make one), an unknown proxy, a model the
            store does not hold or holds without a value (failed / not computed).
        TooFewPointsError: ``proxy=None`` with fewer than 8 training models.
    """

    def __init__(
        self,
        *,
        proxies: str | None = None,
        proxy: str | None = "synflow",
        alpha: float = 1.0,
        random_state: int | None = None,
    ) -> None:
        self.proxies = proxies
        self.proxy = proxy
        self.alpha = alpha
        self.random_state = random_state

    def _names(self) -> tuple[str, ...]:
        if self.proxy is None:
            return PROXY_NAMES
        if self.proxy not in PROXY_NAMES:
            raise ConfigError(
                f"{type(self).__name__}: unknown proxy {self.proxy!r}; choose one of "
                f"{', '.join(PROXY_NAMES)} or None (ridge on all)"
            )
        return (str(self.proxy),)

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        if self.proxies is None:
            raise ConfigError(
                f"{type(self).__name__} needs a proxies store: proxies=<path>; make one with "
                "blox_predict.compute_proxies(models, recipe=..., out=...) or `blox-predict proxies`"
            )
        frame = open_proxies(self.proxies)
        return frame.index.to_numpy(dtype=np.int64), frame[list(self._names())].to_numpy(dtype=np.float64)

    def _lookup(self, models: np.ndarray) -> np.ndarray:
        store_models, values = self.table_
        pos = np.clip(np.searchsorted(store_models, models), 0, max(len(store_models) - 1, 0))
        absent = store_models[pos] != models if len(store_models) else np.ones(len(models), dtype=bool)
        if absent.any():
            raise ConfigError(
                f"{type(self).__name__}: {int(absent.sum())} model(s) are not in the proxies store "
                f"{self.proxies} (e.g. model {int(models[absent][0])}); compute their proxies first"
            )
        rows = values[pos]
        missing = np.isnan(rows)
        if missing.any():
            row, col = np.argwhere(missing)[0]
            raise ConfigError(
                f"{type(self).__name__}: model {int(models[row])} has no {self._names()[col]} value in "
                f"{self.proxies} (failed or non-finite); {int(missing.any(axis=1).sum())} model(s) affected"
            )
        return rows

    def fit(self, archs: Sequence[Any], y: Any) -> ProxyPredictor:
        owner = type(self).__name__
        models = to_indices(archs)
        target = check_targets(y, len(models))
        names = self._names()
        if self.proxy is None:
            alpha = check_alpha(self.alpha, owner)
            need = len(PROXY_NAMES) + 1
            if len(models) < need:
                raise TooFewPointsError(
                    f"{owner}(proxy=None) needs at least {need} training models ({need - 1} coefficients "
                    f"+ intercept), got {len(models)}"
                )
        self.table_ = self._load()
        rows = self._lookup(models)
        if self.proxy is None:
            self.coef_, self.intercept_, self.mean_, self.scale_ = ridge_fit(
                _features(rows, names), target, alpha
            )
        self.train_ = {"n": int(len(models)), "proxies": str(self.proxies), "proxy": self.proxy}
        self.is_fitted_ = True
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        check_is_fitted(self)
        models = to_indices(archs)
        if getattr(self, "table_", None) is None:
            self.table_ = self._load()
        rows = self._lookup(models)
        if self.proxy is not None:
            return np.asarray(rows[:, 0], dtype=np.float64)
        x = _features(rows, self._names())
        return np.asarray(self.intercept_ + ((x - self.mean_) / self.scale_) @ self.coef_, dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.proxy is not None:
            return {}, {}
        return {"intercept": float(self.intercept_)}, {
            "coef": self.coef_,
            "mean": self.mean_,
            "scale": self.scale_,
        }

    def _set_state(self, meta: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
        self.table_ = None  # read from the store at the first predict
        if self.proxy is None:
            self.intercept_ = float(meta["intercept"])
            for key in ("coef", "mean", "scale"):
                setattr(self, f"{key}_", np.asarray(tensors[key].numpy(), dtype=np.float64))
        self.is_fitted_ = True
