"""Live evaluation: every model a search asks for is trained for real through blox-train under
one recipe, recorded in a benchmark shard store, and charged the seconds it took (SPEC §7,
§7a; related-work §F.1).

What one evaluation of ``model`` answers, from the run recorded in the store:

* search metric: the run's best validation top-1 (%) (``best_val_acc``; the best epoch by
  blox-train's criterion), NaN when no epoch finished;
* reported metric: the run's test top-1 (%), measured once with the best-validation weights;
* cost: the sum of the run's recorded ``epoch_seconds`` (the measured train + validation
  seconds of every epoch, on this evaluator's device), exactly what a
  :class:`~blox_search.TabularEvaluator` over the same store charges; a run that crashed
  before its first epoch (e.g. out of memory) is charged the wall seconds it ran.

**The store** (``out``): a blox-train benchmark shard (kind ``benchmark``, the recipe's id,
epochs and dataset, one seed) whose models are the candidates, created on the first training.
Every finished run is a row written by :func:`blox_space.store.write_model_result` with its
``status`` last, so a killed search loses at most the run in progress, which continues from its
per-epoch checkpoint in ``<out>.ckpt/`` (blox-train's shard layout) when asked for again.
Rows are chunked by ``ceil(candidates / 512)`` models: a search of up to 512 candidates gets
one chunk per row like blox-train's shards, a search over all 91,125 models 512 chunk files per
array (created in about half a second) instead of 91,125 files of the model coordinate alone,
which took over a minute to create and as long to open. Zarr writes a chunk atomically, so a
row shared with other models' chunks is still complete or pending, never half written.

**Resume**: a model already recorded in the store (done or failed) is read back, never
retrained, and charged its recorded seconds, so replaying a killed search reproduces it bit
for bit without training; answers always come from the stored row (also right after training),
so the first search and its replay see the same float32-rounded values. A second evaluator
over the same store (:meth:`LiveEvaluator.fresh`, or another process later) shares the runs
but keeps its own ledger. An existing store must hold the same recipe id, its epochs, the
training seed and every candidate (a search may use a subset of a store's models).

**Reuse** (``reuse=``): normal-training benchmark stores of the same recipe id (e.g. the trained
benchmark of a workflow) whose finished runs at the training seed answer for their models instead
of a new training, charged their recorded seconds exactly as a tabular evaluator would; only the
other models are trained. Evaluations then name their ``source``: ``"live"`` or ``"benchmark"``.
A surrogate or finetune store is refused (a prediction or a student is not a normal training).

**Fidelity**: only the full training (``fidelities == (E,)``, E the recipe's epochs).
blox-train's :func:`~blox_train.train` always trains its schedule to ``recipe.epochs``; its
checkpoints continue a run that was killed, but nothing stops a run after epoch ``e < E`` and
continues it later, and a recipe with ``epochs=e`` is another run (the cosine schedule is
stretched over ``e`` epochs; another recipe id). Charging ``e`` epochs of a run trained to
``E`` would under-report the cost, so multi-fidelity algorithms get the one fidelity here.

**Training seed**: the recipe's first seed (``recipe.seeds[0]``, 0 for the registered
recipes) for every model and every search seed; search seeds change which models a search
asks for, not how a model trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from blox_space import parse_models
from blox_space.blocks import NUM_MODELS
from blox_space.errors import ConfigError
from blox_space.schema import BEST_VAL_ACC, EPOCH_SECONDS, RUN_STATUS, TEST_ACC, TRAIN_SECONDS, VAL_ACC
from blox_space.store import check_output_path, create_benchmark_shard, open_store, write_model_result
from blox_space.store.spec import STATUS_DONE, STATUS_FAILED, STATUS_PENDING

from ..errors import MissingExtraError, NotACandidateError
from .base import PaidEvaluator, describe_mapping

__all__ = ["LiveEvaluator", "INSTALL_HINT", "MAX_MODEL_CHUNKS"]

logger = logging.getLogger(__name__)

#: What to install for live evaluation.
INSTALL_HINT = 'pip install "blox-search[live]" (or pip install packages/blox-train)'
#: Most chunks along the model dimension of a new live store (see the module docstring).
MAX_MODEL_CHUNKS = 512


def _blox_train() -> Any:
    """The blox_train module, or MissingExtraError naming what to install."""
    try:
        import blox_train
    except ImportError as err:
        raise MissingExtraError(
            f"the live evaluator trains models with blox-train, which cannot be imported ({err}); "
            f"install it: {INSTALL_HINT}"
        ) from None
    return blox_train


@dataclass(frozen=True, slots=True)
class LiveRun:
    """One recorded run as the evaluator answers it.

    Attributes:
        status: ``"done"`` or ``"failed"``.
        search_metric: best validation top-1 (%), NaN when no epoch finished.
        reported_metric: test top-1 (%) with the best-validation weights (NaN if none).
        seconds: the seconds charged for it (module docstring).
    """

    status: str
    search_metric: float
    reported_metric: float
    seconds: float


class _Live:
    """What all evaluators of one store share: recipe, candidates, the store, data and runs."""

    def __init__(
        self,
        out: str | Path,
        recipe: Any,
        candidates: np.ndarray,
        device: str,
        data_root: str | Path | None,
        threads: int | None,
        reuse: Sequence[str | Path] = (),
    ) -> None:
        self.bt = _blox_train()
        self.path = Path(out)
        self.recipe = recipe
        self.seed = int(recipe.seeds[0])
        self.candidates = candidates
        self.device = device
        self.data_root = data_root
        self.threads = threads
        self.ckpt_dir = self.bt.shard.checkpoint_dir_for(self.path)
        self.runs: dict[int, LiveRun] = {}
        self.num_trained = 0
        self.data: Any = None
        self.group: Any = None
        self.positions: np.ndarray | None = None
        self.seed_pos = 0
        self.reuse = [self._reuse_store(path) for path in reuse]
        self.reused: dict[int, str] = {}  # model -> store path it was answered from
        if self.path.exists():
            self._attach(open_store(self.path, "benchmark", mode="r+"))

    def _reuse_store(self, path: str | Path) -> Any:
        """A tabular view of a reuse store at the training seed (module docstring)."""
        from .tabular import TabularEvaluator

        if not Path(path).exists():
            raise ConfigError(f"no store at {path} (a benchmark store to reuse the runs of)")
        table = TabularEvaluator(path, seed=self.seed)
        about = table.describe()
        if about.get("store_kind") != "benchmark" or about.get("num_predicted"):
            raise ConfigError(
                f"{path} is a {about.get('store_kind')} store; only a normal-training benchmark store's runs "
                "can stand in for live training"
            )
        if about.get("recipe_id") != self.recipe.id:
            raise ConfigError(
                f"{path} holds recipe id {about.get('recipe_id')}, not {self.recipe.id} ({self.recipe.name}): "
                "its runs cannot stand in for this recipe's training"
            )
        return table

    # ------------------------------------------------------------------ store
    def _attach(self, group: Any) -> None:
        """Check an existing store fits this recipe and these candidates, and use it."""
        recipe, path = self.recipe, self.path
        if group.attrs.get("recipe_id") != recipe.id:
            raise ConfigError(
                f"{path} holds recipe id {group.attrs.get('recipe_id')}, not {recipe.id} ({recipe.name}); "
                "use another store or delete it"
            )
        epochs = int(group.attrs.get("epochs", -1))
        if epochs != recipe.epochs:
            raise ConfigError(f"{path} holds {epochs}-epoch runs, not {recipe.epochs}; use another store")
        seeds = group["seed"][:]
        if self.seed not in seeds.tolist():
            raise ConfigError(
                f"{path} holds seeds {seeds.tolist()}, not the training seed {self.seed}; use another store"
            )
        models = group["model"][:]
        held = np.isin(self.candidates, models)
        if not held.all():
            raise ConfigError(
                f"{path} holds {len(models)} models but not {int((~held).sum())} of the "
                f"{len(self.candidates)} candidates (e.g. {int(self.candidates[~held][0])}); "
                "use another store for these candidates"
            )
        lookup = np.full(NUM_MODELS, -1, dtype=np.int64)
        lookup[models] = np.arange(len(models))
        self.group, self.positions = group, lookup
        self.seed_pos = int(np.flatnonzero(seeds == self.seed)[0])

    def _create(self) -> None:
        recipe, n = self.recipe, len(self.candidates)
        check_output_path(self.path)
        group = create_benchmark_shard(
            self.path,
            self.candidates,
            seeds=(self.seed,),
            epochs=recipe.epochs,
            recipe_id=recipe.id,
            recipe=recipe.to_dict(),
            dataset=recipe.dataset,
            attrs={"recipe_id_version": self.bt.recipes.RECIPE_ID_VERSION},
            producer=self.bt.shard.PRODUCER,
            model_chunk=math.ceil(n / MAX_MODEL_CHUNKS),
        )
        logger.info("created live store %s for %d candidates (recipe %s)", self.path, n, recipe.name)
        self._attach(group)

    def _read(self, model: int) -> LiveRun | None:
        """The recorded run of ``model``, or None while it is pending."""
        if self.group is None:
            return None
        g, m, s = self.group, int(self.positions[model]), self.seed_pos
        status = int(g[RUN_STATUS.name][m, s])
        if status == STATUS_PENDING:
            return None
        val = np.asarray(g[VAL_ACC.name][m, s, :], dtype=np.float64)
        best = float(g[BEST_VAL_ACC.name][m, s])
        if not math.isfinite(best):
            finite = val[np.isfinite(val)]
            best = float(finite.max()) if finite.size else math.nan
        epoch_s = np.asarray(g[EPOCH_SECONDS.name][m, s, :], dtype=np.float64)
        if np.isfinite(epoch_s).any():
            seconds = float(np.nancumsum(epoch_s)[-1])  # as TabularEvaluator sums them
        else:
            total = float(g[TRAIN_SECONDS.name][m, s])
            seconds = total if math.isfinite(total) else 0.0
        label = "done" if status == STATUS_DONE else "failed"
        return LiveRun(label, best, float(g[TEST_ACC.name][m, s]), seconds)

    # ------------------------------------------------------------------ runs
    def run(self, model: int) -> LiveRun:
        """The run of ``model``: remembered, read from a reuse store or the live store, or
        trained now."""
        known = self.runs.get(model)
        if known is not None:
            return known
        for table in self.reuse:
            if table.is_candidate(model):
                ev = table.fresh(0).evaluate(model)
                known = LiveRun("done", ev.search_metric, ev.reported_metric, ev.cost_s)
                self.runs[model] = known
                self.reused[model] = str(table.describe()["store"])
                return known
        run = self._read(model)
        if run is None:
            self._train(model)
            run = self._read(model)
            assert run is not None  # the row was just written
        self.runs[model] = run
        return run

    def _load_data(self) -> Any:
        if self.data is None:
            recipe = self.recipe
            self.data = self.bt.load_dataset(
                recipe.dataset,
                root=self.data_root,
                resolution=recipe.resolution,
                split_seed=recipe.split_seed,
                download=False,
            )
        return self.data

    def _train(self, model: int) -> None:
        """Train ``model`` (resuming its checkpoint if one is left) and write its row."""
        if self.group is None:
            self._create()
        data = self._load_data()
        ckpt = self.ckpt_dir / f"model-{model}-seed-{self.seed}.pt"
        with self.torch_threads():
            self._train_row(model, data, ckpt)
        self.num_trained += 1
        ckpt.unlink(missing_ok=True)
        if self.ckpt_dir.exists() and not any(self.ckpt_dir.iterdir()):
            self.ckpt_dir.rmdir()

    @contextlib.contextmanager
    def torch_threads(self) -> Iterator[None]:
        """torch's CPU threads set to ``self.threads`` (when set) for the block, then restored."""
        import torch

        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            if self.threads:
                torch.set_num_threads(before)

    def _train_row(self, model: int, data: Any, ckpt: Path) -> None:
        start = time.perf_counter()
        try:
            result = self.bt.train(
                model, self.recipe, seed=self.seed, data=data, device=self.device, checkpoint=ckpt
            )
        except RuntimeError as err:  # e.g. out of memory: recorded (and charged), the search carries on
            wall = time.perf_counter() - start
            logger.exception("live evaluation of model %d crashed", model)
            write_model_result(
                self.group,
                model,
                self.seed,
                per_epoch={},
                test={},
                train_seconds=wall,
                status=STATUS_FAILED,
                fail_reason=f"{type(err).__name__}: {err}",
            )
        else:
            write_model_result(
                self.group,
                model,
                self.seed,
                per_epoch=result.metrics,
                test=result.test,
                train_seconds=result.train_seconds,
                status=int(result.status_flag),
                fail_reason=result.reason,
                env=result.env,
                params=result.params,
                macs=result.macs,
            )
        logger.debug("model %d trained in %.2f s", model, time.perf_counter() - start)


