"""The ci preset end to end with the real CLIs: report, a no-op re-run, `snakemake --report`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from .conftest import REPO, snakemake

pytestmark = pytest.mark.slow

BLOCKWISE_FIGURES = ("figure7.png", "figure8.png", "figure9.png", "figure11.png")
PREDICT_FIGURES = ("figure10.png",)
SEARCH_FIGURES = ("figure5.png",)
BLOCKWISE_SEARCH_FIGURES = ("figure12.png", "figure13.png")


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory) -> tuple[Path, float]:
    import shutil

    workdir = tmp_path_factory.mktemp("ci-run")
    for folder in ("workflow", "config"):
        shutil.copytree(REPO / folder, workdir / folder, symlinks=True)
    start = time.perf_counter()
    snakemake(workdir, "--cores", "2", "--configfile", "config/ci.yaml", timeout=300)
    return workdir, time.perf_counter() - start


def test_ci_preset_runs_to_the_report(ci_run) -> None:
    workdir, seconds = ci_run
    print(f"ci preset end to end: {seconds:.0f} s")
    assert seconds < 300
    figures = (
        "summary.png",
        "figure4.png",
        "latency.png",
        *BLOCKWISE_FIGURES,
        *PREDICT_FIGURES,
        *SEARCH_FIGURES,
        *BLOCKWISE_SEARCH_FIGURES,
    )
    for name in ("index.html", *figures):
        assert (workdir / "results/report" / name).stat().st_size > 0
    page = (workdir / "results/report/index.html").read_text()
    assert "preset ci" in page
    assert page.count("data:image/png;base64,") == len(figures)


def test_merged_store_holds_every_selected_model_once(ci_run) -> None:
    workdir, _ = ci_run
    from blox_space import parse_models

    spec = yaml.safe_load((REPO / "config/ci.yaml").read_text())["train"]["models"]
    bench = xr.open_zarr(workdir / "results/benchmark/ci.zarr")
    models = bench["model"].values
    assert models.tolist() == parse_models(spec).tolist()
    assert (bench["status"].values == 1).all()
    assert np.isfinite(bench["best_val_acc"].values).all()
    shards = sorted((workdir / "results/train/ci").glob("bucket-*.zarr"))
    assert len(shards) == 2


def test_latency_of_the_trained_models_is_measured(ci_run) -> None:
    """latency.models: trained -> every trained model measured end to end, in buckets, merged."""
    workdir, _ = ci_run
    import blox_space as bs
    from blox_space import parse_models

    cfg = yaml.safe_load((REPO / "config/ci.yaml").read_text())
    measured = bs.open_latency(workdir / "results/latency/models/cpu.zarr")
    assert measured.source == "measured"
    trained = parse_models(cfg["train"]["models"])
    assert measured.models.tolist() == trained.tolist()
    assert np.isfinite(measured.values(trained)).all()
    assert len(list((workdir / "results/latency/models/cpu").glob("bucket-*.zarr"))) == 2
    page = (workdir / "results/report/index.html").read_text()
    assert page.count("data:image/png;base64,") == 3 + len(BLOCKWISE_FIGURES) + len(PREDICT_FIGURES) + len(
        SEARCH_FIGURES
    ) + len(BLOCKWISE_SEARCH_FIGURES)


def test_rerun_after_success_does_nothing(ci_run) -> None:
    workdir, _ = ci_run
    proc = snakemake(workdir, "--cores", "2", "--configfile", "config/ci.yaml", timeout=120)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_snakemake_report(ci_run) -> None:
    workdir, _ = ci_run
    snakemake(
        workdir, "--cores", "1", "--configfile", "config/ci.yaml", "--report", "report.zip", timeout=180
    )
    assert (workdir / "report.zip").stat().st_size > 0


def test_benchmark_swapped_to_import_legacy(ci_run, tmp_path: Path) -> None:
    """One config entry swaps training for the legacy importer; the rest of the DAG is unchanged."""
    import shutil

    from blox_space.legacy import export_csv

    trained, _ = ci_run
    release = tmp_path / "release"
    export_csv(trained / "results/benchmark/ci.zarr", release)  # released-format files of the ci run
    workdir = tmp_path / "legacy-run"
    for folder in ("workflow", "config"):
        shutil.copytree(REPO / folder, workdir / folder, symlinks=True)
    # the blockwise and predict stages are covered by the trained run; here only the benchmark source changes
    (workdir / "legacy.yaml").write_text(
        f"benchmark: {{source: import-legacy, legacy_dir: {release}}}\nblockwise: {{teachers: []}}\n"
        "predict: {predictors: [], surrogate: null, proxies: null}\n"
    )
    proc = snakemake(workdir, "--cores", "2", "--configfile", "config/ci.yaml", "legacy.yaml", timeout=300)
    output = proc.stdout + proc.stderr
    assert "rule import_legacy" in output
    assert "train_bucket" not in output
    imported = xr.open_zarr(workdir / "results/benchmark/ci.zarr")
    original = xr.open_zarr(trained / "results/benchmark/ci.zarr")
    assert imported["model"].values.tolist() == original["model"].values.tolist()
    assert (workdir / "results/report/figure4.png").stat().st_size > 0
    assert "import-legacy" in (workdir / "results/report/index.html").read_text()


def test_blockwise_stage_lands_in_stores(ci_run) -> None:
    """Teachers from the benchmark, one blockwise store per teacher, one finetune store per
    teacher and FT length holding every student (the teachers included)."""
    import json

    import blox_space as bs

    workdir, _ = ci_run
    cfg = yaml.safe_load((REPO / "config/ci.yaml").read_text())["blockwise"]
    chosen = json.loads((workdir / "results/blockwise/selection.json").read_text())
    bench = bs.open_benchmark(workdir / "results/benchmark/ci.zarr")
    ranked = bs.model_table(bench)["val_acc"].sort_values(ascending=False, kind="stable")
    assert chosen["teachers"]["M1"] == bs.select_model(bench, "rank:1") == ranked.index[0]
    assert chosen["teachers"]["M5"] == bs.select_model(bench, "rank:-1")
    students = sorted(chosen["models"])
    assert set(chosen["teachers"].values()) <= set(students)
    for name in ("M1", "M5"):
        blockwise = bs.open_blockwise(workdir / f"results/blockwise/{name}.zarr")
        assert blockwise.teacher["model"] == chosen["teachers"][name]
        donna, lana = blockwise.donna(), blockwise.lana()
        assert donna.shape == lana.shape == (3, 45)
        used = bs.indices_to_blocks(students).reshape(-1, 3)
        for stage in range(3):  # blocks: students -> exactly the blocks the students use
            assert set(np.flatnonzero(np.isfinite(donna[stage]))) == set(used[:, stage])
        assert xr.open_zarr(workdir / f"results/blockwise/{name}.zarr")["val_nsr"].dims == (
            "stage",
            "block",
            "epoch",
        )
        for ft in cfg["ft_epochs"]:
            finetuned = bs.open_benchmark(workdir / f"results/finetune/{name}-ft{ft}.zarr")
            table = bs.model_table(finetuned)
            assert sorted(table.index) == students
            assert finetuned.epochs == ft
    facts = json.loads((workdir / "results/report/blockwise.json").read_text())
    assert facts["teachers"] == chosen["teachers"]
    assert len(facts["figure7"]["accuracy"]) == 2


def test_predict_stage_lands_in_stores(ci_run) -> None:
    """Figure 10's tables per predictor entry (DONNA per distillation epoch, LANA per snapshot),
    the proxies store of the target's models, and the surrogate store of all 91,125 models whose
    measured rows are the target's."""
    import json

    import blox_space as bs
    import pandas as pd
    from blox_predict import open_proxies

    workdir, _ = ci_run
    cfg = yaml.safe_load((REPO / "config/ci.yaml").read_text())
    target = bs.open_benchmark(workdir / "results/finetune/M1-ft2.zarr")
    entries = {"gcn", "donna-e1", "lana-s1"}
    assert {p.stem for p in (workdir / "results/predict/evaluate").glob("*.csv")} == entries
    table = pd.read_csv(workdir / "results/predict/evaluate/lana-s1.csv")
    assert set(table["seed"]) == set(cfg["predict"]["seeds"]) and (table["status"] == "ok").all()
    proxies = open_proxies(workdir / "results/predict/proxies.zarr")
    assert proxies.index.tolist() == target.models.tolist()
    surrogate = bs.open_benchmark(workdir / "results/predict/surrogate.zarr")
    assert surrogate.kind == "surrogate" and len(surrogate) == bs.NUM_MODELS
    measured = target.models
    assert not surrogate.is_predicted(measured).any()
    assert surrogate.is_predicted(np.arange(bs.NUM_MODELS)).sum() == bs.NUM_MODELS - len(measured)
    np.testing.assert_array_equal(surrogate.val_acc(measured), target.val_acc(measured))
    facts = surrogate.surrogate
    assert facts["ensemble_size"] == cfg["predict"]["surrogate"]["ensemble"]
    assert facts["heldout_error"]["n"] == len(measured) - cfg["predict"]["surrogate"]["train_size"]
    numbers = json.loads((workdir / "results/report/predict.json").read_text())
    assert {row["predictor"] for row in numbers["summary"]} == entries
    assert numbers["surrogate"]["num_predicted"] == bs.NUM_MODELS - len(measured)
    assert "Surrogate benchmark" in (workdir / "results/report/index.html").read_text()
