"""Tabular evaluation: answers from a benchmark-kind store (normal training, fine-tuning or a
surrogate), charged the seconds the store recorded (SPEC §7a, related-work §F.2-F.3).

What one evaluation of ``(model, epoch)`` reads, for the benchmark seed the search uses:

* search metric: the best validation top-1 (%) over epochs ``1..epoch`` of the run (what
  early stopping at ``epoch`` keeps; at the last epoch, the run's ``best_val_acc``);
* reported metric: the run's test top-1 (%), measured once at the end of the run; it does not
  depend on the fidelity (what the paper reports of a model is its trained accuracy);
* cost: the sum of the run's ``epoch_seconds`` up to ``epoch``, or, when the store kept only
  the total (the released files), ``train_seconds * epoch / epochs`` like the original API.

Candidates: the models whose run (at that seed) is done and has a search metric; a partial
store restricts the search to them.

**Surrogate stores** (``blox-predict complete``): a predicted row holds only the surrogate's
prediction of its target metric, so for those rows the search and the reported metric are both
that prediction, the only fidelity is the last epoch, and the cost is the median measured
training seconds of the store's measured runs (per epoch: the median cumulative seconds).
:meth:`TabularEvaluator.describe` says so (``num_predicted``, ``reported_metric``).

**Seeds** (``seed=``): ``"cycle"`` (default) gives search seed ``k`` the store's ``k mod S``-th
seed (deterministic, and every seed of the store is used when several search seeds run);
an int pins one store seed; ``"mean"`` averages metrics and seconds over the seeds whose run
is done (a model counts as done when any seed is).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from blox_space import open_benchmark
from blox_space.blocks import NUM_MODELS
from blox_space.errors import ConfigError, StoreError
from blox_space.schema import BEST_VAL_ACC, EPOCH_SECONDS, RUN_STATUS, TEST_ACC, TRAIN_SECONDS, VAL_ACC
from blox_space.store import open_store, read_array
from blox_space.store.spec import STATUS_DONE

from .base import PaidEvaluator, describe_mapping

__all__ = ["TabularEvaluator", "SEED_POLICIES"]

#: The seed policies of :class:`TabularEvaluator` besides a pinned int seed.
SEED_POLICIES = ("cycle", "mean")


class _Table:
    """The arrays one benchmark seed (or the mean) gives, for the candidates only."""

    __slots__ = (
        "candidates",
        "position",
        "curve",
        "search",
        "reported",
        "cum_seconds",
        "latency",
        "fidelities",
    )

    def __init__(self, candidates, curve, search, reported, cum_seconds, latency, fidelities) -> None:
        self.candidates = candidates
        self.position = np.full(NUM_MODELS, -1, dtype=np.int64)
        self.position[candidates] = np.arange(len(candidates))
        self.curve, self.search, self.reported = curve, search, reported
        self.cum_seconds, self.latency, self.fidelities = cum_seconds, latency, fidelities


class _Data:
    """What all evaluators of one store share: the open store and the tables built so far."""

    def __init__(
        self, store: str | Path, latency_device: str | None, latency: Sequence[str | Path] | None
    ) -> None:
        self.path = Path(store)
        self.bench = open_benchmark(store, latency=latency)
        self.group = open_store(store)
        self.seeds = self.bench.seeds
        self.epochs = self.bench.epochs
        self.models = self.bench.models
        self.latency_stores = None if latency is None else [str(p) for p in latency]
        self.latency_source: str | None = None
        if latency_device is not None:
            sources = self.bench.latency_sources
            if latency_device not in sources:
                # a device kind (cpu, cuda:1) names the one attached device of that kind
                kind = str(latency_device).split(":")[0]
                matches = [d for d in sources if d.startswith(f"{kind}-")]
                if len(matches) != 1:
                    known = ", ".join(sources) or "none (pass latency stores)"
                    raise ConfigError(
                        f"no latency for device {latency_device!r} in {store}; devices: {known}"
                    )
                latency_device = matches[0]
            self.latency_source = sources[latency_device]
        self.latency_device = latency_device
        self.tables: dict[int | str, _Table] = {}
        self._latency_all: np.ndarray | None = None
        surrogate = self.bench.surrogate if self.bench.is_surrogate else None
        self.predicted = (
            np.asarray(self.bench.is_predicted(self.models), dtype=bool)
            if surrogate is not None
            else np.zeros(len(self.models), dtype=bool)
        )
        self.target_metric = surrogate["target_metric"] if surrogate is not None else None

    def latency_of(self, models: np.ndarray) -> np.ndarray:
        if self.latency_device is None:
            return np.full(len(models), np.nan)
        if self._latency_all is None:
            values = np.asarray(self.bench.latency(self.models, self.latency_device), dtype=np.float64)
            missing = np.isnan(values)
            if missing.any() and self.latency_source == "measured":
                # measured for some models only: a lookup table of the device predicts the others
                try:
                    table = np.asarray(
                        self.bench.predicted_latency(self.models, self.latency_device), dtype=np.float64
                    )
                except StoreError:  # no lookup table attached: those models stay NaN
                    table = None
                if table is not None:
                    values = np.where(missing, table, values)
                    self.latency_source = "measured+lut"
            self._latency_all = values
        return self._latency_all[np.searchsorted(self.models, models)]

    def table(self, key: int | str) -> _Table:
        if key not in self.tables:
            self.tables[key] = self._build(key)
        return self.tables[key]

    def _run_arrays(self, s: int) -> dict[str, np.ndarray]:
        """Raw per-run arrays of store seed position ``s`` (float32 curves, float64 seconds)."""
        g = self.group
        status = read_array(g, RUN_STATUS.name, (slice(None), s))
        val = read_array(g, VAL_ACC.name, (slice(None), s, slice(None)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            curve = np.fmax.accumulate(val, axis=1)
        best = read_array(g, BEST_VAL_ACC.name, (slice(None), s)).astype(np.float64)
        full = np.where(np.isfinite(best), best, curve[:, -1])
        test = read_array(g, TEST_ACC.name, (slice(None), s)).astype(np.float64)
        epoch_s = read_array(g, EPOCH_SECONDS.name, (slice(None), s, slice(None)))
        total = read_array(g, TRAIN_SECONDS.name, (slice(None), s)).astype(np.float64)
        missing = np.isnan(epoch_s)
        has_epochs = ~missing.all(axis=1)
        cum = np.cumsum(np.where(missing, np.float32(0), epoch_s), axis=1, dtype=np.float64)
        if not has_epochs.all():  # released files keep only the total: interpolate like the original API
            interp = total[:, None] * (np.arange(1, self.epochs + 1) / self.epochs)
            cum[~has_epochs] = interp[~has_epochs]
        return {"done": status == STATUS_DONE, "curve": curve, "search": full, "reported": test, "cum": cum}

    def _build(self, key: int | str) -> _Table:
        positions = range(len(self.seeds)) if key == "mean" else [self.seeds.index(int(key))]
        runs = [self._run_arrays(s) for s in positions]
        if len(runs) == 1:  # one seed: its rows as they are (runs not done are dropped below)
            any_done = runs[0]["done"]
            curve, search, reported, cum = (runs[0][n] for n in ("curve", "search", "reported", "cum"))
        else:
            done = np.stack([r["done"] for r in runs], axis=1)
            any_done = done.any(axis=1)

            def reduce(name: str) -> np.ndarray:
                stacked = np.stack([r[name] for r in runs], axis=1)
                mask = done.reshape(done.shape + (1,) * (stacked.ndim - 2))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    return np.nanmean(np.where(mask, stacked, np.nan), axis=1)

            curve, search, reported, cum = (reduce(n) for n in ("curve", "search", "reported", "cum"))
        predicted = self.predicted
        if predicted.any():
            # a predicted row holds only the target's prediction: use it for both metrics
            target = search if self.target_metric in (BEST_VAL_ACC.name, VAL_ACC.name) else reported
            value = np.where(np.isfinite(target), target, np.where(np.isfinite(search), search, reported))
            search = np.where(predicted, value, search)
            reported = np.where(predicted, value, reported)
        reported = np.where(np.isfinite(reported), reported, np.nan)
        keep = any_done & np.isfinite(search)
        measured_cost = keep & ~predicted & np.isfinite(cum).all(axis=1) & (cum[:, -1] > 0)
        need_cost = keep & ~measured_cost
        if need_cost.any():
            if not measured_cost.any():
                raise ConfigError(
                    f"{self.path}: no candidate has recorded training seconds, so evaluations cannot be charged"
                )
            profile = np.median(cum[measured_cost], axis=0)
            cum = np.where(need_cost[:, None], profile[None, :], cum)
        full_fidelity = bool((~predicted[keep]).all() and np.isfinite(curve[keep]).all())
        fidelities = tuple(range(1, self.epochs + 1)) if full_fidelity else (self.epochs,)
        candidates = self.models[keep].astype(np.int64)
        return _Table(
            candidates,
            np.ascontiguousarray(curve[keep]),
            search[keep],
            reported[keep],
            np.ascontiguousarray(cum[keep]),
            self.latency_of(candidates),
            fidelities,
        )


class TabularEvaluator(PaidEvaluator):
    """Evaluations answered by a benchmark, finetune or surrogate store (module docstring).

    Args:
        store: the store path.
        seed: ``"cycle"`` (default), ``"mean"`` or one of the store's seeds.
        search_seed: the search seed this evaluator serves (picks the store seed under
            ``"cycle"``); :meth:`fresh` makes one per search seed.
        latency_device: a device whose latency each evaluation reports (``latency_s``);
            measured per model where a per-model store is attached, else the lookup table's
            additive prediction.
        latency: latency stores to attach (None: those recorded with the benchmark).

    Raises:
        StoreError / SchemaError: not a readable benchmark-kind store.
        ConfigError: a bad seed policy, an unknown latency device, no candidate, or nothing
            to charge evaluations with.

    Example:
        >>> ev = TabularEvaluator("results/benchmark/quick.zarr")  # doctest: +SKIP
        >>> ev.evaluate(ev.candidates[0], fidelity=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: str | Path,
        *,
        seed: int | str = "cycle",
        search_seed: int = 0,
        latency_device: str | None = None,
        latency: Sequence[str | Path] | None = None,
        _data: _Data | None = None,
    ) -> None:
        data = _data if _data is not None else _Data(store, latency_device, latency)
        if isinstance(seed, bool) or not (seed in SEED_POLICIES or isinstance(seed, (int, np.integer))):
            raise ConfigError(
                f"seed must be 'cycle', 'mean' or one of the store's seeds {data.seeds}, got {seed!r}"
            )
        if isinstance(seed, (int, np.integer)) and int(seed) not in data.seeds:
            raise ConfigError(f"seed {seed} is not in {store}; its seeds are {data.seeds}")
        self._data, self._policy, self._search_seed = data, seed, int(search_seed)
        if seed == "cycle":
            key: int | str = data.seeds[self._search_seed % len(data.seeds)]
        else:
            key = seed if seed == "mean" else int(seed)
        self._key = key
        table = data.table(key)
        if not len(table.candidates):
            raise ConfigError(f"{store}: no finished run to search over (seed {key})")
        self._table = table
        self._candidates = table.candidates.copy()
        self._fidelities = table.fidelities
        self._full = len(table.fidelities) > 1
        self._init_ledger()
        # bind the hot arrays to attributes: _observe / _seconds run once per evaluation
        self._pos, self._curve, self._search = table.position, table.curve, table.search
        self._reported, self._cum, self._lat = table.reported, table.cum_seconds, table.latency

    def fresh(self, seed: int) -> TabularEvaluator:
        """A new ledger for search seed ``seed`` over the same loaded store."""
        return TabularEvaluator(self._data.path, seed=self._policy, search_seed=seed, _data=self._data)

    @property
    def store_seed(self) -> int | str:
        """The store seed this evaluator reads (or ``"mean"``)."""
        return self._key

    @property
    def store_seeds(self) -> list[int]:
        """Every seed of the store (what the ``"cycle"`` policy goes through)."""
        return list(self._data.seeds)

    def oracle(self) -> dict[str, np.ndarray]:
        """What evaluating every candidate at the full fidelity would return, at this
        evaluator's store seed, in one go: ``model``, ``search_metric``, ``reported_metric``,
        ``latency_s`` (aligned arrays). For views that know the whole table (the true Pareto
        front, the best model in the store) -- never for algorithms, which see only what they
        pay for. Charges nothing."""
        table = self._table
        return {
            "model": table.candidates.copy(),
            "search_metric": np.asarray(table.search, dtype=np.float64).copy(),
            "reported_metric": np.asarray(table.reported, dtype=np.float64).copy(),
            "latency_s": np.asarray(table.latency, dtype=np.float64).copy(),
        }

    def describe(self) -> dict[str, Any]:
        data, table = self._data, self._table
        predicted = int(data.predicted[np.isin(data.models, table.candidates)].sum())
        return describe_mapping(
            {
                "kind": "tabular",
                "store": str(data.path),
                "store_kind": data.bench.kind,
                "recipe_id": data.bench.recipe_id,
                "dataset": data.bench.dataset,
                "epochs": data.epochs,
                "seed_policy": self._policy if isinstance(self._policy, str) else int(self._policy),
                "num_candidates": len(table.candidates),
                "num_predicted": predicted,
                "search_metric": "best val_acc (%) up to the fidelity epoch",
                "reported_metric": "test_acc (%)"
                + (f"; predicted rows: the surrogate's {data.target_metric}" if predicted else ""),
                "fidelities": [table.fidelities[0], table.fidelities[-1]],
                "latency_device": data.latency_device,
                "latency_source": data.latency_source,
                "latency_stores": data.latency_stores,
            }
        )

    def _observe(self, model: int, epoch: int) -> tuple[float, float, float]:
        p = self._pos[model]
        search = self._curve[p, epoch - 1] if self._full else self._search[p]
        return float(search), float(self._reported[p]), float(self._lat[p])

    def _seconds(self, model: int, epoch: int) -> float:
        return float(self._cum[self._pos[model], epoch - 1])
