"""The blox-search command line: run / summary / trajectories / list / pareto, their output
forms (the summary JSON keys and the CSV columns are contracts), the --seeds and K=V parsers
(hypothesis), and user mistakes as one ``blox-search: error:`` line with exit 2."""

from __future__ import annotations

import csv
import inspect
import io
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from blox_search import TabularEvaluator, open_search
from blox_search.cli import MAX_SEEDS, main, parse_key_value, parse_seeds
from blox_search.metrics import SUMMARY_KEYS, default_target, summarize
from blox_search.testing import synthetic_benchmark
from blox_search.trajectory import TRAJECTORY_COLUMNS
from blox_space.errors import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "blox-search"  # the environment the tests run in


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(capsys, *argv) -> str:
    code, _, err = _run(capsys, *argv)
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("blox-search: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def run_store(partial_store, tmp_path_factory):
    """A random search of 3 seeds on the partial store, written by the CLI."""
    out = tmp_path_factory.mktemp("cli") / "random.zarr"
    assert (
        main(
            ["run", "random", partial_store, "--budget-fte", "20", "--seeds", "0:3", "--out", str(out), "-q"]
        )
        == 0
    )
    return out


# ---------------------------------------------------------------------------------------
# parsers
# ---------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 2**40), length=st.integers(1, 200))
def test_a_range_spec_is_end_exclusive(start, length):
    assert parse_seeds(f"{start}:{start + length}") == list(range(start, start + length))
    assert parse_seeds(f" {start} : {start + length} ") == list(range(start, start + length))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=30, unique=True))
def test_a_comma_list_keeps_its_order(seeds):
    assert parse_seeds(",".join(map(str, seeds))) == seeds


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_any_text_parses_to_distinct_seeds_or_is_a_config_error(text):
    try:
        seeds = parse_seeds(text)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    assert seeds and len(set(seeds)) == len(seeds) and all(isinstance(s, int) and s >= 0 for s in seeds)


@pytest.mark.parametrize(
    "spec",
    ["", " ", "3:1", "2:2", "0:", ":5", "0:1:2", "-1", "0,,1", "0,1,0", "a", "1.5", "0:99999999999", "+"],
)
def test_bad_seed_specs(spec):
    with pytest.raises(ConfigError, match="seeds"):
        parse_seeds(spec)


def test_too_many_seeds():
    with pytest.raises(ConfigError, match=f"at most {MAX_SEEDS}"):
        parse_seeds(f"0:{MAX_SEEDS + 1}")
    assert len(parse_seeds(f"0:{MAX_SEEDS}")) == MAX_SEEDS


@settings(max_examples=200, deadline=None)
@given(
    key=st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
    value=st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.lists(st.integers(0, 9), max_size=4),
    ),
)
def test_key_value_reads_json(key, value):
    assert parse_key_value(f"{key}={json.dumps(value)}") == (key, value)


def test_key_value_keeps_strings_and_refuses_bad_forms():
    import argparse

    assert parse_key_value("mode=restart") == ("mode", "restart")
    assert parse_key_value("path=a=b") == ("path", "a=b")
    assert parse_key_value("x=") == ("x", "")
    for bad in ("noequals", "=5", "1x=2", "a b=1", "x=NaN", "x=Infinity"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_key_value(bad)


# ---------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------
def test_run_prints_one_line_per_seed_and_writes_a_resumable_store(run_store, partial_store, capsys):
    run = open_search(run_store)
    assert run.algorithm == "random" and run.seeds == [0, 1, 2] and run.is_done and run.budget_fte == 20.0
    assert run.cost["reference"]["store"] == partial_store
    code, out, err = _run(
        capsys, "run", "random", partial_store, "--budget-fte", "20", "--seeds", "0:3", "--out", run_store
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"random seed {s}:") for s, line in zip(range(3), lines))
    t = run.trajectory(1)
    assert f"{len(t)} evaluations" in lines[1] and f"incumbent model {int(t.incumbent[-1])}" in lines[1]
    assert "wrote" in err  # progress and messages go to stderr


