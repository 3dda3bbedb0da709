"""Table 2 with its blockwise rows and Figures 12-13 for the `blockwise_search_figures` rule.

Table 2 (paper §3.3): the conventional rows (``blox-search summary --json`` of the conventional
searches: BRP-NAS, regularized evolution, ...) then the blockwise rows, grouped by the entry's
teacher as the paper does ("Blockwise NAS assuming good teacher (M1)" / "... bad teacher (M5)"),
each labelled like the paper (FT200, FT10, FT10 + FT200, FT10 + FT200 iter., FT10 + FT200 M1,
DONNA, LANA); both numbers are mean ± std over the search seeds, × when no seed reached the
target within the budget. Figure 12: the good teacher's two-phase search (short FT, then the
ranked models fine-tuned long) against its long-FT (and short-FT) search; Figure 13: the bad
teacher's two-phase search retrained with the same teacher, with the good teacher, and the
iterative teacher; both mark the phase switch. The incumbent curves are search_figures.py's
(the model with the best search metric so far, its reported metric; mean ± std over seeds).
The normalised hypervolume of every latency-aware entry (DONNA, LANA) comes from
``blox-search pareto --json``. Writes table2_blockwise.csv, figure12.png, figure13.png and
blockwise_search.json (with the cost model's FTE reference) for the report page.

Run by Snakemake (``script:``) or by hand::

    python workflow/scripts/blockwise_search_figures.py \
        --summary results/blockwise_search/summary.json \
        --trajectories results/blockwise_search/{ft_long_M1,two_phase_M1}.csv \
        --entries results/report/blockwise_search.json --teachers M1=rank:1 M5=rank:-1 \
        --benchmark results/benchmark/ci.zarr --conventional results/search/summary.json \
        --budget-fte 20 --phase-one-fte 10 --out-dir results/report --preset ci

(``--entries``: a JSON file holding the rule's ``entries`` mapping, or a blockwise_search.json
that this script wrote, which records it. No `from __future__` import: Snakemake prepends its
own preamble to `script:` files.)
"""

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # Snakemake also puts workflow/scripts on the path

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from search_figures import (  # noqa: E402
    GRID_POINTS,
    TABLE2_COLUMNS,
    _by_entry,
    _plain,
    _save,
    _write,
    band,
    hypervolume_rows,
    load_trajectories,
    table2_rows,
)

logger = logging.getLogger("blox.report.blockwise_search")

#: Columns of table2_blockwise.csv: table2.csv's, then where each row sits in the paper's table.
TABLE2_BLOCKWISE_COLUMNS = (
    *TABLE2_COLUMNS,
    "cost_at_target_std",
    "section",
    "label",
    "teacher",
    "retrain_teacher",
    "note",
)
CONVENTIONAL_SECTION = "Conventional NAS"
#: The paper's names of the conventional methods (others keep their entry name); DARTS-PT is a
#: search.algorithms entry of the one-shot algorithm darts_pt, with its † note.
CONVENTIONAL_LABELS = {
    "brp": "BRP-NAS",
    "re": "Reg. Evolution",
    "random": "Random search",
    "darts_pt": "DARTS-PT",
}
CONVENTIONAL_NOTES = {"darts_pt": "† differentiable NAS: the cost budget does not apply"}
#: Algorithms that search short FT, then fine-tune the ranked models long (the phase switch).
PHASED = ("two_phase", "iterative_teacher")
#: Blockwise methods with a name of their own in the table.
METHOD_LABELS = {"donna": "DONNA", "lana": "LANA"}


# ---------------------------------------------------------------------------------------
# teachers, sections and labels
# ---------------------------------------------------------------------------------------
def teacher_roles(teachers: dict) -> dict[str, str]:
    """``{name: "good" | "bad" | "other"}``: the good teacher is the one selected by
    ``rank:1`` (else the first), the bad one by ``rank:-1`` (else the last, when another)."""
    names = list(teachers)
    if not names:
        return {}
    good = next((n for n, s in teachers.items() if str(s) == "rank:1"), names[0])
    bad = next((n for n, s in teachers.items() if str(s) == "rank:-1" and n != good), None)
    if bad is None and names[-1] != good:
        bad = names[-1]
    return {n: "good" if n == good else "bad" if n == bad else "other" for n in names}


