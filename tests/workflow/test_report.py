"""The report script on small generated stores (no training): every figure and the page appear."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import blox_space as bs
import numpy as np
import pytest
from blox_space import schema
from blox_space.schema import EPOCH_KEYS
from blox_space.store import create_benchmark_shard, create_store, write_model_result

from .conftest import REPO, snakemake_env


@pytest.fixture(scope="module")
def report_module():
    spec = importlib.util.spec_from_file_location("blox_report", REPO / "workflow/scripts/report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stores")

    space = root / "space.zarr"
    subprocess.run(["blox-space", "enumerate", "--out", str(space)], check=True, env=snakemake_env())
    models = np.union1d(np.arange(0, 91125, 997), 2071 * np.arange(45))
    rng = np.random.default_rng(0)
    bench = root / "bench.zarr"
    group = create_benchmark_shard(
        bench, models, epochs=3, recipe_id="test", recipe={"name": "test"}, dataset="digits"
    )
    for model in models[:-3]:  # the last three stay pending and must not be drawn
        curve = np.sort(rng.uniform(20, 90, 3))
        per_epoch = {key: curve if key.endswith("acc") else np.ones(3) for key in EPOCH_KEYS}
        write_model_result(
            group, int(model), 0, per_epoch=per_epoch, test={"test_acc": curve[-1] - 1.0}, train_seconds=2.0
        )
    lut = root / "cpu.zarr"
    spec = schema.get_store_spec("latency_lut")
    attrs = {name: "x" for name in spec.required_attrs} | {"device": "cpu-test-fp32"}
    group = create_store(
        lut,
        spec,
        sizes={"stage": 3, "block": 45, "part": 2},
        attrs=attrs,
        coords={"part": np.array(["stem", "head"])},
    )
    group["block_latency_s"][:] = rng.uniform(1e-4, 1e-3, (3, 45))
    group["fixed_latency_s"][:] = [1e-4, 2e-5]
    return {"space": space, "benchmark": bench, "latency": lut, "num_done": len(models) - 3}


def test_report_renders_every_output(report_module, stores, tmp_path: Path) -> None:
    out = tmp_path / "report"
    outputs = report_module.Outputs(
        out / "index.html", out / "summary.png", out / "figure4.png", out / "latency.png"
    )
    facts = report_module.make_report(
        space=str(stores["space"]),
        benchmark=str(stores["benchmark"]),
        latency=[str(stores["latency"])],
        validation=[],
        outputs=outputs,
        preset="test",
        recipe="test",
        source="train",
    )
    for path in (outputs.summary, outputs.figure4, outputs.latency):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = outputs.html.read_text()
    assert page.count("data:image/png;base64,") == 3
    assert facts["models trained"].startswith(f"{stores['num_done']} of")
    assert facts["dataset"] == "digits"
    assert int(facts["uniform-block models trained"]) == 44  # 91124 = 2071 * 44 is pending
    assert not list(out.glob(".*")), "temporary files left behind"


def test_device_latency_prefers_measured_values(report_module, stores, tmp_path: Path) -> None:
    """Measured latencies where a device has them, the lookup table's prediction elsewhere."""
    measured = tmp_path / "measured.zarr"
    spec = schema.get_store_spec("latency")
    attrs = {name: "x" for name in spec.required_attrs} | {
        "device": "cpu-test-fp32",
        "width": 8,
        "resolution": 16,
    }
    group = create_store(
        measured, spec, sizes={"model": 2}, coords={"model": np.array([0, 997])}, attrs=attrs
    )
    group["latency_s"][:] = [0.5, 0.25]
    models = np.array([0, 997, 1994])
    [(label, values)] = report_module.device_latency([str(stores["latency"]), str(measured)], models)
    table = bs.open_latency(stores["latency"])
    np.testing.assert_allclose(values, [0.5, 0.25, table.values(np.array([1994]))[0]])
    assert label == "cpu-test-fp32, width 8, 16 px (2 measured, 1 predicted)"


def test_pareto_front(report_module) -> None:
    cost = np.array([3.0, 1.0, 2.0, 4.0, 2.0])
    acc = np.array([50.0, 10.0, 40.0, 45.0, 30.0])
    assert report_module.pareto_front(cost, acc).tolist() == [1, 2, 0]
    assert bs.NUM_MODELS == 91125
    assert report_module.pareto_front is bs.pareto_front  # the package's front, not a copy


def test_report_reads_stores_through_blox_space() -> None:
    """The script is glue: no store is opened behind blox-space's query API."""
    source = (REPO / "workflow/scripts/report.py").read_text()
    assert "open_zarr" not in source and "import xarray" not in source
