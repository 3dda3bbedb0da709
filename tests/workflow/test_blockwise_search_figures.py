"""Table 2's blockwise rows, Figures 12-13 and the report's blockwise-search section, on a small
synthetic blockwise experiment searched by the real `blox-search` CLI (run --evaluator
blockwise, summary --json, trajectories --csv; no training): the rows' sections, labels and
numbers, the figures and what they miss, the FTE reference, the hypervolume table and the page."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from blox_search import CostModel
from blox_search.cli import main as blox_search
from blox_search.testing import synthetic_blockwise

from .conftest import REPO

BUDGET, PHASE_ONE, TARGET = 6.0, 3.0, 70.0
TEACHERS = {"M1": "rank:1", "M5": "rank:-1"}
INNER = {"population_size": 3, "sample_size": 2}


def _meta(algorithm, teacher, ft, ft_epochs, **params):
    retrain = params.get("retrain_teacher")
    return {"algorithm": algorithm, "teacher": teacher, "teacher_selector": TEACHERS[teacher],
            "retrain_teacher": retrain, "ft": ft, "ft_epochs": ft_epochs, "latency_device": None,
            "params": params}  # fmt: skip


#: What the rule's params.entries would hold (bsearch_entries_meta), in config order; the bad
#: teacher's same-teacher two-phase search and the iterative teacher are left out on purpose.
ENTRIES = {
    "ft4_M1": _meta("re", "M1", "long", [4], **INNER),
    "ft2_M1": _meta("random", "M1", "short", [2]),
    "ft2_ft4_M1": _meta("two_phase", "M1", "all", [2, 4], inner="random", phase_one_fte=PHASE_ONE),
    "ft2_M5": _meta("random", "M5", "short", [2]),
    "ft2_ft4_M5_M1": _meta(
        "two_phase", "M5", "all", [2, 4], inner="random", phase_one_fte=PHASE_ONE, retrain_teacher="M1"
    ),
}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"blox_{name}", REPO / f"workflow/scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cli(*args: str) -> None:
    assert blox_search([*map(str, args)]) == 0


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> dict:
    """Every ENTRIES search (2 seeds, 6 FTE) and a conventional RE search of the benchmark, with
    their summaries (target 70 %) and trajectory tables, and a hand-written pareto.json."""
    root = tmp_path_factory.mktemp("bsearch")
    s = synthetic_blockwise(root / "stores")
    bench = s["benchmark"]
    common = ["--budget-fte", BUDGET, "--seeds", "0:2", "--fte-store", bench, "-q", "--no-progress"]
    bw = ["--evaluator", "blockwise", "--finetune", *s["finetune"],
          "--blockwise", *[f"{k}={v}" for k, v in s["blockwise"].items()]]  # fmt: skip
    runs, tables = [], []
    for name, meta in ENTRIES.items():
        sets = [x for k, v in meta["params"].items() for x in ("--set", f"{k}={json.dumps(v)}")]
        ft = ["--ft-epochs", *map(str, meta["ft_epochs"])]
        _cli("run", meta["algorithm"], bench, *bw, "--teacher", meta["teacher"], *ft, *sets, *common,
             "--out", root / f"{name}.zarr")  # fmt: skip
        _cli("trajectories", root / f"{name}.zarr", "--csv", "--out", root / f"{name}.csv")
        runs.append(root / f"{name}.zarr")
        tables.append(root / f"{name}.csv")
    _cli("run", "re", bench, *common, "--set", "population_size=3", "--out", root / "re.zarr")
    summaries = {}
    for key, stores in (("summary", runs), ("conventional", [root / "re.zarr"])):
        summaries[key] = root / f"{key}.json"
        summaries[key].write_text(_summary(stores))
    pareto = root / "pareto.json"
    pareto.write_text(json.dumps([{
        "algorithm": "lana", "evaluator": str(bench), "latency_device": "synthetic-cpu",
        "reference_point": {"reported_metric": 10.0, "latency_s": 0.004}, "true_hypervolume": 1.5,
        "seeds": [{"seed": 0}, {"seed": 1}], "normalized_hypervolume_mean": 0.8125,
        "normalized_hypervolume_std": 0.03,
    }]))  # fmt: skip
    return {"root": root, "bench": bench, "tables": tables, "pareto": pareto, **summaries}


def _summary(stores) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _cli("summary", *stores, "--budget-fte", BUDGET, "--target", TARGET, "--json")
    return out.getvalue()


def _make(searched, out: Path, *, entries=ENTRIES, tables=None, summary=None, **extra) -> dict:
    return _module("blockwise_search_figures").make_figures(
        summary=summary or searched["summary"], trajectories=tables or searched["tables"], entries=entries,
        teachers=TEACHERS, out_dir=out, preset="test", budget_fte=BUDGET, phase_one_fte=PHASE_ONE,
        benchmark=searched["bench"], conventional=[searched["conventional"]], **extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def figures(searched, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("report")
    return _make(searched, out, pareto=searched["pareto"], pareto_entries=["lana_M1"]), out


def test_table2_rows_are_grouped_and_labelled_like_the_paper(searched, figures) -> None:
    module = _module("blockwise_search_figures")
    facts, out = figures
    table = pd.read_csv(out / "table2_blockwise.csv", keep_default_na=False)
    assert tuple(table.columns) == module.TABLE2_BLOCKWISE_COLUMNS
    assert module.TABLE2_BLOCKWISE_COLUMNS[: len(module.TABLE2_COLUMNS)] == module.TABLE2_COLUMNS
    good, bad = "Blockwise NAS assuming good teacher (M1)", "Blockwise NAS assuming bad teacher (M5)"
    assert list(zip(table["section"], table["label"], table["entry"], strict=True)) == [
        ("Conventional NAS", "Reg. Evolution", "re"),
        (good, "FT4", "ft4_M1"),
        (good, "FT2", "ft2_M1"),
        (good, "FT2 + FT4", "ft2_ft4_M1"),
        (bad, "FT2", "ft2_M5"),
        (bad, "FT2 + FT4 M1", "ft2_ft4_M5_M1"),
    ]
    assert facts["sections"] == ["Conventional NAS", good, bad]
    assert list(table["retrain_teacher"]) == ["", "", "", "", "", "M1"]
    # both numbers are mean ± std over the seeds, straight from the summaries
    raw = {
        Path(r["path"]).stem: r
        for f in ("conventional", "summary")
        for r in json.loads(searched[f].read_text())
    }
    for row in facts["table2"]:
        r = raw[row["entry"]]
        assert row["acc_at_budget"] == f"{r['acc_at_budget_mean']:.2f} ± {r['acc_at_budget_std']:.2f}"
        if r["num_reached"] == 0:
            assert row["cost_to_target_fte"] == "×"
        else:
            std = r["cost_at_target_std"] or 0.0
            assert row["cost_to_target_fte"].startswith(f"{r['cost_at_target_mean']:.2f} ± {std:.2f}")
    assert any(row["cost_to_target_fte"] != "×" for row in facts["table2"])  # the target is reachable
    assert facts["target"] == TARGET and facts["budget_fte"] == BUDGET
    # the FTE definition is the cost model's
    cost = CostModel.from_benchmark(searched["bench"])
    assert facts["cost_model"]["fte_seconds"] == pytest.approx(cost.fte_seconds)
    assert facts["cost_model"]["reference"]["store"] == str(searched["bench"])
    assert "benchmark.zarr" in facts["cost_model"]["definition"]
    assert json.loads((out / "blockwise_search.json").read_text()) == json.loads(
        json.dumps(facts, default=str)
    )


def test_figures_draw_what_exists_and_name_what_is_missing(figures) -> None:
    facts, out = figures
    for name in ("figure12", "figure13"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    f12, f13 = facts["figures"]["figure12"], facts["figures"]["figure13"]
    assert [c["entry"] for c in f12["curves"]] == ["ft2_ft4_M1", "ft4_M1", "ft2_M1"] and f12["missing"] == []
    assert f12["phase_switch_fte"] == [PHASE_ONE] and f12["title"].startswith("test: Figure 12")
    assert [(c["slot"], c["entry"]) for c in f13["curves"]] == [("good teacher", "ft2_ft4_M5_M1")]
    assert f13["missing"] == [
        "FT2 + FT4 (two_phase, teacher M5, retrained with M5)",
        "FT2 + FT4 iter. (iterative_teacher, teacher M5)",
    ]
    assert f13["note"].startswith("missing: FT2 + FT4 (two_phase")
    [hv] = facts["hypervolume"]
    assert hv["entry"] == "lana_M1" and hv["normalized_hypervolume_mean"] == 0.8125 and hv["num_seeds"] == 2


def test_a_figure_without_any_entry_is_an_empty_axes_with_a_note(searched, tmp_path) -> None:
    rows = [r for r in json.loads(searched["summary"].read_text()) if Path(r["path"]).stem == "ft2_M5"]
    (tmp_path / "summary.json").write_text(json.dumps(rows))
    entries = {"ft2_M5": ENTRIES["ft2_M5"]}
    table = searched["tables"][list(ENTRIES).index("ft2_M5")]
    facts = _make(searched, tmp_path, entries=entries, tables=[table], summary=tmp_path / "summary.json")
    assert facts["figures"]["figure12"]["curves"] == facts["figures"]["figure13"]["curves"] == []
    assert (
        len(facts["figures"]["figure12"]["missing"]) == 2
        and len(facts["figures"]["figure13"]["missing"]) == 3
    )
    assert (tmp_path / "figure12.png").exists() and (tmp_path / "figure13.png").exists()
    assert [r["entry"] for r in facts["table2"]] == ["re", "ft2_M5"]


def test_labels_sections_and_slots_of_every_kind() -> None:
    module = _module("blockwise_search_figures")
    iterative = _meta("iterative_teacher", "M5", "all", [10, 200])
    assert module.entry_label(iterative) == "FT10 + FT200 iter."
    assert (
        module.entry_label(_meta("two_phase", "M5", "all", [10, 200], retrain_teacher="M5")) == "FT10 + FT200"
    )
    assert module.entry_label(_meta("two_phase", "M1", "all", [10, 50, 200], long_ft=50)) == "FT10 + FT50"
    assert module.entry_label(_meta("donna", "M1", "long", [200])) == "DONNA"
    assert module.entry_label(_meta("lana", "M1", "long", [200])) == "LANA"
    assert module.entry_label(_meta("hyperband", "M1", "all", [10, 200])) == "FT10–200 (hyperband)"
    assert module.teacher_roles({"M1": "rank:1", "M3": "median", "M5": "rank:-1"}) == {
        "M1": "good", "M3": "other", "M5": "bad"}  # fmt: skip
    assert module.teacher_roles({"A": "index:3", "B": "index:7"}) == {"A": "good", "B": "bad"}
    assert module.teacher_roles({"A": "index:3"}) == {"A": "good"}
    teachers = {"M1": "rank:1", "M3": "median", "M5": "rank:-1"}
    assert (
        module.section_of("M3", teachers, module.teacher_roles(teachers))
        == "Blockwise NAS with teacher M3 (median)"
    )
    plan = module.figure_plan({"it": iterative, "again": dict(iterative)}, TEACHERS)
    assert [s["entry"] for s in plan["figure13"]] == [None, None, "it"]  # the first that fits
    # two entries of one label in one section are told apart by their names
    rows = [{"section": "s", "label": "FT10", "entry": "a"}, {"section": "s", "label": "FT10", "entry": "b"}]
    module._disambiguate(rows)
    assert [r["label"] for r in rows] == ["FT10 (a)", "FT10 (b)"]


def test_the_cli_reruns_from_its_own_json(searched, figures, tmp_path) -> None:
    _, out = figures
    module = _module("blockwise_search_figures")
    args = ["--summary", str(searched["summary"]), "--trajectories", *map(str, searched["tables"]),
            "--entries", str(out / "blockwise_search.json"), "--teachers", "M1=rank:1", "M5=rank:-1",
            "--budget-fte", str(BUDGET), "--phase-one-fte", str(PHASE_ONE), "--out-dir", str(tmp_path)]  # fmt: skip
    assert module.main(args) == 0
    again = json.loads((tmp_path / "blockwise_search.json").read_text())
    first = json.loads((out / "blockwise_search.json").read_text())
    assert [r["label"] for r in again["table2"]] == [r["label"] for r in first["table2"]][
        1:
    ]  # no conventional
    assert again["entries"] == first["entries"] and again["cost_model"]["fte_seconds"] is None


def test_the_report_shows_table2_figures_12_13_and_the_hypervolume(figures, capsys) -> None:
    _, out = figures
    report = _module("report")
    section = report._blockwise_search_section(out / "blockwise_search.json")
    assert section.count("data:image/png;base64,") == 2 and 'href="table2_blockwise.csv"' in section
    conventional, good, bad = (section.index(f'<th colspan="4">{s}') for s in (
        "Conventional NAS", "Blockwise NAS assuming good teacher (M1)", "Blockwise NAS assuming bad teacher (M5)"))  # fmt: skip
    assert conventional < good < bad
    assert "<td>FT2 + FT4 M1</td>" in section and f"Acc. @ cost={BUDGET:g} FTE" in section
    assert f"Cost @ acc.={TARGET:.2f} %" in section and "one FTE = " in section
    assert "Not searched, so not drawn: FT2 + FT4 (two_phase, teacher M5, retrained with M5)" in section
    assert "<td>LANA (lana_M1)</td><td>synthetic-cpu</td><td>0.812 ± 0.030</td><td>2</td>" in section
    assert report._blockwise_search_section(None) == ""
    # the page carries the section, and the command line takes it
    png = out / "figure12.png"
    page = out / "index.html"
    report.write_html(page, facts={"preset": "test"}, outputs=report.Outputs(page, png, png, png),
                      validation=[], blockwise_search=out / "blockwise_search.json")  # fmt: skip
    assert "<h2>Blockwise NAS</h2>" in page.read_text()
    with pytest.raises(SystemExit):
        report.main(["--help"])
    assert "--blockwise-search" in capsys.readouterr().out


def test_the_script_is_glue_and_reuses_search_figures() -> None:
    source = (REPO / "workflow/scripts/blockwise_search_figures.py").read_text()
    assert "open_zarr" not in source and "import zarr" not in source
    assert "from search_figures import" in source and "def incumbent_curve" not in source
    assert "def band(" not in source and "def table2_rows" not in source
