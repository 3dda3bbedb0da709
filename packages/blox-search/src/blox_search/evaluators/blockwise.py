"""Blockwise evaluation (SPEC §5c, §7, §7a): answers from the finetune stores of one or more
teachers, from the normal-training benchmark, and the costs of making the teachers' block
libraries.

A :class:`BlockwiseEvaluator` has several **sources** (:attr:`BlockwiseEvaluator.sources`):

* each teacher whose finetune stores it holds (the default teacher first): evaluating a model
  with a teacher source at fidelity ``f`` reads the student fine-tuned from that teacher's
  block library for ``f`` epochs (FT10, FT200 ...: the finetune store of that FT length). The
  search metric is the run's best validation top-1, the reported metric its test top-1;
* ``"normal"``: the model trained normally (the benchmark store, full training).

Cost rules (SPEC §7a), per search seed:

* every (source, FT length, model) is its own run (FT50 is not FT200 stopped at epoch 50): the
  first evaluation costs the seconds that run recorded, any repeat is free (``is_repeat``);
  ``mode`` does not change that (there is no continuing a fine-tuning into a longer one);
* a teacher's **setup** -- its block library (the recorded distillation and LANA-signature
  seconds of every block in its blockwise store) plus its own normal training unless the
  teacher is given (``teacher_given=True``) -- is paid once: the default teacher's is a
  one-time cost charged before the first evaluation (:meth:`one_time_costs`, which
  :func:`~blox_search.run_search` adds to the cost model), another teacher's is added to the
  cost of the first evaluation that uses it.

Candidates: the models finished in every finetune store given and in the benchmark (so any
source can answer for any candidate). Latency (``latency_device``) comes from the benchmark's
latency stores, for every source alike.

What else a blockwise algorithm may use -- the signatures of a paid-for library, the latency
lookup table, analytic params and MACs per block -- is in :class:`BlockwiseView`
(:meth:`BlockwiseEvaluator.blockwise_view`, :meth:`blox_search.Problem.blockwise`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from blox_space import open_benchmark, open_blockwise
from blox_space.blocks import NUM_MODELS
from blox_space.cost import block_costs, fixed_costs
from blox_space.errors import ConfigError
from blox_space.store import open_store

from ..errors import NotACandidateError
from .base import Evaluation, Mode, describe_mapping
from .tabular import TabularEvaluator

__all__ = ["BlockwiseEvaluator", "BlockwiseView", "NORMAL"]

#: The source name of normal training (the benchmark store).
NORMAL = "normal"


@dataclass(frozen=True)
class BlockwiseView:
    """What a blockwise algorithm may know about one teacher besides its evaluations.

    Attributes:
        teacher: the teacher's name (e.g. ``"M1"``).
        teacher_model: its model index; ``teacher_val_acc`` / ``teacher_test_acc`` its normal
            training's validation / test top-1 (%), known once it was trained.
        block_latency_s: ``(3, 45)`` seconds of each (stage, block) on the latency device (the
            lookup table), None without a latency device or table; ``fixed_latency_s`` the
            fixed parts (stem, head, glue) together.
        block_params, block_macs: ``(3, 45)`` analytic parameters / MACs of each (stage, block)
            (cell + reduction) at the teacher's geometry; ``fixed_params`` / ``fixed_macs`` the
            rest of the network, so a model's total is the fixed part plus its three blocks.
        latency_device: the latency device's name (None: none).
    """

    teacher: str
    teacher_model: int
    teacher_val_acc: float
    teacher_test_acc: float
    block_latency_s: np.ndarray | None
    fixed_latency_s: float
    block_params: np.ndarray
    fixed_params: int
    block_macs: np.ndarray
    fixed_macs: int
    latency_device: str | None
    _store: str = field(repr=False, default="")

    def signatures(self, kind: str = "donna", at: int | None = None) -> np.ndarray:
        """The ``(3, 45)`` signature table of the teacher's library (NaN: not distilled).

        Args:
            kind: ``"donna"`` (validation NSR at distillation epoch ``at``, lower is closer to
                the teacher) or ``"lana"`` (change of the teacher's validation top-1 in
                percentage points with the stage replaced, at snapshot ``at``; higher is better).
            at: the epoch / snapshot (None: the last).
        """
        if kind not in ("donna", "lana"):
            raise ConfigError(f"signature kind must be 'donna' or 'lana', got {kind!r}")
        results = open_blockwise(self._store)
        table = results.donna(at) if kind == "donna" else results.lana(at)
        return np.array(table, dtype=np.float64)


class _Teacher:
    """One teacher: its finetune evaluators by FT length, its blockwise store and setup cost."""

    def __init__(self, name: str, record: Mapping[str, Any]) -> None:
        self.name = name
        self.record = dict(record)
        self.stores: dict[int, Path] = {}
        self.blockwise: Path | None = None
        self.library_s = 0.0
        self.training_s = 0.0


class BlockwiseEvaluator:
    """Evaluations answered by teachers' finetune stores and the normal-training benchmark
    (module docstring for the sources and the cost rules).

    Args:
        benchmark: the normal-training benchmark store (source ``"normal"``; where the
            teachers' training seconds come from when their records lack them).
        finetune: finetune store paths; each names its teacher and FT length in its
            attributes. Every teacher needs a blockwise store in ``blockwise``.
        blockwise: ``{teacher name: blockwise store}`` (the library's cost and signatures).
        teacher: the default teacher (None: the teacher of the first finetune store).
        ft_epochs: the FT lengths to offer as fidelities (None: every length of the default
            teacher); the other teachers must have them too.
        teacher_given: the teachers exist already (their training is not charged).
        seed, search_seed: the seed policy of every store read (see
            :class:`~blox_search.TabularEvaluator`).
        latency_device, latency: the latency device and stores (of the benchmark).

    Raises:
        ConfigError: no finetune store, a teacher without a blockwise store or with two stores
            of one FT length, an FT length the default teacher lacks, no common candidate.
        StoreError / SchemaError: an unreadable store, or a finetune store that is not one.
    """

    def __init__(
        self,
        benchmark: str | Path,
        *,
        finetune: Sequence[str | Path],
        blockwise: Mapping[str, str | Path] | None = None,
        teacher: str | None = None,
        ft_epochs: Sequence[int] | None = None,
        teacher_given: bool = False,
        seed: int | str = "cycle",
        search_seed: int = 0,
        latency_device: str | None = None,
        latency: Sequence[str | Path] | None = None,
        _shared: dict[str, Any] | None = None,
    ) -> None:
        if _shared is None:
            _shared = _load(
                benchmark, finetune, blockwise or {}, teacher, ft_epochs, teacher_given, seed,
                latency_device, latency,
            )  # fmt: skip
        self._shared = shared = _shared
        self._search_seed = int(search_seed)
        self._teachers: dict[str, _Teacher] = shared["teachers"]
        self._default: str = shared["default"]
        self._fidelities: tuple[int, ...] = shared["fidelities"]
        self._normal = shared["normal"].fresh(self._search_seed)
        self._runs = {
            (name, ft): ev.fresh(self._search_seed) for (name, ft), ev in shared["finetune"].items()
        }
        self._candidates: np.ndarray = shared["candidates"]
        self._latency: np.ndarray = shared["latency"]
        self._position: np.ndarray = shared["position"]
        self._set_up = {self._default}  # the default teacher's setup is a one-time cost

    # ---------------------------------------------------------------- protocol
    @property
    def candidates(self) -> np.ndarray:
        return self._candidates

    @property
    def fidelities(self) -> tuple[int, ...]:
        """The default teacher's FT lengths (epochs), ascending."""
        return self._fidelities

    @property
    def sources(self) -> tuple[str, ...]:
        """The default teacher, the other teachers, then ``"normal"``."""
        return self._shared["sources"]

    @property
    def teachers(self) -> dict[str, int]:
        """``{teacher name: its model index}``."""
        return {name: int(t.record["model"]) for name, t in self._teachers.items()}

    @property
    def store_seed(self) -> int | str:
        """The store seed this evaluator reads (or ``"mean"``), as a tabular evaluator's."""
        return self._normal.store_seed

    @property
    def store_seeds(self) -> list[int]:
        """Every seed of the benchmark store (what the ``"cycle"`` policy goes through)."""
        return self._normal.store_seeds

    @classmethod
    def from_description(
        cls, describe: Mapping[str, Any], *, latency: Sequence[str | Path] | None = None
    ) -> BlockwiseEvaluator:
        """The evaluator a search store's ``evaluator`` attrs describe (:meth:`describe`)."""
        stores = [p for by_ft in describe["finetune"].values() for p in by_ft.values()]
        policy = describe.get("seed_policy", "cycle")
        return cls(
            describe["store"], finetune=stores, blockwise=dict(describe["blockwise"]),
            teacher=describe["teacher"], ft_epochs=describe["fidelities"],
            teacher_given=bool(describe.get("teacher_given", False)), seed=policy,
            latency_device=describe.get("latency_device"), latency=latency,
        )  # fmt: skip

    def teacher_of(self, model: int) -> str | None:
        """The name of the teacher whose teacher model is ``model`` (None: it teaches nothing here)."""
        for name, t in self._teachers.items():
            if int(t.record["model"]) == int(model):
                return name
        return None

    def is_candidate(self, model: int) -> bool:
        return self._normal.is_candidate(model) and bool(self._position[int(model)] >= 0)

    def evaluate(
        self,
        model: int,
        *,
        fidelity: int | None = None,
        mode: Mode = "restart",
        source: str | None = None,
    ) -> Evaluation:
        """Evaluate ``model`` with ``source`` (None: the default teacher) at FT length
        ``fidelity`` (None: the longest; ignored for ``"normal"``); see the module docstring.

        Raises:
            NotACandidateError: not a candidate, an FT length or source not offered, a bad mode.
        """
        model = int(model)
        if not (0 <= model < self._position.size and self._position[model] >= 0):
            raise NotACandidateError(f"model {model} is not a candidate of this evaluator")
        if mode not in ("continue", "restart"):
            raise NotACandidateError(f"mode must be 'continue' or 'restart', got {mode!r}")
        name = self._default if source is None else source
        setup = 0.0
        if name == NORMAL:
            ev = self._normal.evaluate(model)
        else:
            if name not in self._teachers:
                raise NotACandidateError(
                    f"source {name!r} is not offered; sources are {', '.join(map(repr, self.sources))}"
                )
            ft = self._fidelities[-1] if fidelity is None else int(fidelity)
            run = self._runs.get((name, ft)) if ft in self._fidelities else None
            if run is None:
                lengths = sorted(f for (n, f) in self._runs if n == name)
                raise NotACandidateError(
                    f"teacher {name} has no FT{fidelity} store; its FT lengths are {', '.join(map(str, lengths))}"
                )
            ev = run.evaluate(model)
            if name not in self._set_up:
                self._set_up.add(name)
                teacher = self._teachers[name]
                setup = teacher.library_s + teacher.training_s
        latency = float(self._latency[self._position[model]])
        return Evaluation(
            model, ev.fidelity, ev.search_metric, ev.reported_metric, ev.cost_s + setup,
            ev.is_repeat and setup == 0.0, latency, "" if name == self._default else name,
        )  # fmt: skip

    def fresh(self, seed: int) -> BlockwiseEvaluator:
        """A new ledger for search seed ``seed`` (nothing paid) over the same loaded stores."""
        return BlockwiseEvaluator("", finetune=(), search_seed=seed, _shared=self._shared)

    def one_time_costs(self) -> dict[str, float]:
        """The default teacher's setup in seconds, charged before the first evaluation:
        ``{"library:<name>": s, "teacher:<name>": s}`` (no teacher entry when it is given)."""
        t = self._teachers[self._default]
        out = {f"library:{t.name}": t.library_s}
        if not self._shared["teacher_given"]:
            out[f"teacher:{t.name}"] = t.training_s
        return out

    def blockwise_view(self, teacher: str | None = None) -> BlockwiseView:
        """The :class:`BlockwiseView` of ``teacher`` (None: the default)."""
        name = self._default if teacher is None else teacher
        if name not in self._teachers:
            raise ConfigError(f"{name!r} is not a teacher here; teachers: {', '.join(self._teachers)}")
        t = self._teachers[name]
        views = self._shared["views"]
        if name not in views:
            rec = t.record
            width = int(rec.get("width") or 32)
            resolution = int(rec.get("resolution") or 32)
            classes = int(rec.get("num_classes") or 100)
            params, macs, _ = block_costs(width=width, resolution=resolution)
            parts = fixed_costs(width=width, resolution=resolution, num_classes=classes).values()
            fixed = (sum(p for p, _ in parts), sum(m for _, m in parts))
            table = self._shared["lut"]
            views[name] = BlockwiseView(
                teacher=name,
                teacher_model=int(rec["model"]),
                teacher_val_acc=float(rec.get("val_acc", float("nan"))),
                teacher_test_acc=float(rec.get("test_acc", float("nan"))),
                block_latency_s=None if table is None else table[0].copy(),
                fixed_latency_s=0.0 if table is None else float(table[1]),
                block_params=np.asarray(params, dtype=np.int64),
                fixed_params=int(fixed[0]),
                block_macs=np.asarray(macs, dtype=np.int64),
                fixed_macs=int(fixed[1]),
                latency_device=self._shared["latency_device"],
                _store=str(t.blockwise),
            )
        return views[name]

    def oracle(self, source: str | None = None, fidelity: int | None = None) -> dict[str, np.ndarray]:
        """Every candidate's answer from ``source`` at ``fidelity`` in one go (for reports that
        know the whole table, e.g. the true Pareto front; never for algorithms). Charges nothing."""
        name = self._default if source is None else source
        if name == NORMAL:
            ev = self._normal
        else:
            ft = self._fidelities[-1] if fidelity is None else int(fidelity)
            if (name, ft) not in self._runs:
                raise ConfigError(f"no FT{ft} store of teacher {name!r}")
            ev = self._runs[(name, ft)]
        table = ev.oracle()
        keep = np.isin(table["model"], self._candidates)
        out = {k: v[keep] for k, v in table.items()}
        out["latency_s"] = self._latency[self._position[out["model"]]]
        return out

    def describe(self) -> dict[str, Any]:
        shared = self._shared
        return describe_mapping(
            {
                "kind": "blockwise",
                "store": shared["benchmark"],
                "finetune": {
                    name: {str(ft): str(p) for ft, p in sorted(t.stores.items())}
                    for name, t in self._teachers.items()
                },
                "blockwise": {name: str(t.blockwise) for name, t in self._teachers.items()},
                "teacher": self._default,
                "teachers": {
                    name: {
                        "model": int(t.record["model"]),
                        "library_s": t.library_s,
                        "training_s": t.training_s,
                    }
                    for name, t in self._teachers.items()
                },
                "teacher_given": shared["teacher_given"],
                "sources": list(self.sources),
                "fidelities": list(self._fidelities),
                "seed_policy": shared["seed_policy"],
                "num_candidates": int(len(self._candidates)),
                "search_metric": "best val_acc (%) of the student fine-tuned for the fidelity's FT epochs "
                "(source 'normal': of the normal training)",
                "reported_metric": "test_acc (%) of that run",
                "latency_device": shared["latency_device"],
            }
        )


def _load(
    benchmark, finetune, blockwise, teacher, ft_epochs, teacher_given, seed, latency_device, latency
) -> dict[str, Any]:
    if not finetune:
        raise ConfigError("a blockwise evaluator needs at least one finetune store (--finetune)")
    normal = TabularEvaluator(benchmark, seed=seed, latency_device=latency_device, latency=latency)
    teachers: dict[str, _Teacher] = {}
    evaluators: dict[tuple[str, int], TabularEvaluator] = {}
    for path in finetune:
        attrs = dict(open_store(path, "finetune").attrs)
        record = dict(attrs["teacher"])
        name = str(record.get("name") or f"model-{record['model']}")
        ft = int(attrs["ft_epochs"])
        t = teachers.setdefault(name, _Teacher(name, record))
        if int(t.record["model"]) != int(record["model"]):
            raise ConfigError(
                f"{path}: its teacher {name} is model {record['model']}, another store's {name} is "
                f"model {t.record['model']}"
            )
        if ft in t.stores:
            raise ConfigError(f"teacher {name} has two FT{ft} stores: {t.stores[ft]} and {path}")
        t.stores[ft] = Path(path)
        evaluators[(name, ft)] = TabularEvaluator(path, seed=seed)
    default = next(iter(teachers)) if teacher is None else str(teacher)
    if default not in teachers:
        raise ConfigError(f"teacher {default!r} has no finetune store; teachers: {', '.join(teachers)}")
    unknown = sorted(set(blockwise) - set(teachers))
    if unknown:
        raise ConfigError(f"blockwise stores of {', '.join(unknown)}, who have no finetune store here")
    bench = open_benchmark(benchmark, latency=[])
    trained = dict(zip(bench.models.tolist(), range(len(bench.models))))
    for name, t in teachers.items():
        if name not in blockwise:
            raise ConfigError(
                f"teacher {name} needs its blockwise store (--blockwise {name}=PATH): its block library's "
                "seconds are part of every blockwise search's cost"
            )
        t.blockwise = Path(blockwise[name])
        results = open_blockwise(t.blockwise)
        if int(results.teacher["model"]) != int(t.record["model"]):
            raise ConfigError(
                f"{t.blockwise} distilled model {results.teacher['model']}, not {name}'s model {t.record['model']}"
            )
        t.library_s = float(np.nansum(results.seconds("total")))
        seconds = t.record.get("train_seconds")
        if seconds is None or not np.isfinite(float(seconds)):
            row = trained.get(int(t.record["model"]))
            times = (
                []
                if row is None
                else [float(bench.train_time(t.record["model"], seed=s)) for s in bench.seeds]
            )
            times = [x for x in times if np.isfinite(x)]
            if not times and not teacher_given:
                raise ConfigError(
                    f"teacher {name}: its record has no train_seconds and {benchmark} has no training of "
                    f"model {t.record['model']}; pass teacher_given=True if it was given"
                )
            seconds = float(np.mean(times)) if times else 0.0
        t.training_s = 0.0 if teacher_given else float(seconds)
    lengths = sorted(teachers[default].stores)
    if ft_epochs is not None:
        wanted = sorted({int(f) for f in ft_epochs})
        missing = [f for f in wanted if f not in teachers[default].stores]
        if missing or not wanted:
            raise ConfigError(
                f"teacher {default} has no FT{missing[0] if missing else '?'} store; its FT lengths are "
                f"{', '.join(map(str, lengths))}"
            )
        lengths = wanted
    candidates = normal.candidates
    for ev in evaluators.values():
        candidates = np.intersect1d(candidates, ev.candidates)
    if not len(candidates):
        raise ConfigError(
            "no model is finished in every finetune store and in the benchmark: nothing to search over"
        )
    position = np.full(NUM_MODELS, -1, dtype=np.int64)
    position[candidates] = np.arange(len(candidates))
    oracle = normal.oracle()
    latency_all = oracle["latency_s"][np.searchsorted(oracle["model"], candidates)]
    lut = None
    device = normal.describe().get("latency_device")
    if device:
        table = open_benchmark(benchmark, latency=latency).latency_table(device)
        if table is not None:
            lut = (np.asarray(table.block_latency_s, dtype=np.float64), float(np.sum(table.fixed_latency_s)))
    sources = (default, *[n for n in teachers if n != default], NORMAL)
    return {
        "benchmark": str(benchmark),
        "teachers": teachers,
        "default": default,
        "fidelities": tuple(lengths),
        "normal": normal,
        "finetune": evaluators,
        "candidates": np.asarray(candidates, dtype=np.int64),
        "latency": np.asarray(latency_all, dtype=np.float64),
        "position": position,
        "sources": sources,
        "teacher_given": bool(teacher_given),
        "seed_policy": seed if isinstance(seed, str) else int(seed),
        "latency_device": normal.describe().get("latency_device"),
        "lut": lut,
        "views": {},
    }