def section_of(teacher, teachers: dict, roles: dict[str, str]) -> str:
    role = roles.get(teacher, "other")
    if role in ("good", "bad"):
        return f"Blockwise NAS assuming {role} teacher ({teacher})"
    selector = teachers.get(teacher)
    return f"Blockwise NAS with teacher {teacher}" + (f" ({selector})" if selector else "")


def _lengths(meta: dict) -> tuple:
    """(short, long) FT lengths of an entry: its params' short_ft / long_ft, else its ends."""
    lengths = sorted(int(x) for x in meta.get("ft_epochs") or [])
    params = meta.get("params") or {}
    short = params.get("short_ft") or (lengths[0] if lengths else None)
    long = params.get("long_ft") or (lengths[-1] if lengths else None)
    return short, long


def entry_label(meta: dict) -> str:
    """The paper's label of a blockwise entry: ``FT200`` / ``FT10`` for a search at one FT
    length, ``FT10 + FT200`` (two-phase; `` M1`` appended when retrained with another teacher),
    ``FT10 + FT200 iter.`` (the iterative teacher), ``DONNA``, ``LANA``."""
    algorithm = meta["algorithm"]
    if algorithm in METHOD_LABELS:
        return METHOD_LABELS[algorithm]
    short, long = _lengths(meta)
    if algorithm in PHASED:
        base = f"FT{short} + FT{long}"
        if algorithm == "iterative_teacher":
            return f"{base} iter."
        retrain = meta.get("retrain_teacher")
        return f"{base} {retrain}" if retrain and retrain != meta.get("teacher") else base
    lengths = sorted(int(x) for x in meta.get("ft_epochs") or [])
    if len(lengths) == 1:
        return f"FT{lengths[0]}"
    return "FT" + "–".join(str(x) for x in lengths) + f" ({algorithm})"  # a multi-fidelity search


def _disambiguate(rows: list[dict]) -> None:
    """Two rows of one section with one label get their entry name appended."""
    seen: dict = {}
    for row in rows:
        seen.setdefault((row["section"], row["label"]), []).append(row)
    for group in seen.values():
        if len(group) > 1:
            for row in group:
                row["label"] = f"{row['label']} ({row['entry']})"


# ---------------------------------------------------------------------------------------
# Table 2
# ---------------------------------------------------------------------------------------
def _with_std(row: dict, raw: dict) -> dict:
    """Table 2's cost column as ``mean ± std`` (over the seeds that reached the target)."""
    std = _plain(raw.get("cost_at_target_std"))
    row["cost_at_target_std"] = std
    mean = row["cost_at_target_mean"]
    if mean is not None and row["num_reached"] > 0:
        seeds, reached = row["num_seeds"], row["num_reached"]
        row["cost_to_target_fte"] = f"{mean:.2f} ± {std if std is not None else 0.0:.2f}" + (
            f" ({reached}/{seeds})" if reached < seeds else ""
        )
    return row


def _entry_of(raw: dict) -> str:
    return Path(str(raw["path"]).rstrip("/")).stem if raw.get("path") else str(raw["algorithm"])


def conventional_rows(paths, *, preset: str) -> list[dict]:
    """Table 2's conventional rows: every row of every `blox-search summary --json` file, in
    order, named by its search store (results/search/{entry}.zarr)."""
    rows = []
    for path in paths:
        for raw in json.loads(Path(path).read_text()):
            entry = _entry_of(raw)
            store = f"{raw.get('store_kind') or 'benchmark'} store {Path(str(raw.get('store') or '?')).name}"
            [row] = table2_rows([raw], [entry], preset=preset, store=store)
            label = CONVENTIONAL_LABELS.get(raw["algorithm"], entry)
            row.update(
                section=CONVENTIONAL_SECTION,
                label=label if entry == raw["algorithm"] else f"{label} ({entry})",
                teacher=None,
                retrain_teacher=None,
                note=CONVENTIONAL_NOTES.get(raw["algorithm"]),
            )
            rows.append(_with_std(row, raw))
    return rows


