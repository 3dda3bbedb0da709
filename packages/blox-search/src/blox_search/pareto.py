"""Accuracy x latency fronts and their 2-D hypervolume, and the normalised hypervolume a
multi-objective search reached (issue 14, item 8; related-work §J.4).

Conventions, the same everywhere in this module:

* the objectives are the reported metric (accuracy in %, **maximised**) and the latency in
  seconds (**minimised**);
* a point is *non-dominated* when no other point is at least as good in both and better in one;
  points with a NaN objective are never on a front and add nothing to a hypervolume;
* the hypervolume is the area (``% x s``) of the union of the boxes
  ``[reference_acc, acc] x [latency, reference_latency]`` of the points: exact (a sweep over
  latency), not sampled. A point no better than the reference in either objective adds nothing.

Because a tabular benchmark knows every candidate, :func:`pareto_summary` normalises the front a
search found by the **true** front of all candidates, with one **fixed** reference point per
benchmark (the worst reported metric and the worst latency over all candidates), stored with the
result -- so normalised hypervolumes are comparable across algorithms and seeds, unlike a
reference point taken from what a run observed (related-work §J.4).

Example:
    >>> import numpy as np
    >>> acc, lat = np.array([70.0, 75.0, 72.0]), np.array([1.0, 2.0, 2.5])
    >>> pareto_mask(acc, lat).tolist()
    [True, True, False]
    >>> hypervolume(acc, lat, (60.0, 3.0))  # 10 * (2 - 1) + 15 * (3 - 2)
    25.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from blox_space.errors import ConfigError

from .errors import SearchError
from .trajectory import SearchRun, open_search

__all__ = ["pareto_mask", "hypervolume", "pareto_summary", "pareto_ranks", "crowding_distance"]


def _pair(acc: Any, latency: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(acc, dtype=np.float64).ravel()
    lat = np.asarray(latency, dtype=np.float64).ravel()
    if a.shape != lat.shape:
        raise ConfigError(f"acc and latency must have the same length, got {a.size} and {lat.size}")
    return a, lat


def pareto_mask(acc: Any, latency: Any) -> np.ndarray:
    """Which points are non-dominated (maximum ``acc``, minimum ``latency``).

    Duplicated points are all on the front when one is (neither dominates the other); points
    with a NaN objective are never on it. ``O(n log n)``.

    Args:
        acc: accuracies (higher is better).
        latency: latencies (lower is better), same length.

    Returns:
        ``(n,)`` bool mask.

    Raises:
        ConfigError: the lengths differ.

    Example:
        >>> pareto_mask([1.0, 2.0, 2.0, 0.5], [1.0, 1.0, 1.0, 0.1]).tolist()
        [False, True, True, True]
    """
    a, lat = _pair(acc, latency)
    out = np.zeros(a.size, dtype=bool)
    ok = np.flatnonzero(np.isfinite(a) & ~np.isnan(lat))
    if not ok.size:
        return out
    sa, sl = a[ok], lat[ok]
    order = np.lexsort((-sa, sl))  # latency ascending, then accuracy descending
    sa, sl = sa[order], sl[order]
    best = np.maximum.accumulate(sa)
    start = np.searchsorted(sl, sl, side="left")  # first point of each equal-latency group
    before = np.where(start > 0, best[np.maximum(start - 1, 0)], -np.inf)
    # the group's best (and its duplicates) survive when strictly better than any faster point
    keep = (sa == sa[start]) & (sa > before)
    out[ok[order[keep]]] = True
    return out


def hypervolume(acc: Any, latency: Any, reference: Sequence[float]) -> float:
    """The exact 2-D hypervolume of the points against ``reference``.

    The area of the union of the boxes ``[reference[0], acc_i] x [latency_i, reference[1]]``:
    dominated points, NaN points and points not better than the reference in both objectives add
    nothing, so the hypervolume of a set equals that of its front and never decreases when a
    point is added.

    Args:
        acc: accuracies (maximised).
        latency: latencies (minimised), same length.
        reference: ``(reference_acc, reference_latency)``, a point worse than what should count.

    Returns:
        The area in units of ``acc x latency`` (e.g. ``% x s``); 0.0 for no point.

    Raises:
        ConfigError: the lengths differ, or the reference is not two finite numbers.

    Example:
        >>> hypervolume([2.0], [1.0], (0.0, 4.0))
        6.0
    """
    a, lat = _pair(acc, latency)
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if ref.size != 2 or not np.isfinite(ref).all():
        raise ConfigError(f"reference must be two finite numbers (acc, latency), got {reference!r}")
    ref_acc, ref_lat = float(ref[0]), float(ref[1])
    use = np.isfinite(a) & ~np.isnan(lat) & (a > ref_acc) & (lat < ref_lat)
    if not use.any():
        return 0.0
    a, lat = a[use], lat[use]
    order = np.argsort(lat, kind="stable")
    a, lat = a[order], lat[order]
    height = np.maximum.accumulate(a) - ref_acc  # best accuracy at latency <= lat[i]
    width = np.diff(np.append(lat, ref_lat))  # until the next point's latency (or the reference)
    return float(np.sum(width * height))


def pareto_ranks(acc: Any, latency: Any) -> np.ndarray:
    """Non-dominated sorting: rank 0 for the front, 1 for the front of the rest, and so on.

    Args:
        acc: accuracies (maximised).
        latency: latencies (minimised), same length; NaN objectives rank last.

    Returns:
        ``(n,)`` int64 ranks.
    """
    a, lat = _pair(acc, latency)
    ranks = np.full(a.size, -1, dtype=np.int64)
    left = np.arange(a.size)
    rank = 0
    while left.size:
        mask = pareto_mask(a[left], lat[left])
        if not mask.any():  # only NaN points are left
            ranks[left] = rank
            break
        ranks[left[mask]] = rank
        left = left[~mask]
        rank += 1
    return ranks


def crowding_distance(acc: Any, latency: Any) -> np.ndarray:
    """NSGA-II crowding distance of the points of one front.

    Per objective, the points are sorted and each inner point gets the gap between its two
    neighbours divided by the objective's range; the two extremes get infinity. Points of an
    objective with zero range get 0 from it.

    Args:
        acc: accuracies of the front's points.
        latency: their latencies.

    Returns:
        ``(n,)`` float64 distances (larger = less crowded).
    """
    a, lat = _pair(acc, latency)
    n = a.size
    out = np.zeros(n, dtype=np.float64)
    if n <= 2:
        out[:] = np.inf
        return out
    for values in (a, lat):
        order = np.argsort(values, kind="stable")
        v = values[order]
        span = v[-1] - v[0]
        out[order[0]] = out[order[-1]] = np.inf
        if span > 0 and np.isfinite(span):
            out[order[1:-1]] += (v[2:] - v[:-2]) / span
    return out


def pareto_summary(
    run: SearchRun | str | Path,
    *,
    latency: Sequence[str | Path] | None = None,
) -> dict[str, Any]:
    """The hypervolume of the accuracy x latency front each seed of a search found, normalised
    by the true front's over every candidate of the evaluator's store.

    A seed's found front: the non-dominated (reported metric, ``latency_s``) of the models it
    evaluated, at any fidelity (a tabular evaluator's reported metric does not depend on the
    fidelity). The true front: the same over all candidates of the rebuilt
    :class:`~blox_search.TabularEvaluator` (from the run's ``evaluator`` attrs: store, seed
    policy, latency device), for the store seed that search seed read (``"cycle"``: ``k mod
    S``). The **reference point** is fixed per (store, seed policy, latency device): the minimum
    reported metric over all candidates of every store seed the policy can read, and the maximum
    latency over all candidates -- it does not depend on the run, so every seed and every
    algorithm on that benchmark is scored against the same point.

    A blockwise search (DONNA, LANA under a latency budget) is scored on the table of its
    teacher's students at the longest FT length: the found front is over the steps answered
    there (source 0 at that fidelity), the true front over every candidate of that store.

    Args:
        run: a search store (path or :class:`~blox_search.SearchRun`) of a tabular or a
            blockwise evaluator with a latency device.
        latency: latency stores to attach when rebuilding the evaluator (None: the run's
            ``latency_stores`` evaluator attr when it has one, else those recorded with the
            benchmark).

    Returns:
        A plain dict: ``algorithm``, ``evaluator`` (the store path), ``latency_device``,
        ``reference_point`` (``{"reported_metric", "latency_s"}``), ``true_hypervolume`` (the
        true front's; the mean over the seeds' store seeds when they read several), ``seeds``
        (one ``{"seed", "front_size", "hypervolume", "true_hypervolume",
        "normalized_hypervolume"}`` per search seed) and ``normalized_hypervolume_mean`` /
        ``normalized_hypervolume_std`` (population std over the seeds).

    Raises:
        SearchError: the run's evaluator is not tabular or has no latency device, or no
            candidate has both objectives.
        StoreError: the run or its benchmark cannot be read.

    Example:
        >>> pareto_summary("results/search/pareto_re.zarr")["normalized_hypervolume_mean"]  # doctest: +SKIP
    """
    from .evaluators.blockwise import BlockwiseEvaluator
    from .evaluators.tabular import TabularEvaluator

    run = run if isinstance(run, SearchRun) else open_search(run)
    ev_attrs = run.evaluator
    kind = ev_attrs.get("kind")
    if kind not in ("tabular", "blockwise"):
        raise SearchError(
            f"{run.path}: pareto needs a tabular or blockwise evaluator (the whole table is known), got {kind!r}"
        )
    device = ev_attrs.get("latency_device")
    if not device:
        raise SearchError(f"{run.path}: the search had no latency device; run it with one to score its front")
    store = str(ev_attrs["store"])
    if latency is None and ev_attrs.get("latency_stores"):
        latency = list(ev_attrs["latency_stores"])
    policy = ev_attrs.get("seed_policy", "cycle")
    if kind == "blockwise":
        # the table a blockwise search is scored on: its teacher's students at the longest FT length
        base: Any = BlockwiseEvaluator.from_description(ev_attrs, latency=latency)
    else:
        base = TabularEvaluator(store, seed=policy, latency_device=device, latency=latency)
    # every store seed the policy can read, so the reference does not depend on the run's seeds
    views = [base.fresh(i) for i in range(len(base.store_seeds))] if policy == "cycle" else [base]
    tables = {}
    for view in views:
        oracle = view.oracle()
        tables[view.store_seed] = (oracle["reported_metric"], oracle["latency_s"])
    accs = np.concatenate([t[0] for t in tables.values()])
    lats = np.concatenate([t[1] for t in tables.values()])
    both = np.isfinite(accs) & np.isfinite(lats)
    if not both.any():
        raise SearchError(f"{store}: no candidate has both a reported metric and a latency on {device}")
    reference = (float(accs[both].min()), float(lats[both].max()))
    true_hv = {key: hypervolume(acc, lat, reference) for key, (acc, lat) in tables.items()}

    rows = []
    for seed in run.seeds:
        key = base.fresh(seed).store_seed
        traj = run.trajectory(seed)
        acc, lat = traj.reported_metric, traj.latency_s
        if kind == "blockwise":  # only the answers of the table scored: the teacher at the longest FT
            same = (traj.source == 0) & (traj.fidelity == max(base.fidelities))
            acc, lat = acc[same], lat[same]
        front = pareto_mask(acc, lat)
        points = np.unique(np.stack([acc[front], lat[front]], axis=1), axis=0)
        hv = hypervolume(acc, lat, reference)
        rows.append(
            {
                "seed": int(seed),
                "front_size": int(len(points)),
                "hypervolume": hv,
                "true_hypervolume": true_hv[key],
                "normalized_hypervolume": hv / true_hv[key] if true_hv[key] > 0 else math.nan,
            }
        )
    norm = np.array([r["normalized_hypervolume"] for r in rows], dtype=np.float64)
    return {
        "algorithm": run.algorithm,
        "evaluator": store,
        "latency_device": str(device),
        "reference_point": {"reported_metric": reference[0], "latency_s": reference[1]},
        "true_hypervolume": float(np.mean([r["true_hypervolume"] for r in rows])),
        "seeds": rows,
        "normalized_hypervolume_mean": float(np.mean(norm)),
        "normalized_hypervolume_std": float(np.std(norm)),
    }
