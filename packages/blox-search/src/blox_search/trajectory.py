"""Search stores (the ``search`` kind of :mod:`blox_space.store.search`): writing them step by
step while a search runs, and reading them back as :class:`Trajectory` objects and tables.

Example:
    >>> run = open_search("results/search/random.zarr")  # doctest: +SKIP
    >>> run.trajectory(0).incumbent_reported[-1]  # doctest: +SKIP
    >>> run.to_frame().head()  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from blox_space.errors import StoreError
from blox_space.store import create_store, open_store, read_array
from blox_space.store.group import quiet_zarr
from blox_space.store.search import SEARCH, STEP_ARRAYS, STEP_CHUNK, STOP_REASONS
from blox_space.store.spec import STATUS_DONE, STATUS_PENDING

from .problem import STEP_FIELDS, Steps

__all__ = ["Trajectory", "SearchRun", "SearchStore", "open_search", "TRAJECTORY_COLUMNS"]

#: Columns of ``blox-search trajectories --csv`` (a contract: other tools read it).
TRAJECTORY_COLUMNS = (
    "algorithm",
    "seed",
    "step",
    "model",
    "fidelity",
    "search_metric",
    "reported_metric",
    "cost_s",
    "cum_cost_s",
    "cum_fte",
    "is_repeat",
    "source",
)
_DTYPES = {spec.name: np.dtype(spec.dtype) for spec in STEP_ARRAYS}


@dataclass(frozen=True)
class Trajectory:
    """Every evaluation of one search seed, as aligned arrays (one entry per step).

    Attributes mirror the search store's step arrays (:mod:`blox_space.store.search`);
    ``algorithm`` and ``seed`` name the run, ``stop_reason`` says why it ended.
    """

    algorithm: str
    seed: int
    stop_reason: str
    model: np.ndarray
    fidelity: np.ndarray
    search_metric: np.ndarray
    reported_metric: np.ndarray
    cost_s: np.ndarray
    cum_cost_s: np.ndarray
    cum_fte: np.ndarray
    is_repeat: np.ndarray
    incumbent: np.ndarray
    incumbent_search: np.ndarray
    incumbent_reported: np.ndarray
    latency_s: np.ndarray
    #: index into the evaluator's sources (0: its default); all 0 when not given
    source: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.source is None:
            object.__setattr__(self, "source", np.zeros(len(self.model), dtype=np.int16))

    def __len__(self) -> int:
        return len(self.model)

    @classmethod
    def from_steps(cls, algorithm: str, seed: int, stop_reason: str, steps: Steps) -> Trajectory:
        cols = steps.columns()
        return cls(algorithm, int(seed), stop_reason, **{n: cols[n].astype(_DTYPES[n]) for n in STEP_FIELDS})

    def to_steps(self) -> Steps:
        steps = Steps()
        for name in STEP_FIELDS:
            setattr(steps, name, getattr(self, name).tolist())
        return steps

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per evaluation (``algorithm``, ``seed``, ``step`` first)."""
        import pandas as pd

        data = {"algorithm": self.algorithm, "seed": self.seed, "step": np.arange(len(self))}
        names = [f.name for f in fields(self) if f.name in STEP_FIELDS]
        first = [n for n in TRAJECTORY_COLUMNS if n in names]  # the CSV contract's order first
        data.update({n: getattr(self, n) for n in first + [n for n in names if n not in first]})
        return pd.DataFrame(data)


class SearchRun:
    """One search store, read back (see :func:`open_search`)."""

    def __init__(self, group: Any, path: Path) -> None:
        self._group, self.path = group, path
        self.attrs = dict(group.attrs)
        self.seeds = [int(s) for s in read_array(group, "seed")]
        self.num_steps = read_array(group, "num_steps").astype(np.int64)
        self.status = read_array(group, "status")
        self.stop_reasons = [STOP_REASONS[int(r)] for r in read_array(group, "stop_reason")]
        self.wall_seconds = read_array(group, "wall_seconds")

    @property
    def algorithm(self) -> str:
        return str(self.attrs["algorithm"])

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.attrs["algorithm_params"])

    @property
    def evaluator(self) -> dict[str, Any]:
        return dict(self.attrs["evaluator"])

    @property
    def budget_fte(self) -> float:
        return float(self.attrs["budget_fte"])

    @property
    def cost(self) -> dict[str, Any]:
        return dict(self.attrs["cost"])

    @property
    def one_shot(self) -> bool:
        """Whether the algorithm is one-shot (DARTS-PT): its search cost is outside the budget."""
        return bool(self.attrs.get("one_shot", False))

    def seed_info(self, seed: int) -> dict[str, Any]:
        """What the algorithm reported for ``seed`` beside its steps ({} when nothing)."""
        return dict(self.attrs.get("seed_info", {}).get(str(int(seed)), {}))

    @property
    def is_done(self) -> bool:
        """Whether every seed finished."""
        return bool((self.status == STATUS_DONE).all())

    def __repr__(self) -> str:
        return f"<SearchRun {self.algorithm} seeds={self.seeds} budget={self.budget_fte} FTE at {self.path}>"

    def trajectory(self, seed: int) -> Trajectory:
        """The trajectory of search seed ``seed`` (the rows recorded so far when it is pending).

        Raises:
            StoreError: a seed the store does not have.
        """
        if seed not in self.seeds:
            raise StoreError(f"{self.path} has no seed {seed}; its seeds are {self.seeds}")
        i = self.seeds.index(seed)
        n = int(self.num_steps[i])
        cols = {name: read_array(self._group, name, (i, slice(0, n))) for name in STEP_FIELDS}
        return Trajectory(self.algorithm, int(seed), self.stop_reasons[i], **cols)

    def trajectories(self) -> list[Trajectory]:
        """One :class:`Trajectory` per seed, in the store's seed order."""
        return [self.trajectory(s) for s in self.seeds]

    def to_frame(self) -> Any:
        """All seeds' rows as one DataFrame (:meth:`Trajectory.to_frame` stacked)."""
        import pandas as pd

        frames = [t.to_frame() for t in self.trajectories()]
        return (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(TRAJECTORY_COLUMNS))
        )


