"""The one home of search-cost units (SPEC §0, §7a; STYLE §4): seconds on a device and FTE.

One **FTE** (full-training equivalent) is the device time of one normal training of one model
under the reference recipe on that device: the median ``train_seconds`` over the finished runs
of the normal-training benchmark store of that recipe. Every evaluator charges seconds; reports
convert them with :meth:`CostModel.to_fte` and nothing else divides by a training time.

One-time costs (a block library, a teacher that is not given, a supernet) are charged once, at
the start of a search, before its first evaluation (:attr:`CostModel.one_time_s`).

Example:
    >>> cost = CostModel(fte_seconds=200.0, one_time_s=100.0)
    >>> cost.to_fte(600.0), cost.to_seconds(1.5)
    (3.0, 300.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from blox_space.errors import ConfigError

__all__ = ["CostModel", "fte_seconds_of"]


@dataclass(frozen=True)
class CostModel:
    """Seconds <-> FTE, plus the one-time costs charged at the start of every search.

    Attributes:
        fte_seconds: seconds of one FTE (> 0).
        one_time_s: seconds charged before the first evaluation (e.g. a block library);
            ``one_time`` breaks them down by name.
        reference: where ``fte_seconds`` comes from (store path, recipe id, number of runs,
            device), recorded in every search store.
    """

    fte_seconds: float
    one_time_s: float = 0.0
    one_time: Mapping[str, float] = field(default_factory=dict)
    reference: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.fte_seconds, (int, float)) and math.isfinite(self.fte_seconds)):
            raise ConfigError(f"fte_seconds must be a finite number > 0, got {self.fte_seconds!r}")
        if self.fte_seconds <= 0:
            raise ConfigError(f"fte_seconds must be > 0, got {self.fte_seconds!r}")
        if not math.isfinite(self.one_time_s) or self.one_time_s < 0:
            raise ConfigError(f"one_time_s must be a finite number >= 0, got {self.one_time_s!r}")

    def to_fte(self, seconds: Any) -> Any:
        """Seconds (a number or an array) in FTE."""
        if isinstance(seconds, np.ndarray):
            return seconds / self.fte_seconds
        return float(seconds) / self.fte_seconds

    def to_seconds(self, fte: Any) -> Any:
        """FTE (a number or an array) in seconds."""
        if isinstance(fte, np.ndarray):
            return fte * self.fte_seconds
        return float(fte) * self.fte_seconds

    def with_one_time(self, **seconds: float) -> CostModel:
        """A copy with named one-time costs added (seconds each)."""
        for name, value in seconds.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(
                    f"one-time cost {name!r} must be a finite number of seconds >= 0, got {value!r}"
                )
        merged = {**self.one_time, **{k: float(v) for k, v in seconds.items()}}
        return CostModel(self.fte_seconds, float(sum(merged.values())), merged, dict(self.reference))

    def to_attrs(self) -> dict[str, Any]:
        """JSON attributes (what a search store records)."""
        out = asdict(self)
        out["one_time"], out["reference"] = dict(self.one_time), dict(self.reference)
        return out

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> CostModel:
        """The inverse of :meth:`to_attrs`."""
        return cls(
            float(attrs["fte_seconds"]),
            float(attrs.get("one_time_s", 0.0)),
            dict(attrs.get("one_time", {})),
            dict(attrs.get("reference", {})),
        )

    @classmethod
    def from_benchmark(cls, store: str | Path, *, one_time_s: Mapping[str, float] | None = None) -> CostModel:
        """The cost model whose FTE is the median ``train_seconds`` of a normal-training
        benchmark store (see :func:`fte_seconds_of`)."""
        seconds, reference = fte_seconds_of(store)
        model = cls(seconds, reference=reference)
        return model.with_one_time(**one_time_s) if one_time_s else model


def fte_seconds_of(store: str | Path) -> tuple[float, dict[str, Any]]:
    """One FTE of a benchmark store: the median ``train_seconds`` over its finished, measured
    runs (all seeds; surrogate-predicted rows have no seconds and do not count).

    Returns:
        ``(seconds, reference)``: the reference names the store, its kind, recipe id, dataset,
        the number of runs the median is over and the device(s) they ran on.

    Raises:
        StoreError / SchemaError: not a benchmark store.
        ConfigError: the store has no finished run with a recorded training time.
    """
    from blox_space import open_benchmark
    from blox_space.store.spec import STATUS_DONE

    bench = open_benchmark(store, latency=[])
    models = bench.models
    seconds = np.stack(
        [np.asarray(bench.train_time(models, seed=s), dtype=np.float64) for s in bench.seeds], axis=-1
    )
    status = np.stack([np.asarray(bench.status(models, seed=s)) for s in bench.seeds], axis=-1)
    measured = (status == STATUS_DONE) & np.isfinite(seconds) & (seconds > 0)
    if bench.is_surrogate:
        measured &= ~np.asarray(bench.is_predicted(models), dtype=bool)[:, None]
    if not measured.any():
        raise ConfigError(
            f"{store}: no finished run with a recorded train_seconds, so it cannot define one FTE"
        )
    devices = sorted(
        {str(e.get("device", e.get("gpu", "unknown"))) for e in bench.attrs.get("environments", [])}
    )
    reference = {
        "store": str(store),
        "store_kind": bench.kind,
        "recipe_id": bench.recipe_id,
        "dataset": bench.dataset,
        "epochs": bench.epochs,
        "num_runs": int(measured.sum()),
        "devices": devices,
        "statistic": "median train_seconds over finished runs",
    }
    return float(np.median(seconds[measured])), reference