def _recipe_of(
    recipe: Any, overrides: Mapping[str, Any] | Sequence[str] | None
) -> tuple[Any, dict[str, Any]]:
    """The blox-train recipe (a name or a Recipe, with overrides) and the overrides as a dict."""
    bt = _blox_train()
    if overrides is None:
        changes: dict[str, Any] = {}
    elif isinstance(overrides, Mapping):
        changes = dict(overrides)
    elif isinstance(overrides, (list, tuple)) and all(isinstance(item, str) for item in overrides):
        changes = bt.recipes.parse_overrides(list(overrides))
    else:
        raise ConfigError(
            f"overrides must be a mapping or a list of 'KEY=VALUE' strings, got {type(overrides).__name__}"
        )
    if isinstance(recipe, str):
        resolved = bt.get_recipe(recipe, changes or None)
    elif isinstance(recipe, bt.Recipe):
        resolved = recipe.replace(**changes) if changes else recipe
    else:
        raise ConfigError(f"recipe must be a recipe name or a blox_train.Recipe, got {type(recipe).__name__}")
    return resolved, changes


def _json_ready(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class LiveEvaluator(PaidEvaluator):
    """Evaluations answered by training the model through blox-train (module docstring).

    Args:
        out: the benchmark shard store that records every run (created on first use; an
            existing one is resumed).
        recipe: a blox-train recipe name (``"quick"``, ``"ci"``, ``"paper"``, ...) or a
            ``blox_train.Recipe``.
        models: the candidates: a model spec like the CLIs take (``"0:1000"``,
            ``"sample:500:0"``, ...; :func:`blox_space.parse_models`) or indices; None = all
            91,125 models.
        overrides: recipe settings to change (``{"epochs": 2}`` or ``["epochs=2"]``); they
            change the recipe id.
        device: the torch device to train on (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
        data_root: where the recipe's dataset lives (CIFAR, imagefolder); nothing is
            downloaded, ``digits`` and ``synthetic`` need nothing.
        threads: torch CPU threads while training (None: leave torch's setting).
        reuse: benchmark stores of the same recipe whose finished runs answer for their models
            instead of a training (module docstring).
        search_seed: the search seed this evaluator serves (recorded; training always uses
            the recipe's first seed); :meth:`fresh` makes one per search seed.

    Raises:
        MissingExtraError: blox-train (torch) is not installed.
        ConfigError: a bad recipe, override, model spec or thread count, or a store at
            ``out`` that holds another recipe, epochs, seed or not every candidate.
        StoreError / SchemaError: ``out`` exists but is not a benchmark store.
        DeviceError: a device this machine does not have.

    Example:
        >>> ev = LiveEvaluator("runs/live.zarr", recipe="ci", models="0:100")  # doctest: +SKIP
        >>> ev.evaluate(42).cost_s  # doctest: +SKIP
        1.62
    """

    def __init__(
        self,
        out: str | Path,
        *,
        recipe: Any,
        models: str | Sequence[int] | np.ndarray | None = None,
        overrides: Mapping[str, Any] | Sequence[str] | None = None,
        device: str = "cpu",
        data_root: str | Path | None = None,
        threads: int | None = None,
        reuse: Sequence[str | Path] | None = None,
        search_seed: int = 0,
        _live: _Live | None = None,
    ) -> None:
        if _live is None:
            if threads is not None and (
                isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
            ):
                raise ConfigError(f"threads must be an int >= 1 or None, got {threads!r}")
            resolved, changes = _recipe_of(recipe, overrides)
            candidates = (
                np.arange(NUM_MODELS, dtype=np.int64) if models is None else parse_models(models)
            ).astype(np.int64)
            _blox_train().environment.resolve_device(device)  # an unknown device fails now, not mid-search
            _live = _Live(out, resolved, candidates, str(device), data_root, threads, list(reuse or ()))
            self._overrides = {k: _json_ready(v) for k, v in changes.items()}
        else:
            self._overrides = dict(overrides or {})
        self._live = _live
        self._search_seed = int(search_seed)
        self._candidates = _live.candidates.copy()
        self._fidelities = (int(_live.recipe.epochs),)
        self._init_ledger()

    def fresh(self, seed: int) -> LiveEvaluator:
        """A new ledger for search seed ``seed`` over the same store (runs are shared)."""
        live = self._live
        return LiveEvaluator(
            live.path, recipe=live.recipe, overrides=self._overrides, search_seed=seed, _live=live
        )

    @property
    def store(self) -> Path:
        """The benchmark shard store that records the runs."""
        return self._live.path

    @property
    def recipe(self) -> Any:
        """The ``blox_train.Recipe`` every model is trained with (overrides applied)."""
        return self._live.recipe

    @property
    def training_seed(self) -> int:
        """The seed every model is trained with (the recipe's first seed)."""
        return self._live.seed

    @property
    def search_seed(self) -> int:
        """The search seed this evaluator serves."""
        return self._search_seed

    @property
    def num_trained(self) -> int:
        """Models trained (not read back) so far by the evaluators sharing this store object."""
        return self._live.num_trained

    @property
    def sources(self) -> tuple[str, ...]:
        """What answers: ``("live", "benchmark")`` with reuse stores, else ``("",)``."""
        return ("live", "benchmark") if self._live.reuse else ("",)

    @property
    def device(self) -> str:
        """The torch device models are trained on."""
        return self._live.device

    @property
    def threads(self) -> int | None:
        """torch CPU threads while training (None: torch's setting)."""
        return self._live.threads

    def torch_threads(self) -> contextlib.AbstractContextManager[None]:
        """A context in which torch uses this evaluator's CPU threads (restored after)."""
        return self._live.torch_threads()

    def dataset(self) -> Any:
        """The recipe's dataset (``blox_train.DataSplits``), loaded once per store object."""
        return self._live._load_data()

    def work_folder(self, name: str) -> Path:
        """A folder beside the store for other resumable work of this search (e.g. a supernet):
        ``<store>.<name>/search-seed-<search seed>``."""
        return (
            self._live.path.with_name(f"{self._live.path.name}.{name}") / f"search-seed-{self._search_seed}"
        )

    def evaluate(self, model: int, *, fidelity: int | None = None, mode: Any = "continue") -> Any:
        ev = super().evaluate(model, fidelity=fidelity, mode=mode)
        if not self._live.reuse:
            return ev
        return dataclasses.replace(ev, source="benchmark" if int(model) in self._live.reused else "live")

    def run(self, model: int) -> LiveRun:
        """The recorded run of a candidate (training it now if it is not in the store),
        without charging this evaluator's ledger."""
        model = int(model)
        if not self.is_candidate(model):
            raise NotACandidateError(f"model {model} is not a candidate of this evaluator")
        return self._live.run(model)

    def describe(self) -> dict[str, Any]:
        live, recipe = self._live, self._live.recipe
        digest = hashlib.md5(np.ascontiguousarray(live.candidates, dtype="<i8").tobytes()).hexdigest()
        return describe_mapping(
            {
                "kind": "live",
                "store": str(live.path),
                "recipe": recipe.name,
                "recipe_id": recipe.id,
                "overrides": dict(sorted(self._overrides.items())),
                "dataset": recipe.dataset,
                "epochs": int(recipe.epochs),
                "training_seed": live.seed,
                "device": live.device,
                "threads": live.threads,
                "num_candidates": len(live.candidates),
                "candidates_md5": digest,
                "search_metric": "best val_acc (%) of the full training",
                "reported_metric": "test_acc (%) with the best-validation weights",
                "cost": "recorded epoch_seconds of the run on the device",
                "fidelities": [self._fidelities[0], self._fidelities[-1]],
                "latency_device": None,
                **(
                    {"reuse": [str(t.describe()["store"]) for t in live.reuse], "sources": list(self.sources)}
                    if live.reuse
                    else {}
                ),
            }
        )

    def _observe(self, model: int, epoch: int) -> tuple[float, float, float]:
        run = self._live.run(model)
        return run.search_metric, run.reported_metric, math.nan

    def _seconds(self, model: int, epoch: int) -> float:
        return self._live.run(model).seconds