def blockwise_rows(
    summary: list[dict], entries: dict, teachers: dict, *, preset: str, store: str
) -> list[dict]:
    """Table 2's blockwise rows, grouped by teacher (good, others, bad), config order within."""
    roles = teacher_roles(teachers)
    by_entry = {r["entry"]: r for r in table2_rows(summary, list(entries), preset=preset, store=store)}
    raw_by_entry = _by_entry(summary, list(entries))
    rows = []
    for entry, meta in entries.items():
        row = by_entry[entry]
        row.update(
            section=section_of(meta.get("teacher"), teachers, roles),
            label=entry_label(meta),
            teacher=meta.get("teacher"),
            retrain_teacher=meta.get("retrain_teacher"),
            note=None,
        )
        rows.append(_with_std(row, raw_by_entry[entry]))
    order = {"good": 0, "other": 1, "bad": 2}
    rows.sort(key=lambda r: order[roles.get(r["teacher"], "other")])  # stable: config order within
    _disambiguate(rows)
    return rows


def cost_reference(benchmark) -> dict:
    """The cost model's FTE definition (blox_search.cost, the one home of the units)."""
    if benchmark is None:
        return {"fte_seconds": None, "reference": None, "definition": "not given (no --benchmark)"}
    from blox_search import CostModel

    cost = CostModel.from_benchmark(benchmark)
    ref = dict(cost.reference)
    definition = (
        f"one FTE = {cost.fte_seconds:.4g} s, the {ref.get('statistic', 'median train_seconds')} of the "
        f"normal-training benchmark {Path(str(ref.get('store'))).name} (recipe {ref.get('recipe_id')}, "
        f"{ref.get('num_runs')} runs)"
    )
    return {"fte_seconds": cost.fte_seconds, "reference": ref, "definition": definition}


# ---------------------------------------------------------------------------------------
# Figures 12 and 13
# ---------------------------------------------------------------------------------------
def _is_ft_search(meta: dict, which: str) -> bool:
    return (
        meta["algorithm"] not in PHASED and meta["algorithm"] not in METHOD_LABELS and meta.get("ft") == which
    )


def figure_plan(entries: dict, teachers: dict) -> dict[str, list[dict]]:
    """The curves each figure wants: ``{figure: [{"slot", "wanted", "required", "colour",
    "entry"}]}``, ``entry`` the first config entry that fits (None when none does); the colours
    are the paper's where it names them (Figure 13: green same, red good teacher, blue iter.)."""
    roles = teacher_roles(teachers)
    good = next((n for n, r in roles.items() if r == "good"), None)
    bad = next((n for n, r in roles.items() if r == "bad"), None)
    ends = sorted({int(x) for meta in entries.values() for x in meta.get("ft_epochs") or []})
    short, long = (f"FT{ends[0]}", f"FT{ends[-1]}") if len(ends) > 1 else ("FT-short", "FT-long")

    def two_phase(teacher, retrain):
        def test(m):
            again = m.get("retrain_teacher") or m.get("teacher")
            return m["algorithm"] == "two_phase" and m.get("teacher") == teacher and again == retrain

        return test

    wants = {
        "figure12": [
            ("two-phase", f"{short} + {long} (two_phase, teacher {good})", True, "C0", two_phase(good, good)),
            ("ft-long", f"{long} search (teacher {good})", True, "C1",
             lambda m: m.get("teacher") == good and _is_ft_search(m, "long")),
            ("ft-short", f"{short} search (teacher {good})", False, "C2",
             lambda m: m.get("teacher") == good and _is_ft_search(m, "short")),
        ],
        "figure13": [
            ("same teacher", f"{short} + {long} (two_phase, teacher {bad}, retrained with {bad})", True, "C2",
             two_phase(bad, bad)),
            ("good teacher", f"{short} + {long} {good} (two_phase, teacher {bad}, retrained with {good})", True,
             "C3", two_phase(bad, good)),
            ("iterative", f"{short} + {long} iter. (iterative_teacher, teacher {bad})", True, "C0",
             lambda m: m["algorithm"] == "iterative_teacher" and m.get("teacher") == bad),
        ],
    }  # fmt: skip
    return {
        figure: [
            {
                "slot": slot,
                "wanted": wanted,
                "required": required,
                "colour": colour,
                "entry": next((n for n, m in entries.items() if good is not None and test(m)), None),
            }
            for slot, wanted, required, colour, test in slots
        ]
        for figure, slots in wants.items()
    }


