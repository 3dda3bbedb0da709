"""Figure 10's script and the report's predictors section on small generated stores and tables
(no training): the figure, its JSON (summary with intervals, failed fits, proxies, surrogate error)
and the page."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import blox_space as bs
import numpy as np
import pandas as pd
import pytest
from blox_predict.evaluate import evaluate_predictor
from blox_space.store import write_proxies_shard, write_surrogate_store

from .conftest import REPO

MODELS = np.arange(0, 91125, 4000)


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"blox_{name}", REPO / f"workflow/scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("predict")
    acc = 30.0 + (MODELS % 45) * 0.5
    group = bs.create_benchmark_shard(
        root / "b.zarr", MODELS, epochs=2, recipe_id="r", recipe={}, dataset="digits"
    )
    for m, a in zip(MODELS, acc, strict=True):
        bs.write_model_result(group, int(m), 0, per_epoch={"val_acc": [a - 1, a]}, test={}, train_seconds=1.0)
    from blox_predict import DonnaPredictor, LanaPredictor

    sig = np.random.default_rng(0).random((3, 45))
    tables = {
        "donna-e1": evaluate_predictor(DonnaPredictor(signatures=sig), MODELS, acc, train_sizes=[3, 8],
                                       seeds=[0, 1], name="donna-e1"),
        "lana-s1": evaluate_predictor(LanaPredictor(signatures=sig), MODELS, acc, train_sizes=[3, 8],
                                      seeds=[0, 1], name="lana-s1"),
    }  # fmt: skip
    paths = []
    for name, table in tables.items():
        paths.append(root / f"{name}.csv")
        table.to_csv(paths[-1], index=False)
    from blox_predict.proxies import PROXY_NAMES

    rng = np.random.default_rng(1)
    proxies = write_proxies_shard(
        root / "p.zarr", MODELS, {name: rng.random(len(MODELS)) for name in PROXY_NAMES},
        seconds=np.ones(len(MODELS)), recipe_id="r", recipe={}, dataset="digits", seed=0, batch_size=8,
        geometry={"width": 4, "resolution": 8, "num_classes": 10},
    )  # fmt: skip
    is_pred = np.ones(bs.NUM_MODELS, dtype=bool)
    is_pred[MODELS] = False
    surrogate = write_surrogate_store(
        root / "s.zarr", root / "b.zarr", metric="best_val_acc", values=np.full(bs.NUM_MODELS, 40.0),
        std=np.ones(bs.NUM_MODELS), is_predicted=is_pred, predictor={"name": "gcn", "params": {}},
        ensemble_size=2, heldout_error={"n": 3, "spearman": 0.5, "kendall": 0.33, "mae": 1.0, "rmse": 1.5},
    )  # fmt: skip
    return {
        "root": root,
        "target": root / "b.zarr",
        "evaluations": paths,
        "proxies": proxies,
        "surrogate": surrogate,
    }


def test_figure10_and_its_numbers(inputs, tmp_path: Path) -> None:
    module = _module("predict_figures")
    facts = module.make_figures(
        target=inputs["target"], evaluations=inputs["evaluations"], out_dir=tmp_path, preset="test",
        metric="best_val_acc", proxies=inputs["proxies"], surrogate=inputs["surrogate"],
    )  # fmt: skip
    assert (tmp_path / "figure10.png").stat().st_size > 0
    assert json.loads((tmp_path / "predict.json").read_text()) == json.loads(json.dumps(facts, default=str))
    summary = pd.DataFrame(facts["summary"])
    assert set(summary["predictor"]) == {"donna-e1", "lana-s1"}
    assert sorted(summary["train_size"].unique()) == [3, 8]
    # first-order DONNA needs 4 models: the 3-model fits are failed rows, said in the JSON
    assert {(f["predictor"], f["train_size"]) for f in facts["failed"]} == {("donna-e1", 3)}
    assert facts["surrogate"]["heldout_error"]["spearman"] == 0.5 and facts["target"]["models"] == len(MODELS)
    assert {row["proxy"] for row in facts["proxies"]} >= {"synflow", "snip"}
    assert all(row["n"] == len(MODELS) for row in facts["proxies"])
    assert module._label("donna-e2") == "donna, distillation epoch 2" and module._label("gcn") == "gcn"


def test_the_report_shows_figure10_and_the_surrogate_error(inputs, tmp_path: Path) -> None:
    module = _module("predict_figures")
    module.make_figures(
        target=inputs["target"], evaluations=inputs["evaluations"], out_dir=tmp_path, preset="test",
        metric="best_val_acc", proxies=inputs["proxies"], surrogate=inputs["surrogate"],
    )  # fmt: skip
    report = _module("report")
    section = report._predict_section(tmp_path / "predict.json")
    assert "Figure 10" in section and section.count("data:image/png;base64,") == 1
    assert "Held-out error on 3 measured models" in section and "0.500" in section
    assert "fits failed" in section
    assert "Zero-cost proxies" in section and "synflow" in section
    assert report._predict_section(None) == ""


def test_the_script_is_glue() -> None:
    source = (REPO / "workflow/scripts/predict_figures.py").read_text()
    assert "open_zarr" not in source and "import xarray" not in source and "import zarr" not in source
