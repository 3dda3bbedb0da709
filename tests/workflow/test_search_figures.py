"""Figure 5's and Table 2's script and the report's search section on generated stores searched by
the real `blox-search` CLI (run, summary --json, trajectories --csv; no training): the incumbent
curves are the ones blox-search records, the band at the budget is Table 2's mean ± std, the
table's rows and formats, the surrogate label, the hypervolume line and the page."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from blox_search import open_search
from blox_search.metrics import acc_at_budget
from blox_search.testing import synthetic_benchmark
from blox_space.blocks import NUM_MODELS
from blox_space.store import write_surrogate_store

from .conftest import BIN, REPO, snakemake_env

ENTRIES = ("random", "re")
BUDGET = 12.0
SEEDS = "0:3"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"blox_{name}", REPO / f"workflow/scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(*args: str) -> str:
    proc = subprocess.run(
        [str(BIN / "blox-search"), *args], capture_output=True, text=True, env=snakemake_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> dict:
    """A 300-model benchmark, its surrogate-completed space, and random / RE searched over the
    surrogate (3 seeds, 12 FTE) with their summary JSON and trajectory tables."""
    root = tmp_path_factory.mktemp("search")
    models = np.random.default_rng(0).choice(NUM_MODELS, size=300, replace=False)
    bench = synthetic_benchmark(root / "b.zarr", models=np.sort(models), epochs=4)
    values = 40.0 + 30.0 * np.random.default_rng(1).random(NUM_MODELS)
    is_predicted = np.ones(NUM_MODELS, dtype=bool)
    is_predicted[models] = False
    surrogate = write_surrogate_store(
        root / "s.zarr", bench, metric="best_val_acc", values=values, std=np.ones(NUM_MODELS),
        is_predicted=is_predicted, predictor={"name": "gcn", "params": {}}, ensemble_size=2, heldout_error=None,
    )  # fmt: skip
    runs, tables = [], []
    for entry in ENTRIES:
        run = root / f"{entry}.zarr"
        _cli("run", entry, str(surrogate), "--budget-fte", str(BUDGET), "--seeds", SEEDS,
             "--fte-store", str(bench), "--out", str(run))  # fmt: skip
        _cli("trajectories", str(run), "--csv", "--out", str(root / f"{entry}.csv"))
        runs.append(run)
        tables.append(root / f"{entry}.csv")
    summary = root / "summary.json"
    summary.write_text(_cli("summary", *map(str, runs), "--budget-fte", str(BUDGET), "--json"))
    pareto = root / "pareto.json"
    pareto.write_text(
        json.dumps(
            [
                {
                    "algorithm": "pareto_re", "evaluator": "tabular:surrogate", "latency_device": "cpu-test-fp32",
                    "reference_point": {"reported_metric": 0.0, "latency_s": 0.02}, "true_hypervolume": 1.5,
                    "seeds": [{"seed": 0}, {"seed": 1}], "normalized_hypervolume_mean": 0.8125,
                    "normalized_hypervolume_std": 0.03, "path": str(root / "mo.zarr"),
                }
            ]
        )
    )  # fmt: skip
    return {
        "root": root, "bench": bench, "surrogate": surrogate, "runs": runs, "tables": tables,
        "summary": summary, "pareto": pareto, "num_measured": len(models),
    }  # fmt: skip


@pytest.fixture(scope="module")
def figures(searched, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("report")
    facts = _module("search_figures").make_figures(
        summary=searched["summary"], trajectories=searched["tables"], entries=ENTRIES, out_dir=out,
        preset="test", budget_fte=BUDGET, store=searched["surrogate"], evaluator="surrogate",
        pareto=searched["pareto"], pareto_entries=["mo"],
    )  # fmt: skip
    return facts, out


def test_figure5_table2_and_the_json(searched, figures) -> None:
    module = _module("search_figures")
    facts, out = figures
    assert (out / "figure5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "search.json").read_text()) == json.loads(json.dumps(facts, default=str))
    table = pd.read_csv(out / "table2.csv")
    assert tuple(table.columns) == module.TABLE2_COLUMNS
    assert list(table["entry"]) == list(ENTRIES) and set(table["num_seeds"]) == {3}
    summary = {row["algorithm"]: row for row in json.loads(searched["summary"].read_text())}
    for row in facts["table2"]:
        raw = summary[row["algorithm"]]
        assert row["acc_at_budget"] == f"{raw['acc_at_budget_mean']:.2f} ± {raw['acc_at_budget_std']:.2f}"
        assert row["target"] == pytest.approx(raw["target"])
        expected = "×" if raw["num_reached"] == 0 else None
        if expected:
            assert row["cost_to_target_fte"] == "×"
    # the default target is the benchmark's best normal-training accuracy (the FTE store's)
    assert facts["target"] == pytest.approx(summary["random"]["target"])
    assert facts["hypervolume"][0]["entry"] == "mo" and facts["hypervolume"][0]["num_seeds"] == 2


def test_the_surrogate_is_labelled_with_its_measured_and_predicted_models(searched, figures) -> None:
    facts, _ = figures
    measured = searched["num_measured"]
    label = f"surrogate-completed space ({measured:,} measured, {NUM_MODELS - measured:,} predicted)"
    assert facts["searched"]["label"].startswith(label)
    assert label in facts["title"] and facts["title"].startswith("test: ")  # on the figure itself
    assert all(label in row["store"] for row in facts["table2"])
    plain = _module("search_figures").store_label(searched["bench"], "benchmark")
    assert plain["label"] == "benchmark store b.zarr (300 trained models)" and plain["num_predicted"] == 0


def test_incumbent_curves_are_the_recorded_incumbents(searched) -> None:
    module = _module("search_figures")
    for run, csv in zip(searched["runs"], searched["tables"], strict=True):
        table = pd.read_csv(csv)
        recorded = open_search(run)
        for seed, part in table.groupby("seed"):
            cum, inc = module.incumbent_curve(part)
            traj = recorded.trajectory(int(seed))
            np.testing.assert_array_equal(inc, traj.incumbent_reported)
            np.testing.assert_allclose(cum, traj.cum_fte)


def test_the_band_at_the_budget_is_table2s_mean_and_std(searched) -> None:
    module = _module("search_figures")
    summary = json.loads(searched["summary"].read_text())
    for run, csv, row in zip(searched["runs"], searched["tables"], summary, strict=True):
        table = pd.read_csv(csv)
        grid = module.cost_grid({"x": table}, BUDGET)
        assert grid[-1] == pytest.approx(BUDGET) and np.all(np.diff(np.log(grid)) > 0)
        mean, std, count = module.band(table, grid, BUDGET)
        per_seed = [acc_at_budget(t, BUDGET) for t in open_search(run).trajectories()]
        assert mean[-1] == pytest.approx(np.mean(per_seed)) == pytest.approx(row["acc_at_budget_mean"])
        assert std[-1] == pytest.approx(row["acc_at_budget_std"]) and count[-1] == 3
        # before any seed's first evaluation there is nothing to show
        first = table.sort_values("step").groupby("seed")["cum_fte"].first().min()
        assert np.isnan(mean[grid < first * (1 - 1e-6)]).all()
        # the incumbent never gets worse by the search metric, so the mean is defined after
        assert np.isfinite(mean[grid >= table.groupby("seed")["cum_fte"].first().max()]).all()


def test_table2_formats_cost_to_target() -> None:
    module = _module("search_figures")
    base = {"algorithm": "a", "evaluator": "tabular:benchmark", "num_seeds": 4, "budget_fte": 40.0,
            "target": 70.0, "acc_at_budget_mean": 71.234, "acc_at_budget_std": 0.5}  # fmt: skip
    rows = [
        {**base, "cost_at_target_mean": None, "num_reached": 0, "path": "r/a.zarr"},
        {**base, "cost_at_target_mean": 12.345, "num_reached": 4, "path": "r/b.zarr"},
        {**base, "cost_at_target_mean": 20.0, "num_reached": 3, "path": "r/c.zarr"},
    ]
    # rows are matched to entries by their store path, whatever their order
    table = module.table2_rows(rows[::-1], ["a", "b", "c"], preset="p", store="s")
    assert [row["entry"] for row in table] == ["a", "b", "c"]
    assert [row["cost_to_target_fte"] for row in table] == ["×", "12.35", "20.00 (3/4)"]
    assert table[0]["acc_at_budget"] == "71.23 ± 0.50" and table[0]["cost_at_target_mean"] is None
    nan = {**base, "acc_at_budget_mean": math.nan, "acc_at_budget_std": math.nan}
    [row] = module.table2_rows(
        [{**nan, "cost_at_target_mean": None, "num_reached": 0}], ["a"], preset="p", store="s"
    )
    assert row["acc_at_budget"] == "n/a ± n/a"
    with pytest.raises(ValueError, match="2 rows for 1 search entries"):
        module.table2_rows(rows[:2], ["x"], preset="p", store="s")


def test_the_report_shows_figure5_table2_and_the_hypervolume(figures) -> None:
    _, out = figures
    report = _module("report")
    section = report._search_section(out / "search.json")
    assert "Figure 5" in section and "Table 2" in section
    assert section.count("data:image/png;base64,") == 1 and 'href="table2.csv"' in section
    assert section.count("surrogate-completed space (300 measured") >= 3  # text, figure, table headings
    assert "preset test" in section
    assert "normalised by the true front's is 0.812 ± 0.030 over 2 seeds" in section
    assert "latency 20 ms" in section
    assert section.count("<tr>") == 1 + len(ENTRIES)
    assert report._search_section(None) == ""


def test_the_script_is_glue() -> None:
    source = (REPO / "workflow/scripts/search_figures.py").read_text()
    assert "open_zarr" not in source and "import xarray" not in source and "import zarr" not in source