def test_run_json_and_options(partial_store, tmp_path, capsys):
    out = tmp_path / "opts.zarr"
    code, stdout, err = _run(
        capsys, "run", "random", partial_store, "--budget-fte", "50", "--seeds", "4,2", "--out", out, "--json",
        "--seed-policy", "mean", "--fte-seconds", "100", "--one-time", "library=250", "--one-time", "teacher=50",
        "--max-evaluations", "5", "--set", "fidelity=null",
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(stdout)
    assert [r["seed"] for r in rows] == [4, 2] and all(r["num_evaluations"] == 5 for r in rows)
    assert all(r["stop_reason"] == "max_evaluations" for r in rows)
    run = open_search(out)
    assert run.cost["fte_seconds"] == 100.0 and run.cost["one_time"] == {"library": 250.0, "teacher": 50.0}
    assert run.evaluator["seed_policy"] == "mean" and run.params["fidelity"] is None
    t = run.trajectory(4)
    assert t.cum_cost_s[0] == pytest.approx(300.0 + t.cost_s[0])
    assert rows[0]["cum_fte"] == pytest.approx(t.cum_cost_s[-1] / 100.0)
    assert "store" not in run.cost["reference"]  # --fte-seconds without --fte-store names no store


def test_fte_store_sets_the_cost_and_the_default_target(partial_store, tmp_path, capsys):
    normal = synthetic_benchmark(tmp_path / "normal.zarr", models=np.arange(200), epochs=12, seed=4)
    out = tmp_path / "ref.zarr"
    code, _, err = _run(
        capsys, "run", "random", partial_store, "--budget-fte", "5", "--seeds", "0", "--out", out,
        "--fte-store", normal,
    )  # fmt: skip
    assert code == 0, err
    assert open_search(out).cost["reference"]["store"] == normal
    code, stdout, _ = _run(capsys, "summary", out, "--json")
    assert json.loads(stdout)[0]["target"] == pytest.approx(default_target(normal))


def test_resuming_the_same_search_changes_nothing(run_store, partial_store, capsys):
    before = open_search(run_store).to_frame()
    code, _, _ = _run(
        capsys, "run", "random", partial_store, "--budget-fte", "20", "--seeds", "0:3", "--out", run_store
    )
    assert code == 0
    after = open_search(run_store).to_frame()
    assert before.equals(after)


def test_overwrite_replaces_another_search(partial_store, tmp_path, capsys):
    out = tmp_path / "o.zarr"
    assert (
        _run(capsys, "run", "random", partial_store, "--budget-fte", "3", "--seeds", "0", "--out", out)[0]
        == 0
    )
    line = _one_error(
        capsys, "run", "random", partial_store, "--budget-fte", "4", "--seeds", "0", "--out", out
    )
    assert "holds another search" in line and "--overwrite" in line
    code, _, _ = _run(
        capsys,
        "run",
        "random",
        partial_store,
        "--budget-fte",
        "4",
        "--seeds",
        "0",
        "--out",
        out,
        "--overwrite",
    )
    assert code == 0 and open_search(out).budget_fte == 4.0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seeds", "3:1"], "STOP must be greater"),
        (["--seeds", "x"], "seeds 'x'"),
        (["--seeds", "0,1,1"], "repeated"),
        (["--budget-fte", "0"], "--budget-fte: must be > 0"),
        (["--budget-fte", "-2"], "--budget-fte: must be > 0"),
        (["--budget-fte", "nan"], "finite"),
        (["--set", "nokey"], "KEY=VALUE"),
        (["--set", "nope=1"], "unknown parameter 'nope'"),
        (["--set", "fidelity=1", "--set", "fidelity=2"], "given twice"),
        (["--one-time", "lib=-1"], ">= 0"),
        (["--one-time", "lib"], "NAME=SECONDS"),
        (["--one-time", "lib=1e12"], "use up the whole budget"),
        (["--seed-policy", "best"], "--seed-policy"),
        (["--seed-policy", "9"], "seed 9 is not in"),
        (["--fte-seconds", "0"], "--fte-seconds"),
        (["--fte-store", "/nonexistent/normal.zarr"], "no store at /nonexistent/normal.zarr"),
        (["--recipe", "quick"], "only for --evaluator live"),
        (["--device", "cuda", "--threads", "1"], "--device, --threads: only for --evaluator live"),
        (["--latency-device", "gpu-x"], "no latency for device 'gpu-x'"),
        (["--max-evaluations", "0"], "--max-evaluations"),
        (["--evaluator", "quantum"], "invalid choice"),
        (["--evaluator", "live"], "needs --fte-store"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_run_mistakes_are_one_line(partial_store, tmp_path, capsys, args, expected):
    argv = {"--budget-fte": "10", "--seeds": "0", "--out": str(tmp_path / "r.zarr")}
    for i in range(0, len(args) - 1):
        if args[i] in argv:
            argv[args[i]] = args[i + 1]
    base = [x for kv in argv.items() for x in kv]
    extra = [a for i, a in enumerate(args) if not (a in argv or (i and args[i - 1] in argv))]
    line = _one_error(capsys, "run", "random", partial_store, *base, *extra)
    assert expected in line, line
    assert not (tmp_path / "r.zarr").exists()


def test_run_mistakes_about_algorithm_and_stores(partial_store, run_store, tmp_path, capsys):
    out = str(tmp_path / "r.zarr")
    common = ["--budget-fte", "10", "--seeds", "0", "--out", out]
    assert "unknown algorithm 'nope'" in _one_error(capsys, "run", "nope", partial_store, *common)
    assert "no store at" in _one_error(capsys, "run", "random", tmp_path / "missing.zarr", *common)
    assert "'search' store" in _one_error(capsys, "run", "random", run_store, *common)  # wrong kind
    assert "required" in _one_error(capsys, "run", "random", partial_store, "--seeds", "0", "--out", out)
    seeds = _one_error(
        capsys, "run", "random", partial_store, "--budget-fte", "20", "--seeds", "0:2", "--out", run_store
    )
    assert "holds seeds [0, 1, 2]" in seeds  # resuming a different search


def test_live_without_its_module_is_one_line(partial_store, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "blox_search.evaluators.live", None)
    line = _one_error(
        capsys, "run", "random", tmp_path / "shard.zarr", "--evaluator", "live", "--budget-fte", "5",
        "--seeds", "0", "--out", tmp_path / "r.zarr", "--fte-seconds", "100",
    )  # fmt: skip
    assert "no live evaluator" in line


def test_live_is_built_from_its_options(partial_store, tmp_path, capsys, monkeypatch):
    """A stand-in LiveEvaluator (answering from the partial store) records what the CLI passes."""
    seen = {}

    class FakeLive(TabularEvaluator):
        def __init__(self, out, **kwargs):
            seen.update(kwargs, out=out)
            super().__init__(partial_store)

    module = types.ModuleType("blox_search.evaluators.live")
    module.LiveEvaluator = FakeLive
    monkeypatch.setitem(sys.modules, "blox_search.evaluators.live", module)
    shard = tmp_path / "shard.zarr"
    code, out, err = _run(
        capsys, "run", "random", shard, "--evaluator", "live", "--budget-fte", "3", "--seeds", "0",
        "--out", tmp_path / "r.zarr", "--fte-store", partial_store, "--recipe", "ci", "--models", "0:50",
        "--train-set", "epochs=2", "--train-set", "lr=0.05", "--device", "cpu", "--data-root", tmp_path,
        "--threads", "1",
    )  # fmt: skip
    assert code == 0, err
    assert seen["out"] == str(shard) and seen["recipe"] == "ci" and seen["device"] == "cpu"
    assert np.array_equal(seen["models"], np.arange(50)) and seen["overrides"] == ["epochs=2", "lr=0.05"]
    assert seen["data_root"] == str(tmp_path) and seen["threads"] == 1
    assert out.startswith("random seed 0:")
    monkeypatch.undo()  # the stand-in out of sys.modules: check the real signature
    import blox_search.evaluators.live as real

    assert real.LiveEvaluator is not FakeLive
    kwargs = {k: v for k, v in seen.items() if k != "out"}
    inspect.signature(real.LiveEvaluator).bind(seen["out"], **kwargs)  # the real one takes these arguments


# ---------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------
def test_summary_json_is_summarize_with_the_contract_keys(run_store, capsys):
    code, out, _ = _run(capsys, "summary", run_store, run_store, "--json")
    assert code == 0
    rows = json.loads(out)  # strict JSON: NaN would not parse with parse_constant raising
    json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert len(rows) == 2 and all(tuple(r)[: len(SUMMARY_KEYS)] == SUMMARY_KEYS for r in rows)
    expected = summarize([run_store])[0]
    assert rows[0]["acc_at_budget_mean"] == pytest.approx(expected["acc_at_budget_mean"])
    assert rows[0]["target"] == pytest.approx(expected["target"]) and rows[0]["num_seeds"] == 3


def test_summary_budget_and_target(run_store, capsys):
    code, out, _ = _run(capsys, "summary", run_store, "--json", "--budget-fte", "8", "--target", "40")
    (row,) = json.loads(out)
    assert code == 0 and row["budget_fte"] == 8.0 and row["target"] == 40.0 and row["num_reached"] == 3
    code, out, _ = _run(capsys, "summary", run_store, "--json", "--budget-fte", "1e-9", "--target", "101")
    (row,) = json.loads(out)
    assert (
        row["acc_at_budget_mean"] is None and row["cost_at_target_mean"] is None and row["num_reached"] == 0
    )


def test_summary_table(run_store, capsys):
    code, out, _ = _run(capsys, "summary", run_store, "--target", "101")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["algorithm", "evaluator"] and len(lines) == 2
    assert (
        "random" in lines[1]
        and "tabular:benchmark" in lines[1]
        and "± " in lines[1]
        and "× (0/3)" in lines[1]
    )
    code, out, _ = _run(capsys, "summary", run_store, "--target", "0")
    assert "(3/3)" in out.splitlines()[1]


def test_summary_mistakes(run_store, partial_store, tmp_path, capsys):
    assert "no search store at" in _one_error(capsys, "summary", tmp_path / "nope.zarr")
    assert "expected a 'search' store" in _one_error(capsys, "summary", partial_store)
    assert "--target" in _one_error(capsys, "summary", run_store, "--target", "inf")
    assert "--budget-fte" in _one_error(capsys, "summary", run_store, "--budget-fte", "0")


# ---------------------------------------------------------------------------------------
# trajectories, list
# ---------------------------------------------------------------------------------------
def test_trajectories_csv_has_the_contract_columns_one_row_per_evaluation(run_store, capsys):
    code, out, _ = _run(capsys, "trajectories", run_store, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(csv.reader(io.StringIO(out)).__next__()) == TRAJECTORY_COLUMNS
    run = open_search(run_store)
    assert len(rows) == sum(len(t) for t in run.trajectories())
    t = run.trajectory(2)
    mine = [r for r in rows if r["seed"] == "2"]
    assert [int(r["model"]) for r in mine] == t.model.tolist()
    assert [float(r["cum_fte"]) for r in mine] == t.cum_fte.tolist()  # full precision
    assert [int(r["step"]) for r in mine] == list(range(len(t)))
    assert {r["algorithm"] for r in rows} == {"random"} and {r["is_repeat"] for r in rows} <= {
        "True",
        "False",
    }


def test_trajectories_out_file_and_several_runs(run_store, tmp_path, capsys):
    target = tmp_path / "sub" / "t.csv"
    code, out, err = _run(capsys, "trajectories", run_store, run_store, "--csv", "--out", target)
    assert code == 0 and out == "" and "wrote" in err
    text = target.read_text()
    n = sum(len(t) for t in open_search(run_store).trajectories())
    assert text.count("\n") == 1 + 2 * n and not list(target.parent.glob(".*tmp*"))
    assert "required: --csv" in _one_error(capsys, "trajectories", run_store)
    assert "is a folder" in _one_error(capsys, "trajectories", run_store, "--csv", "--out", tmp_path)


def test_list(capsys):
    code, out, _ = _run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and any(r["algorithm"] == "random" for r in rows)
    assert all(set(r) == {"algorithm", "requires", "params"} for r in rows)
    code, out, _ = _run(capsys, "list")
    assert any(line.startswith("random") for line in out.splitlines())


# ---------------------------------------------------------------------------------------
# pareto
# ---------------------------------------------------------------------------------------
_PARETO = {
    "algorithm": "pareto_re",
    "evaluator": "tabular:benchmark",
    "latency_device": "synthetic-cpu",
    "reference_point": {"reported_metric": 50.0, "latency_s": 0.002},
    "true_hypervolume": 0.01,
    "seeds": [
        {"seed": 0, "front_size": 4, "hypervolume": 0.008, "normalized_hypervolume": 0.8},
        {"seed": 1, "front_size": 5, "hypervolume": 0.009, "normalized_hypervolume": 0.9},
    ],
    "normalized_hypervolume_mean": 0.85,
    "normalized_hypervolume_std": float("nan"),
}


def test_pareto_prints_each_runs_summary(run_store, capsys, monkeypatch):
    import blox_search.pareto as pareto

    calls = []
    monkeypatch.setattr(pareto, "pareto_summary", lambda run: calls.append(run) or dict(_PARETO))
    code, out, _ = _run(capsys, "pareto", run_store, run_store, "--json")
    rows = json.loads(out)
    assert code == 0 and len(calls) == 2 and rows[0]["normalized_hypervolume_std"] is None
    assert rows[0]["seeds"] == _PARETO["seeds"]
    code, out, _ = _run(capsys, "pareto", run_store, run_store)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and "0.850" in lines[0] and "synthetic-cpu" in lines[0]


def test_pareto_of_a_real_search(tmp_path, capsys):
    from blox_search.testing import synthetic_latency

    bench = synthetic_benchmark(tmp_path / "b.zarr", models=np.arange(400), epochs=4)
    recorded = tmp_path / "b2.zarr"
    synthetic_benchmark(recorded, models=np.arange(400), epochs=4)
    latency = synthetic_latency(tmp_path / "lat.zarr", device="synthetic-cpu")
    synthetic_latency(tmp_path / "lat2.zarr", device="synthetic-cpu", benchmark=recorded)
    for store, attach in ((bench, ["--latency", latency]), (recorded, [])):
        out = tmp_path / f"p-{Path(store).stem}.zarr"
        code, _, err = _run(
            capsys, "run", "random", store, "--budget-fte", "10", "--seeds", "0,1", "--out", out,
            "--latency-device", "synthetic-cpu", *attach,
        )  # fmt: skip
        assert code == 0, err
        code, out_text, err = _run(capsys, "pareto", out, "--json", *attach)
        assert code == 0, err
        (row,) = json.loads(out_text)
        assert row["latency_device"] == "synthetic-cpu" and [s["seed"] for s in row["seeds"]] == [0, 1]
        assert 0 < row["normalized_hypervolume_mean"] <= 1


def test_pareto_mistakes(run_store, tmp_path, capsys, monkeypatch):
    assert "no search store" in _one_error(capsys, "pareto", tmp_path / "nope.zarr")
    monkeypatch.setitem(sys.modules, "blox_search.pareto", None)
    assert "no Pareto analysis" in _one_error(capsys, "pareto", run_store)


# ---------------------------------------------------------------------------------------
# the console script
# ---------------------------------------------------------------------------------------
def _script(*argv):
    return subprocess.run([str(SCRIPT), *map(str, argv)], capture_output=True, text=True, timeout=120)


def test_console_script_runs_and_summarizes(partial_store, tmp_path):
    out = tmp_path / "s.zarr"
    proc = _script("run", "random", partial_store, "--budget-fte", "5", "--seeds", "0:2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2
    proc = _script("summary", out, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["num_seeds"] == 2


def test_console_script_mistake_is_one_line(partial_store, tmp_path):
    proc = _script(
        "run", "random", partial_store, "--budget-fte", "5", "--seeds", "0:", "--out", tmp_path / "x.zarr"
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("blox-search: error: ")
