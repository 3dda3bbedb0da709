"""Schema of the **search** store: the trajectories of one search algorithm run over several
search seeds (SPEC §7, §8), written step by step by ``blox-search run`` (one process writes
one store) and read by :func:`blox_search.open_search`.

Dimensions: ``seed`` (the search seeds, in the order they were given) and ``step`` (the
evaluation number within a seed, from 0; the store grows along ``step`` as a search goes on).

Arrays over ``(seed, step)`` -- one row per evaluation, fill values past the seed's
``num_steps``:

* ``model`` (int64, -1 fill), ``fidelity`` (int32, epochs from 1, 0 fill);
* ``search_metric`` / ``reported_metric`` (float64, %): what the algorithm saw (validation)
  and what is reported (test) -- the evaluator's description says exactly what each is;
* ``cost_s`` (s): what the evaluation was charged (0 for a repeat); ``cum_cost_s`` (s) and
  ``cum_fte`` (FTE): the running total, including the one-time costs charged before step 0;
* ``is_repeat`` (bool): nothing new was paid;
* ``incumbent`` (int64): the model with the best search metric so far (earliest on ties),
  ``incumbent_search`` / ``incumbent_reported`` (%): its metrics;
* ``latency_s`` (s): the model's latency on the evaluator's latency device (NaN: none);
* ``source`` (int16): what answered the evaluation, an index into the evaluator's ``sources``
  (its description): 0 for the one source of a benchmark evaluator; for a blockwise evaluator
  the teacher whose students were fine-tuned, or normal training (blockwise NAS, SPEC §7).

Arrays over ``(seed,)``: ``num_steps`` (int64), ``status`` (int8, pending / done: a killed
search leaves ``pending`` and resumes from its rows), ``stop_reason`` (int8, see
:data:`STOP_FLAGS`), ``wall_seconds`` (s: the seed's wall time, search overhead plus live
training).

Group attributes (:data:`SEARCH_ATTRS`): ``algorithm`` (registered name), ``algorithm_params``
(every hyperparameter), ``evaluator`` (its description: kind, store, recipe id, seed policy,
what the metrics are), ``budget_fte`` and ``budget_s``, ``cost`` (the cost model: FTE seconds,
one-time costs, reference), ``max_evaluations`` (None: no cap).

Not mergeable: one store holds one algorithm run.
"""

from __future__ import annotations

from typing import Any

from ..errors import SchemaError
from .spec import STATUS_FLAGS, ArraySpec, StoreSpec, register_store_kind

__all__ = [
    "SEARCH",
    "SEARCH_ATTRS",
    "SEARCH_SEED",
    "SEARCH_STEP",
    "STEP_ARRAYS",
    "SEED_ARRAYS",
    "STOP_REASONS",
    "STOP_FLAGS",
    "STEP_CHUNK",
]

_STEP = ("seed", "step")
SEARCH_SEED = ArraySpec("seed", ("seed",), "int64", "1", "search seed (seeds the algorithm's generator)")
SEARCH_STEP = ArraySpec("step", ("step",), "int64", "1", "evaluation number within a seed, from 0")

#: Why a seed's search ended (``stop_reason``): still running / killed, budget spent, the
#: algorithm finished (e.g. every candidate evaluated), too many free repeats in a row, the
#: evaluation cap reached.
STOP_REASONS = ("running", "budget", "finished", "stalled", "max_evaluations")
STOP_FLAGS = {"flag_values": list(range(len(STOP_REASONS))), "flag_meanings": " ".join(STOP_REASONS)}

STEP_ARRAYS = (
    ArraySpec("model", _STEP, "int64", "1", "model index evaluated", fill_value=-1, valid_range=(-1, 91124)),
    ArraySpec("fidelity", _STEP, "int32", "1", "epoch evaluated at (from 1)", valid_range=(0, 1_000_000)),
    ArraySpec("search_metric", _STEP, "float64", "%", "metric the algorithm optimised (validation top-1)"),
    ArraySpec("reported_metric", _STEP, "float64", "%", "metric reported for the model (test top-1)"),
    ArraySpec(
        "cost_s", _STEP, "float64", "s", "device seconds charged for the evaluation", valid_range=(0, 1e300)
    ),
    ArraySpec(
        "cum_cost_s", _STEP, "float64", "s", "cumulative seconds incl. one-time costs", valid_range=(0, 1e300)
    ),
    ArraySpec("cum_fte", _STEP, "float64", "1", "cumulative cost in full-training equivalents (FTE)"),
    ArraySpec("is_repeat", _STEP, "bool", "1", "True: nothing new was paid"),
    ArraySpec("incumbent", _STEP, "int64", "1", "model with the best search metric so far", fill_value=-1),
    ArraySpec("incumbent_search", _STEP, "float64", "%", "search metric of the incumbent"),
    ArraySpec("incumbent_reported", _STEP, "float64", "%", "reported metric of the incumbent"),
    ArraySpec("latency_s", _STEP, "float64", "s", "latency on the evaluator's latency device (NaN: none)"),
    ArraySpec(
        "source",
        _STEP,
        "int16",
        "1",
        "what answered: index into the evaluator's sources (0: its default)",
        valid_range=(0, 32767),
    ),  # fmt: skip
)
SEED_ARRAYS = (
    ArraySpec("num_steps", ("seed",), "int64", "1", "number of evaluations recorded for the seed"),
    ArraySpec("status", ("seed",), "int8", "1", "pending (running or killed) or done", attrs=STATUS_FLAGS),
    ArraySpec("stop_reason", ("seed",), "int8", "1", "why the seed's search ended", attrs=STOP_FLAGS),
    ArraySpec("wall_seconds", ("seed",), "float64", "s", "wall-clock seconds of the seed's search"),
)
#: Step chunk length: a flush rewrites at most a couple of chunks per seed.
STEP_CHUNK = 1024

SEARCH_ATTRS = (
    "algorithm",
    "algorithm_params",
    "evaluator",
    "budget_fte",
    "budget_s",
    "cost",
    "max_evaluations",
)


def check_search_store(group: Any, path: Any) -> None:
    """A budget that is a number > 0 and a cost model with FTE seconds.

    Raises:
        SchemaError: naming what is wrong.
    """
    budget = group.attrs["budget_fte"]
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise SchemaError(f"{path}: budget_fte must be a number > 0, got {budget!r}")
    cost = group.attrs["cost"]
    if not isinstance(cost, dict) or "fte_seconds" not in cost:
        raise SchemaError(f"{path}: attribute 'cost' must hold the cost model (fte_seconds ...)")


SEARCH = register_store_kind(
    StoreSpec(
        kind="search",
        coords=(SEARCH_SEED, SEARCH_STEP),
        arrays=STEP_ARRAYS + SEED_ARRAYS,
        chunks={"seed": 1, "step": STEP_CHUNK},
        required_attrs=SEARCH_ATTRS,
        merge_dim=None,
        check=check_search_store,
    )
)
