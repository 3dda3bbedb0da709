"""blox-search DONNA (issue 15): the evolutionary search over the predictor against the peer a
user would pick instead, Optuna's ``NSGAIISampler``, on the same predicted table, latency and
evaluation budget, scored against the exact predicted front (the exhaustive search, which the
whole space being 91,125 models makes possible).

* The table: a DONNA-like additive prediction (per-stage block terms plus a small pairwise
  interaction, so the front is not trivially separable) and a latency (per-block lookup table
  plus a fixed part), both seeded.
* Both searches maximise the prediction and minimise the latency over three categorical genes
  (the stages' block ids), population 50; Optuna gets as many trials as DONNA read distinct
  predictions (its trials may repeat a model, which only helps it: a repeat costs nothing here).
* The score: the hypervolume of each front over the exact front's (reference: the worst
  prediction and the largest latency of the space), mean over 5 seeds, and the seconds.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from blox_search.blockwise.donna import donna_evolution, predicted_front
from blox_search.pareto import hypervolume
from blox_space.arch import blocks_to_indices, indices_to_blocks

SEEDS = range(5)


def _table(seed: int = 0):
    rng = np.random.default_rng(seed)
    blocks = indices_to_blocks(np.arange(91125))
    terms = rng.normal(size=(3, 45))
    pair = rng.normal(scale=0.2, size=(45, 45))
    predicted = terms[0, blocks[:, 0]] + terms[1, blocks[:, 1]] + terms[2, blocks[:, 2]]
    predicted += pair[blocks[:, 0], blocks[:, 2]]
    block_latency = rng.uniform(1e-4, 1e-3, size=(3, 45))
    # faster blocks predict a little worse, as real ones do: a front with a real trade-off
    predicted -= 400.0 * (block_latency.max() - block_latency[np.arange(3), blocks].sum(axis=1) / 3)
    latency = 2e-4 + block_latency[np.arange(3), blocks].sum(axis=1)
    return predicted, latency


def _optuna_front(predicted, latency, trials: int, seed: int) -> np.ndarray:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=50, seed=seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

    def objective(trial):
        b = [trial.suggest_categorical(f"stage{s}", list(range(45))) for s in range(3)]
        m = int(blocks_to_indices(np.asarray([b]))[0])
        return float(predicted[m]), float(latency[m])

    study.optimize(objective, n_trials=trials)
    seen = np.unique(
        blocks_to_indices(np.asarray([[t.params[f"stage{s}"] for s in range(3)] for t in study.trials]))
    )
    return predicted_front(predicted[seen], latency[seen], models=seen)


def test_donna_evolution_against_optuna_nsga2(record):
    predicted, latency = _table()
    exact = predicted_front(predicted, latency)
    reference = (float(predicted.min()), float(latency.max()))
    best = hypervolume(predicted[exact], latency[exact], reference)
    ours, theirs, ours_s, theirs_s, reads = [], [], [], [], []
    for seed in SEEDS:
        start = time.perf_counter()
        found = donna_evolution(
            predicted, rng=np.random.default_rng(seed), models=np.arange(91125), latency=latency
        )
        ours_s.append(time.perf_counter() - start)
        reads.append(len(found.visited))
        ours.append(hypervolume(predicted[found.front], latency[found.front], reference) / best)
        start = time.perf_counter()
        front = _optuna_front(predicted, latency, len(found.visited), seed)
        theirs_s.append(time.perf_counter() - start)
        theirs.append(hypervolume(predicted[front], latency[front], reference) / best)
    record(
        "donna_evolution_vs_optuna_nsga2",
        exact_front_size=int(exact.size),
        predictions_read_mean=float(np.mean(reads)),
        donna_hv_ratio_mean=round(float(np.mean(ours)), 4),
        donna_hv_ratio_std=round(float(np.std(ours)), 4),
        optuna_hv_ratio_mean=round(float(np.mean(theirs)), 4),
        optuna_hv_ratio_std=round(float(np.std(theirs)), 4),
        donna_seconds_mean=round(float(np.mean(ours_s)), 3),
        optuna_seconds_mean=round(float(np.mean(theirs_s)), 3),
    )
    assert np.mean(ours) <= 1.0 + 1e-12 and np.mean(theirs) <= 1.0 + 1e-12