def draw_figure(
    curves: list[tuple[str, pd.DataFrame, str]], path: Path, *, title: str, budget_fte: float,
    phase_switch: list[float], missing: list[str], target,
) -> None:  # fmt: skip
    """Incumbent reported accuracy vs cumulative FTE (linear), mean ± std band per curve,
    the phase switch as a gray line, the missing curves named under the axes."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    grid = np.linspace(0.0, budget_fte, GRID_POINTS)
    drawn = 0
    for legend, table, colour in curves:
        mean, std, count = band(table, grid, budget_fte)
        seeds = table["seed"].nunique()
        ok = np.isfinite(mean) & (count == seeds)  # from the cost at which every seed has one
        if not ok.any():
            continue
        ax.plot(grid[ok], mean[ok], color=colour, lw=1.6, label=f"{legend} ({seeds} seeds)")
        ax.fill_between(grid[ok], (mean - std)[ok], (mean + std)[ok], color=colour, alpha=0.15, lw=0)
        drawn += 1
    for i, x in enumerate(phase_switch):
        ax.axvline(x, color="grey", lw=1.2, label="phase switch" if i == 0 else None)
    if drawn and target is not None and math.isfinite(target):
        ax.axhline(target, color="grey", ls="--", lw=0.8, label=f"target {target:.2f} %")
    if not drawn:
        what = "no entry of this figure was searched" if not curves else "no search evaluated a model"
        ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, backgroundcolor="white")
    if missing:
        ax.text(
            0.0,
            -0.2,
            "missing: " + "; ".join(missing),
            fontsize=7,
            transform=ax.transAxes,
            va="top",
            wrap=True,
        )
    ax.set_xlim(0.0, budget_fte)
    ax.set_xlabel("search cost (FTE: full trainings of the reference recipe)")
    ax.set_ylabel("incumbent's test top-1 (%)")
    ax.set_title(title, fontsize=8)
    if drawn or phase_switch:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _save(fig, path)


FIGURE_TITLES = {
    "figure12": "Figure 12: short-FT search then long-FT retraining vs long-FT search, good teacher",
    "figure13": "Figure 13: bad teacher, retrained with the same teacher, the good teacher, the iterative teacher",
}


def figures(
    plan: dict, tables: dict, entries: dict, labels: dict, out_dir: Path, *, preset: str,
    budget_fte: float, phase_one_fte: float, target,
) -> dict:  # fmt: skip
    """Draw Figures 12 and 13 from the plan; returns what each shows and what it misses."""
    out = {}
    for figure, slots in plan.items():
        present = [s for s in slots if s["entry"] is not None]
        missing = [s["wanted"] for s in slots if s["entry"] is None and s["required"]]
        curves = [(f"{labels[s['entry']]} [{s['entry']}]", tables[s["entry"]], s["colour"]) for s in present]
        switches = sorted(
            {float((entries[s["entry"]].get("params") or {}).get("phase_one_fte", phase_one_fte)) for s in present
             if entries[s["entry"]]["algorithm"] in PHASED} or {float(phase_one_fte)}
        )  # fmt: skip
        title = f"{preset}: {FIGURE_TITLES[figure]}; budget {budget_fte:g} FTE"
        draw_figure(curves, out_dir / f"{figure}.png", title=title, budget_fte=budget_fte,
                    phase_switch=switches, missing=missing, target=target)  # fmt: skip
        out[figure] = {
            "title": title,
            "curves": [
                {"slot": s["slot"], "entry": s["entry"], "label": labels[s["entry"]]} for s in present
            ],
            "missing": missing,
            "phase_switch_fte": switches,
            "note": ("missing: " + "; ".join(missing)) if missing else None,
        }
    return out


# ---------------------------------------------------------------------------------------
# the rule's outputs
# ---------------------------------------------------------------------------------------
def make_figures(
    *,
    summary,
    trajectories,
    entries: dict,
    teachers: dict,
    out_dir,
    preset: str,
    budget_fte: float,
    phase_one_fte: float,
    benchmark=None,
    conventional=(),
    pareto=None,
    pareto_entries=(),
):
    """Write table2_blockwise.csv, figure12.png, figure13.png and blockwise_search.json into
    ``out_dir``; returns the facts (what the JSON holds)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {name: dict(meta) for name, meta in entries.items()}
    teachers = dict(teachers)
    conventional = [conventional] if isinstance(conventional, (str, Path)) else list(conventional or [])
    budget_fte, phase_one_fte = float(budget_fte), float(phase_one_fte)
    searched = "blockwise evaluator: students fine-tuned from the teachers' block libraries"
    raw = json.loads(Path(summary).read_text())
    rows = conventional_rows(conventional, preset=preset)
    rows += blockwise_rows(raw, entries, teachers, preset=preset, store=searched)
    targets = {row["target"] for row in rows if row["target"] is not None}
    target = targets.pop() if len(targets) == 1 else None
    labels = {row["entry"]: row["label"] for row in rows if row["section"] != CONVENTIONAL_SECTION}
    drawn = figures(
        figure_plan(entries, teachers), load_trajectories(list(trajectories), list(entries)), entries, labels,
        out_dir, preset=preset, budget_fte=budget_fte, phase_one_fte=phase_one_fte, target=target,
    )  # fmt: skip
    csv = pd.DataFrame(rows, columns=list(TABLE2_BLOCKWISE_COLUMNS))
    tmp = out_dir / ".table2_blockwise.csv.tmp"
    csv.to_csv(tmp, index=False)
    os.replace(tmp, out_dir / "table2_blockwise.csv")
    hv = hypervolume_rows(json.loads(Path(pareto).read_text()), list(pareto_entries)) if pareto else []
    for row in hv:
        meta = entries.get(row["entry"], {})
        label = labels.get(row["entry"]) or METHOD_LABELS.get(row["algorithm"], row["entry"])
        row.update(label=label, teacher=meta.get("teacher"))
    roles = teacher_roles(teachers)
    facts = {
        "preset": preset,
        "searched": searched,
        "budget_fte": budget_fte,
        "phase_one_fte": phase_one_fte,
        "target": target,
        "cost_model": cost_reference(benchmark),
        "teachers": {name: {"selector": sel, "role": roles[name]} for name, sel in teachers.items()},
        "entries": entries,
        "sections": list(dict.fromkeys(row["section"] for row in rows)),
        "table2": rows,
        "figures": drawn,
        "hypervolume": hv,
    }
    _write(out_dir / "blockwise_search.json", json.dumps(facts, indent=2, default=str))
    logger.info("Table 2: %d rows; missing from the figures: %s", len(rows),
                {name: f["missing"] for name, f in drawn.items() if f["missing"]} or "nothing")  # fmt: skip
    return facts


