"""GCN and BRP predictors (issue 13): encoding all 91,125 graphs; fit seconds for 100 and 1,000
training models (default sizes, a few epochs / steps measured and extrapolated to the default
250 epochs — the records say which); predict seconds and peak memory for all 91,125; and the
default GCN (4 x 600) predicting all 91,125 against the original formulation (dense float64
``A (X W)`` per layer over all nodes, the same weights), side by side in one run: target >= 3x
faster with equal predictions up to float32 precision.

One torch thread per process (as the other benchmarks): on a busy 2-core machine two threads
oversubscribe and small-graph training runs several times slower. Peak memory is the child
process's ``ru_maxrss`` (each predict measurement runs in its own process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from blox_predict import BRPPredictor, GCNPredictor
from blox_predict.encoding import dense_encoding, graph_batch
from blox_space import NUM_MODELS

THREADS = 1
ALL = np.arange(NUM_MODELS)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _train(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    models = np.random.default_rng(seed).choice(NUM_MODELS, size=n, replace=False)
    blocks = np.stack([models % 45, (models // 45) % 45, models // 2025], axis=1)
    y = np.random.default_rng(seed + 1).normal(size=(3, 45))[np.arange(3), blocks].sum(axis=1)
    return models, y


def test_encode_all_models(record):
    graph_batch(ALL[:10])  # import torch_geometric once
    dense = _best(lambda: dense_encoding(ALL))
    batch = _best(lambda: graph_batch(ALL))
    record(
        "predict_encode_all", dense_seconds=round(dense, 3), batch_seconds=round(batch, 3), models=NUM_MODELS
    )
    assert batch < 2.0  # "well under a second" on an idle machine; generous for a busy one


@pytest.mark.parametrize("n", [100, 1000])
def test_fit_gcn_seconds(record, n):
    models, y = _train(n)
    epochs = 3
    start = time.perf_counter()
    GCNPredictor(epochs=epochs, random_state=0).fit(models, y)
    seconds = time.perf_counter() - start
    per_epoch = seconds / epochs
    record(
        "predict_fit_gcn",
        train_models=n,
        epochs_measured=epochs,
        seconds_measured=round(seconds, 2),
        seconds_per_epoch=round(per_epoch, 3),
        extrapolated_250_epochs_s=round(250 * per_epoch, 1),
        threads=THREADS,
    )


@pytest.mark.parametrize("n", [100, 1000])
def test_fit_brp_seconds(record, n):
    models, y = _train(n)
    batch, steps = 64, 30
    start = time.perf_counter()
    BRPPredictor(epochs=1, pairs_per_epoch=batch * steps, random_state=0).fit(models, y)
    seconds = time.perf_counter() - start  # includes embedding the reference set once
    per_step = seconds / steps
    full_epoch_steps = -(-n * (n - 1) // batch)
    record(
        "predict_fit_brp",
        train_models=n,
        steps_measured=steps,
        pairs_per_step=batch,
        seconds_measured=round(seconds, 2),
        seconds_per_step=round(per_step, 4),
        steps_per_full_epoch=full_epoch_steps,
        extrapolated_epoch_s=round(full_epoch_steps * per_step, 1),
        extrapolated_250_epochs_s=round(250 * full_epoch_steps * per_step, 1),
        threads=THREADS,
    )


_CHILD = """
import json, resource, sys, time, numpy as np, torch
torch.set_num_threads({threads})
from blox_predict import {cls}
from blox_space import NUM_MODELS
rng = np.random.default_rng(0)
models = rng.choice(NUM_MODELS, size=100, replace=False)
est = {cls}(epochs=1, random_state=0, **{extra}).fit(models, rng.normal(size=100))
est.predict(np.arange(100))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
pred = est.predict(np.arange(NUM_MODELS))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "rss_before_mib": before / 1024, "peak_rss_mib": peak / 1024,
                  "finite": bool(np.isfinite(pred).all()), "n": len(pred)}}))
"""


@pytest.mark.parametrize(("cls", "extra"), [("GCNPredictor", {}), ("BRPPredictor", {"pairs_per_epoch": 640})])
def test_predict_all_models_seconds_and_memory(record, cls, extra):
    code = _CHILD.format(threads=THREADS, cls=cls, extra=repr(extra))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["finite"] and row["n"] == NUM_MODELS
    record(
        f"predict_all_{cls[:3].lower()}",
        seconds=round(row["seconds"], 2),
        peak_rss_mib=round(row["peak_rss_mib"]),
        rss_before_predict_mib=round(row["rss_before_mib"]),
        models=NUM_MODELS,
        threads=THREADS,
    )


def _original_predict(est: GCNPredictor, models: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """The original formulation: float64, per layer ``bmm(A, X W) + b`` over all 12 nodes of every
    graph, LayerNorm, ReLU; readout node 0; the same weights as ``est``."""
    net = est.module_
    convs, norms = net.encoder.convs, net.encoder.norms
    ws = [(c.weight.detach().double(), c.bias.detach().double()) for c in convs]
    ns = [(n.weight.detach().double(), n.bias.detach().double(), n.eps) for n in norms]
    hw, hb = net.head.weight.detach().double(), net.head.bias.detach().double()
    out = []
    with torch.inference_mode():
        for start in range(0, len(models), chunk):
            adj, x = (torch.from_numpy(a).double() for a in dense_encoding(models[start : start + chunk]))
            for (w, b), (g, beta, eps) in zip(ws, ns):
                x = torch.bmm(adj, x @ w) + b
                x = torch.relu(torch.nn.functional.layer_norm(x, (x.shape[-1],), g, beta, eps))
            out.append((x[:, 0] @ hw.T + hb).squeeze(-1))
    return torch.cat(out).numpy() * est.y_std_ + est.y_mean_


def test_gcn_predict_all_against_the_original_formulation(record):
    models, y = _train(100)
    est = GCNPredictor(epochs=2, random_state=0).fit(models, y)  # default 4 x 600
    est.predict(ALL[:100])
    start = time.perf_counter()
    ours = est.predict(ALL)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    original = _original_predict(est, ALL)
    original_s = time.perf_counter() - start
    # the plain message-passing forward (no shared node states), on a slice, for the record
    sub = ALL[:: NUM_MODELS // 8192][:8192]
    from blox_predict.gcn import batch_tensors

    with torch.inference_mode():
        start = time.perf_counter()
        for s in range(0, len(sub), 4096):
            net = est.module_
            net.head(net.encoder(*batch_tensors(sub[s : s + 4096], torch.device("cpu"))))
        plain_s = (time.perf_counter() - start) * NUM_MODELS / len(sub)
    scale = np.abs(original).max()
    max_diff = float(np.abs(ours - original).max())
    record(
        "predict_gcn_vs_original",
        ours_seconds=round(ours_s, 2),
        original_float64_dense_seconds=round(original_s, 2),
        speedup=round(original_s / ours_s, 2),
        plain_message_passing_seconds_extrapolated=round(plain_s, 2),
        max_abs_diff=max_diff,
        max_abs_prediction=float(scale),
        models=NUM_MODELS,
        threads=THREADS,
    )
    assert max_diff <= 1e-4 * max(scale, 1.0)
    assert original_s >= 3 * ours_s
