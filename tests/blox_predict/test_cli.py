"""The ``blox-predict`` command: fit → predict → complete on a store, evaluate (Figure 10's table),
and user mistakes: exit 2, exactly one stderr line, no traceback, nothing written."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import blox_space as bs
import numpy as np
import pandas as pd
import pytest
from blox_predict.cli import build_parser, main, parse_param

from .test_surrogate import MODELS, make_store, toy  # noqa: F401 - toy is a fixture


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The 12-model benchmark store, written once (each test gets its own copy)."""
    return make_store(tmp_path_factory.mktemp("template") / "b.zarr")


@pytest.fixture
def scratch(tmp_path, monkeypatch, toy, template):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    shutil.copytree(template, tmp_path / "b.zarr")
    (tmp_path / "plain").write_text("not a store\n")
    return tmp_path


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fit_predict_complete(scratch, capsys):
    code, out, _ = _run(
        capsys,
        ["fit", "b.zarr", "--predictor", "toy", "--param", "noise=0.05", "--ensemble", "2",
         "--train-size", "8", "--seed", "1", "--out", "ens"],
    )  # fmt: skip
    assert code == 0 and "2 x toy on best_val_acc" in out and "8 training models, 4 held out" in out
    assert sorted(p.name for p in (scratch / "ens").iterdir()) == ["ensemble.json", "member-0", "member-1"]
    code, out, _ = _run(capsys, ["predict", "ens", "--models", "0:3", "--json", "--out", "p.csv"])
    rows = json.loads(out)
    assert code == 0 and [r["model"] for r in rows] == [0, 1, 2] and all(r["std"] > 0 for r in rows)
    table = pd.read_csv(scratch / "p.csv")
    assert table["model"].tolist() == [0, 1, 2] and table["hash"][0] == bs.to_hash(0)
    code, out, _ = _run(capsys, ["predict", "ens/member-0", "--models", "5"])
    assert code == 0 and out.splitlines()[1].split()[0] == "5"  # one saved predictor works too
    code, out, _ = _run(capsys, ["complete", "ens", "--out", "sur.zarr"])
    assert code == 0 and "12 measured, 91113 predicted best_val_acc by 2 x toy" in out
    assert "held-out error on 4 measured models" in out
    bench = bs.open_benchmark(scratch / "sur.zarr")
    assert bench.is_predicted(5) and not bench.is_predicted(int(MODELS[0]))
    code, out, _ = _run(capsys, ["complete", "ens", "--out", "sur.zarr", "--overwrite", "--json"])
    facts = json.loads(out)
    assert code == 0 and facts["heldout_error"]["n"] == 4 and facts["ensemble_size"] == 2


def test_evaluate_writes_the_table(scratch, capsys):
    pytest.importorskip("blox_predict.evaluate")
    code, out, _ = _run(
        capsys,
        ["evaluate", "b.zarr", "--predictor", "toy", "--train-sizes", "4,8", "--seeds", "0,1",
         "--top-k", "3", "--name", "toy@1", "--out", "eval.csv"],
    )  # fmt: skip
    assert code == 0 and "toy@1" in out
    table = pd.read_csv(scratch / "eval.csv")
    assert sorted(zip(table["train_size"], table["seed"])) == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert set(table["predictor"]) == {"toy@1"} and (table["n_test"] == [8, 8, 4, 4]).all()
    code, out, _ = _run(capsys, ["evaluate", "b.zarr", "--predictor", "toy", "--train-sizes", "4", "--json"])
    assert code == 0 and {r["seed"] for r in json.loads(out)} == {0, 1, 2}
    argv = [
        "evaluate",
        "b.zarr",
        "--predictor",
        "toy",
        "--train-sizes",
        "4,11",
        "--json",
        "--drop-large-sizes",
    ]
    code, out, err = _run(capsys, argv)
    assert (
        code == 0 and {r["train_size"] for r in json.loads(out)} == {4} and "train sizes [11] left out" in err
    )


def test_predictors_lists_the_registry(scratch, capsys):
    code, out, _ = _run(capsys, ["predictors", "--json"])
    names = [row["name"] for row in json.loads(out)]
    assert code == 0 and "toy" in names and names == sorted(names)


def test_parse_param_reads_json_values():
    assert parse_param("epochs=5") == ("epochs", 5)
    assert parse_param("lr=3.5e-4") == ("lr", 3.5e-4)
    assert parse_param("normalize_targets=false") == ("normalize_targets", False)
    assert parse_param("signatures=results/M1.zarr") == ("signatures", "results/M1.zarr")
    assert parse_param("proxy=null") == ("proxy", None)


