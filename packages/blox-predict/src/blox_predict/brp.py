"""BRP-NAS's binary relation predictor: a shared GCN embedding and a pair head that says which of
two models is better, turned into one score per model by comparing against a reference set."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from blox_space.errors import ConfigError
from torch import Tensor, nn

from .base import BasePredictor, check_is_fitted, check_targets, register_predictor, to_indices
from .encoding import NUM_FEATURES
from .errors import TooFewPointsError
from .gcn import (
    GCNEncoder,
    batch_tensors,
    check_gcn_params,
    device,
    embed,
    make_optimizer,
    seed_of,
)

__all__ = ["BRPNet", "BRPPredictor"]

#: Models scored per chunk against the reference set when predicting.
_SCORE_CHUNK = 8192


class BRPNet(nn.Module):
    """Shared :class:`~blox_predict.gcn.GCNEncoder` + a linear pair head (2 outputs, LogSoftmax)
    on the concatenated global-node embeddings of the two graphs.

    Args:
        num_features, hidden, num_layers, dropout: of the encoder.

    Shapes:
        ``x: (V, F), edge_index: (2, E), glob: (B,), first: (P,), second: (P,) -> (P, 2)``:
        log-probabilities that graph ``first[p]`` (column 0) or ``second[p]`` (column 1) is better;
        ``first`` / ``second`` index the ``B`` graphs.
    """

    def __init__(self, num_features: int, hidden: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.encoder = GCNEncoder(num_features, hidden, num_layers, dropout)
        self.head = nn.Linear(2 * hidden, 2)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        self.encoder.reset_parameters(generator)
        bound = 1.0 / math.sqrt(self.head.in_features)
        with torch.no_grad():
            nn.init.uniform_(self.head.weight, -bound, bound, generator=generator)
            nn.init.uniform_(self.head.bias, -bound, bound, generator=generator)

    def pair_logp(self, emb: Tensor, first: Tensor, second: Tensor) -> Tensor:
        """``emb: (B, hidden), first, second: (P,) -> (P, 2)`` log-probabilities."""
        return torch.log_softmax(self.head(torch.cat([emb[first], emb[second]], dim=1)), dim=1)

    def forward(self, x: Tensor, edge_index: Tensor, glob: Tensor, first: Tensor, second: Tensor) -> Tensor:
        return self.pair_logp(self.encoder(x, edge_index, glob), first, second)


@register_predictor("brp")
class BRPPredictor(BasePredictor):
    """The BRP-NAS binary relation predictor (related-work §D.1) as a ranker.

    Training: every epoch goes over all ordered pairs ``(a, b)`` of distinct training models
    (``N (N - 1)``, both orders), shuffled by a seeded generator, ``batch_size`` pairs per step;
    each step embeds the distinct graphs of its pairs once with the shared GCN, the head maps the
    concatenated global embeddings ``[e_a, e_b]`` to 2 log-probabilities, and the loss is the KL
    divergence to ``softmax(t_a, t_b)`` of the pair's targets (min-max normalised to [0, 1] over
    the training set when ``normalize_targets``, as the original's ``normalize`` option).

    Prediction (the aggregation): all inputs are embedded once; the score of a model ``m`` is its
    mean win probability against a fixed reference set ``R`` (the embeddings of up to
    ``reference_size`` training models, a seeded subset when there are more), averaged over both
    argument orders because the concatenation head is not antisymmetric:
    ``score(m) = mean_r [p(m > r | m, r) + p(m > r | r, m)] / 2``. The head is linear, so this is
    ``(M, |R|)`` sigmoids of sums of per-model terms — batched tensor ops, no comparator sort
    (which would be order-dependent, the comparator not being transitive). Only the order of the
    scores is meaningful; higher = better.

    Args:
        num_layers, hidden, dropout, lr, weight_decay, epochs, device, random_state: as
            :class:`~blox_predict.gcn.GCNPredictor` (same defaults).
        batch_size: pairs per step (default 64, the original's binary config).
        normalize_targets: min-max normalise the targets before the pair softmax.
        reference_size: size of the reference set (default 1000).
        pairs_per_epoch: None (default) = all ``N (N - 1)`` ordered pairs per epoch; an integer
            caps the pairs drawn per epoch (a seeded subset, for quick runs on many models).

    Departures from the original: float32 and sparse message passing (see GCNPredictor); KL
    averaged over the pairs of a batch instead of summed; targets normalised over the training
    set instead of per batch (so a pair's target does not depend on its batch mates); no early
    stopping; the score aggregation above instead of a sort with the pairwise comparator.
    """

    def __init__(
        self,
        *,
        num_layers: int = 4,
        hidden: int = 600,
        dropout: float = 0.2,
        lr: float = 3.5e-4,
        weight_decay: float = 5e-4,
        epochs: int = 250,
        batch_size: int = 64,
        normalize_targets: bool = True,
        reference_size: int = 1000,
        pairs_per_epoch: int | None = None,
        device: str = "cpu",
        random_state: int | None = None,
    ) -> None:
        self.num_layers = num_layers
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.normalize_targets = normalize_targets
        self.reference_size = reference_size
        self.pairs_per_epoch = pairs_per_epoch
        self.device = device
        self.random_state = random_state

    def _new_module(self) -> BRPNet:
        return BRPNet(NUM_FEATURES, int(self.hidden), int(self.num_layers), float(self.dropout))

    def _check_params(self) -> None:
        check_gcn_params(self)
        for name in ("reference_size", "pairs_per_epoch"):
            value = getattr(self, name)
            if name == "pairs_per_epoch" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"BRPPredictor: {name} must be an integer >= 1, got {value!r}")

    def fit(self, archs: Sequence[Any], y: Any) -> BRPPredictor:
        self._check_params()
        models = to_indices(archs)
        y = check_targets(y, len(models))
        n = len(models)
        if n < 2:
            raise TooFewPointsError(f"BRPPredictor: needs at least 2 training models to form pairs, got {n}")
        dev = device(self)
        t = y.copy()
        if self.normalize_targets:
            span = float(t.max() - t.min())
            t = (t - t.min()) / span if span > 0 else np.zeros_like(t)
        t_tensor = torch.as_tensor(t, dtype=torch.float32, device=dev)
        seed = seed_of(self.random_state)
        rng = np.random.default_rng(seed)
        n_pairs = n * (n - 1)
        per_epoch = n_pairs if self.pairs_per_epoch is None else min(int(self.pairs_per_epoch), n_pairs)
        bs = int(self.batch_size)
        steps = math.ceil(per_epoch / bs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            net = self._new_module()
            net.reset_parameters(gen)
            net.to(dev).train()
            opt, sched = make_optimizer(net, self)
            loss_fn = nn.KLDivLoss(reduction="batchmean")
            for _ in range(int(self.epochs)):
                pairs = rng.permutation(n_pairs)[:per_epoch]
                for k in range(steps):
                    p = pairs[k * bs : (k + 1) * bs]
                    a = p // (n - 1)
                    b = p % (n - 1)
                    b = b + (b >= a)
                    used, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
                    inv_t = torch.as_tensor(inv, device=dev)
                    first, second = inv_t[: len(p)], inv_t[len(p) :]
                    logp = net(*batch_tensors(models[used], dev), first, second)
                    ta, tb = (
                        t_tensor[torch.as_tensor(a, device=dev)],
                        t_tensor[torch.as_tensor(b, device=dev)],
                    )
                    target = torch.softmax(torch.stack([ta, tb], dim=1), dim=1)
                    loss = loss_fn(logp, target)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                sched.step()
        net.eval()
        ref = models
        if n > int(self.reference_size):
            ref = np.sort(rng.choice(models, size=int(self.reference_size), replace=False))
        self.module_ = net
        self.reference_ = embed(net.encoder, ref, dev)
        self.n_train_ = n
        self.train_ = {"n": n}
        self.is_fitted_ = True
        return self

    def _scores(self, emb: Tensor) -> Tensor:
        h = self.module_.encoder.hidden
        w = self.module_.head.weight.detach()
        bias = self.module_.head.bias.detach()
        diff = w[0] - w[1]  # logit(first better) - logit(second better)
        w_first, w_second = diff[:h], diff[h:]
        beta = bias[0] - bias[1]
        ref = self.reference_
        ref_first, ref_second = ref @ w_first, ref @ w_second
        out = []
        for start in range(0, emb.shape[0], _SCORE_CHUNK):
            e = emb[start : start + _SCORE_CHUNK]
            m_first, m_second = e @ w_first, e @ w_second
            as_first = torch.sigmoid(m_first[:, None] + ref_second[None, :] + beta)
            as_second = torch.sigmoid(-(ref_first[None, :] + m_second[:, None] + beta))
            out.append(0.5 * (as_first + as_second).mean(dim=1))
        return torch.cat(out) if out else emb.new_zeros(0)

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        check_is_fitted(self)
        models = to_indices(archs)
        dev = next(self.module_.parameters()).device
        emb = embed(self.module_.encoder, models, dev)
        with torch.inference_mode():
            scores = self._scores(emb)
        return scores.double().cpu().numpy()

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        tensors = {f"net.{k}": v.detach().cpu() for k, v in self.module_.state_dict().items()}
        tensors["reference"] = self.reference_.detach().cpu()
        return {"n_train": self.n_train_}, tensors

    def _set_state(self, meta: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
        dev = device(self)
        net = self._new_module()
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        self.module_ = net.to(dev).eval()
        self.reference_ = tensors["reference"].to(dev)
        self.n_train_ = int(meta["n_train"])
        self.is_fitted_ = True