def open_search(path: str | Path) -> SearchRun:
    """Open a search store for reading.

    Raises:
        StoreError / SchemaError: missing, damaged or not a search store.
    """
    return SearchRun(open_store(path, SEARCH.kind), Path(path))


class SearchStore:
    """Writes one search store as the search goes: :meth:`create` or :meth:`resume`, then
    :meth:`flush` rows of a seed and :meth:`finish` it."""

    def __init__(self, path: Path, group: Any) -> None:
        self.path, self._group = path, group
        self.seeds = [int(s) for s in read_array(group, "seed")]
        self.num_steps = read_array(group, "num_steps").astype(np.int64)
        self.status = read_array(group, "status")
        self._capacity = int(group["step"].shape[0])

    @classmethod
    def create(
        cls, path: str | Path, *, seeds: Sequence[int], attrs: Mapping[str, Any], overwrite: bool = False
    ) -> SearchStore:
        group = create_store(
            path,
            SEARCH,
            sizes={"seed": len(seeds), "step": STEP_CHUNK},
            attrs=dict(attrs),
            coords={"seed": np.asarray(seeds, dtype=np.int64)},
            producer="blox-search",
            overwrite=overwrite,
        )
        return cls(Path(path), group)

    @classmethod
    def open(cls, path: str | Path) -> SearchStore:
        return cls(Path(path), open_store(path, SEARCH.kind, mode="r+"))

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self._group.attrs)

    def recorded(self, seed: int) -> tuple[int, Steps | None]:
        """``(status, steps)`` of a seed: what an earlier run wrote (None when nothing)."""
        i = self.seeds.index(seed)
        n = int(self.num_steps[i])
        if n == 0:
            return int(self.status[i]), None
        steps = Steps()
        for name in STEP_FIELDS:
            setattr(steps, name, read_array(self._group, name, (i, slice(0, n))).tolist())
        return int(self.status[i]), steps

    def flush(self, seed: int, steps: Steps) -> None:
        """Write the seed's rows not written yet and its ``num_steps``."""
        i = self.seeds.index(seed)
        start, stop = int(self.num_steps[i]), len(steps)
        if stop <= start:
            return
        with quiet_zarr():
            if stop > self._capacity:
                capacity = -(-stop // STEP_CHUNK) * STEP_CHUNK * 2
                for spec in STEP_ARRAYS:
                    self._group[spec.name].resize((len(self.seeds), capacity))
                step = self._group["step"]
                step.resize((capacity,))
                step[self._capacity :] = np.arange(self._capacity, capacity)
                self._capacity = capacity
            cols = steps.columns(start)
            for spec in STEP_ARRAYS:
                self._group[spec.name][i, start:stop] = cols[spec.name].astype(spec.dtype)
            self.num_steps[i] = stop
            self._group["num_steps"][i] = stop

    def finish(
        self,
        seed: int,
        steps: Steps,
        *,
        stop_reason: str,
        wall_seconds: float,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """Flush the seed's last rows and mark it done; ``info`` (what the algorithm reported
        beside its steps, JSON-ready) goes to the ``seed_info`` attribute under the seed."""
        self.flush(seed, steps)
        i = self.seeds.index(seed)
        with quiet_zarr():
            if info:
                seed_info = dict(self._group.attrs.get("seed_info", {}))
                seed_info[str(seed)] = json.loads(json.dumps(dict(info), default=str))
                self._group.attrs["seed_info"] = seed_info
            self._group["stop_reason"][i] = STOP_REASONS.index(stop_reason)
            self._group["wall_seconds"][i] = float(wall_seconds)
            self._group["status"][i] = STATUS_DONE
        self.status[i] = STATUS_DONE

    def is_pending(self, seed: int) -> bool:
        return int(self.status[self.seeds.index(seed)]) == STATUS_PENDING