def test_help_at_every_level(capsys):
    parser = build_parser()
    assert parser.prog == "blox-predict"
    for command in ("fit", "predict", "evaluate", "complete", "proxies", "predictors"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0 and capsys.readouterr().out.startswith(f"usage: blox-predict {command}")


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


FIT = ["fit", "b.zarr", "--predictor", "toy", "--out", "ens"]
EVAL = ["evaluate", "b.zarr", "--predictor", "toy", "--train-sizes", "4"]
PROBES = [
    (["fit", "b.zarr", "--predictor", "nosuch", "--out", "ens"], "unknown predictor 'nosuch'"),
    ([*FIT, "--param", "hidden=3"], "has no parameter 'hidden'"),
    ([*FIT, "--param", "noequals"], "must look like KEY=VALUE"),
    ([*FIT, "--param", "=5"], "must look like KEY=VALUE"),
    ([*FIT, "--param", "alpha=NaN"], "not a finite number"),
    (["fit", "missing.zarr", "--predictor", "toy", "--out", "ens"], "no store at missing.zarr"),
    (["fit", "plain", "--predictor", "toy", "--out", "ens"], "is not a Zarr v3 store"),
    ([*FIT, "--metric", "accuracy"], "unknown metric 'accuracy'; metrics are"),
    ([*FIT, "--train-size", "13"], "larger than the 12 measured models"),
    ([*FIT, "--train-size", "0"], "out of range"),
    ([*FIT, "--ensemble", "0"], "out of range"),
    ([*FIT, "--ensemble", "two"], "is not an ensemble size"),
    ([*FIT, "--seed", "-1"], "out of range"),
    ([*FIT, "--seeds-mode", "7"], "seeds must be 'mean' or a seed"),
    ([*FIT, "--signatures", "nosuch.zarr"], "no blockwise store at nosuch.zarr"),
    (["fit", "b.zarr", "--predictor", "toy"], "the following arguments are required: --out"),
    (["fit", "b.zarr", "--predictor", "toy", "--out", ""], "must not be empty"),
    (["fit", "b.zarr", "--predictor", "toy", "--out", "plain"], "plain already exists"),
    (["predict", "nosuch", "--models", "0"], "not a fitted ensemble"),
    (["predict", ".", "--models", "0"], "not a fitted ensemble"),
    (["complete", "nosuch", "--out", "s.zarr"], "not a fitted ensemble"),
    ([*EVAL[:-1], "4,x"], "is not a train size"),
    ([*EVAL[:-1], "4,4"], "repeats a value"),
    ([*EVAL[:-1], ""], "comma list"),
    ([*EVAL[:-1], "11"], "train size 11 leaves 1 of the 12 models"),
    ([*EVAL, "--seeds", "-2"], "out of range"),
    ([*EVAL[:-1], "11,12", "--drop-large-sizes"], "every train size (11, 12) leaves fewer than 2"),
    ([*EVAL, "--top-k", "0"], "out of range"),
    (["evaluate", "b.zarr", "--predictor", "toy"], "the following arguments are required: --train-sizes"),
    (
        ["proxies", "--recipe", "ci", "--out", "p.zarr"],
        "one of the arguments --models --models-from is required",
    ),
    (["proxies", "--models", "sample:0:1", "--out", "p.zarr"], "sample size must be in 1..91125"),
    (["proxies", "--models", "0:3", "--bucket-of", "3/3", "--out", "p.zarr"], "I must be in 0..N-1"),
    (["proxies", "--models", "0:3", "--bucket-of", "0/5", "--out", "p.zarr"], "only 3 models to split"),
    (["proxies", "--models-from", "nosuch.json", "--out", "p.zarr"], "no models file at nosuch.json"),
    (["proxies", "--models-from", "plain", "--out", "p.zarr"], "cannot read models file plain"),
    (["nosuch"], "invalid choice"),
    ([], "a command is needed"),
]


@pytest.mark.parametrize(("argv", "says"), PROBES, ids=[" ".join(a)[:60] for a, _ in PROBES])
def test_user_mistakes_are_one_line(scratch, capsys, argv, says):
    if argv and argv[0] == "evaluate":
        pytest.importorskip("blox_predict.evaluate")
    before = _snapshot(scratch)
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, f"exit {code} for {argv}: {err}"
    assert len(lines) == 1 and lines[0].startswith("blox-predict: error: "), lines
    assert says in lines[0]
    assert _snapshot(scratch) == before, f"{argv} changed files"


def test_complete_needs_its_source_store(scratch, capsys):
    assert main([*FIT]) == 0
    capsys.readouterr()
    (scratch / "b.zarr").rename(scratch / "moved.zarr")
    code, _, err = _run(capsys, ["complete", "ens", "--out", "s.zarr"])
    assert code == 2 and "the source store b.zarr of ens is gone; pass --store PATH" in err
    code, _, _ = _run(capsys, ["complete", "ens", "--store", "moved.zarr", "--out", "s.zarr"])
    assert code == 0 and bs.open_benchmark(scratch / "s.zarr").kind == "surrogate"
    code, _, err = _run(capsys, ["complete", "ens", "--store", "moved.zarr", "--out", "s.zarr"])
    assert code == 2 and "already exists" in err and len(err.splitlines()) == 1
    code, _, err = _run(capsys, [*FIT[:1], "s.zarr", *FIT[2:4], "--out", "ens2"])
    assert code == 2 and "predictors learn from measurements" in err


def test_the_console_script_is_declared():
    text = (Path(__file__).resolve().parents[2] / "packages/blox-predict/pyproject.toml").read_text()
    assert 'blox-predict = "blox_predict.cli:main"' in text
    assert np.__name__  # numpy imported for the fixtures' stores