def _from_snakemake(smk) -> None:  # pragma: no cover - exercised through the workflow tests
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
    make_figures(
        summary=smk.input.summary,
        trajectories=list(smk.input.trajectories),
        entries=smk.params.entries,
        teachers=smk.params.teachers,
        out_dir=Path(smk.output.json).parent,
        preset=smk.params.preset,
        budget_fte=smk.params.budget_fte,
        phase_one_fte=smk.params.phase_one_fte,
        benchmark=smk.input.get("benchmark"),
        conventional=[smk.input.conventional] if smk.input.get("conventional") else [],
        pareto=smk.input.get("pareto"),
        pareto_entries=smk.params.pareto_entries,
    )


def _entries_file(path: str) -> dict:
    data = json.loads(Path(path).read_text())
    return data["entries"] if "entries" in data and "table2" in data else data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True, help="JSON of blox-search summary --json")
    parser.add_argument("--trajectories", nargs="+", required=True, help="CSV per entry, in entry order")
    parser.add_argument(
        "--entries", required=True, help="JSON: the rule's entries mapping, or a blockwise_search.json"
    )
    parser.add_argument(
        "--teachers", nargs="+", required=True, metavar="NAME=SELECTOR", help="in config order"
    )
    parser.add_argument("--benchmark", default=None, help="the normal-training store that defines one FTE")
    parser.add_argument("--conventional", nargs="*", default=[], help="conventional summary JSON(s)")
    parser.add_argument("--pareto", default=None, help="JSON of blox-search pareto --json")
    parser.add_argument("--pareto-entries", nargs="*", default=[], help="the entries pareto.json is of")
    parser.add_argument("--budget-fte", type=float, required=True)
    parser.add_argument("--phase-one-fte", type=float, required=True)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--preset", default="custom")
    args = parser.parse_args(argv)
    make_figures(
        summary=args.summary,
        trajectories=args.trajectories,
        entries=_entries_file(args.entries),
        teachers=dict(t.split("=", 1) for t in args.teachers),
        out_dir=args.out_dir,
        preset=args.preset,
        budget_fte=args.budget_fte,
        phase_one_fte=args.phase_one_fte,
        benchmark=args.benchmark,
        conventional=args.conventional,
        pareto=args.pareto,
        pareto_entries=args.pareto_entries,
    )
    return 0


if "snakemake" in globals():
    _from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake's script directive
elif __name__ == "__main__":
    sys.exit(main())
