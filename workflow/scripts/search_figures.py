"""Figure 5 and Table 2's conventional rows for the `search_figures` rule: the incumbent's reported
accuracy (test top-1 of the model with the best search metric so far) against the search cost in
FTE, mean ± std over the search seeds per algorithm entry, log-x (from each entry's
`blox-search trajectories --csv` table); Table 2's numbers (`blox-search summary --json`:
accuracy at the budget, mean ± std, cost to reach the target in FTE or ×, number of seeds) as
CSV; the normalised hypervolume of every multi-objective entry (`blox-search pareto --json`).
Every figure and table names the preset and the store searched: "surrogate-completed space
(N measured, M predicted)" when it is a surrogate store. Writes the PNG, the CSV and the numbers
as JSON for the report page.

Run by Snakemake (``script:``) or by hand::

    python workflow/scripts/search_figures.py --summary results/search/summary.json \
        --trajectories results/search/{random,re}.csv --entries random re \
        --store results/search/surrogate.zarr --out-dir results/report --preset quick

(No `from __future__` import: Snakemake prepends its own preamble to `script:` files.)
"""

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import blox_space as bs  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

logger = logging.getLogger("blox.report.search")

#: Columns of table2.csv, in order: the entry, Table 2's two numbers as the paper prints them,
#: then the raw values behind them and where they come from.
TABLE2_COLUMNS = (
    "entry",
    "algorithm",
    "acc_at_budget",
    "cost_to_target_fte",
    "num_seeds",
    "acc_at_budget_mean",
    "acc_at_budget_std",
    "cost_at_target_mean",
    "num_reached",
    "budget_fte",
    "target",
    "evaluator",
    "store",
    "preset",
    "one_shot_fte",
)
#: Table 2's mark of a one-shot method (DARTS-PT), whose cost the budget does not bound.
DAGGER = "†"
#: Points of the log-spaced cost grid the seeds' incumbent curves are read at.
GRID_POINTS = 256


def _save(fig: plt.Figure, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------
# what was searched
# ---------------------------------------------------------------------------------------
def store_label(store, evaluator: str) -> dict:
    """What the searches searched, for every caption: the store, its kind and a label such as
    ``surrogate-completed space (8 measured, 91,117 predicted)``."""
    if store is None:
        return {"path": None, "kind": "live", "label": f"live training ({evaluator})"}
    bench = bs.open_benchmark(store, latency=[])
    name = Path(store).name
    surrogate = bench.surrogate
    if surrogate is not None:
        measured, predicted = int(surrogate["num_measured"]), int(surrogate["num_predicted"])
        label = f"surrogate-completed space ({measured:,} measured, {predicted:,} predicted), {name}"
        return {
            "path": str(store),
            "kind": "surrogate",
            "label": label,
            "num_measured": measured,
            "num_predicted": predicted,
            "source_store": surrogate.get("source_store"),
            "ensemble_size": surrogate.get("ensemble_size"),
        }
    trained = len(bs.model_table(bench))
    return {
        "path": str(store),
        "kind": bench.kind,
        "label": f"{bench.kind} store {name} ({trained:,} trained models)",
        "num_measured": trained,
        "num_predicted": 0,
    }


# ---------------------------------------------------------------------------------------
# Figure 5: incumbent reported accuracy vs cost
# ---------------------------------------------------------------------------------------
def incumbent_curve(seed_rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(cum_fte, incumbent reported metric)`` after every step of one seed: the incumbent is
    the model with the best search metric so far, the earliest on ties (a NaN search metric
    never becomes it), as blox-search records it."""
    rows = seed_rows.sort_values("step")
    search = rows["search_metric"].to_numpy(dtype=float)
    reported = rows["reported_metric"].to_numpy(dtype=float)
    best, value = -math.inf, math.nan
    out = np.empty(len(rows))
    for i, (s, r) in enumerate(zip(search, reported, strict=True)):
        if s > best:  # NaN compares False
            best, value = s, r
        out[i] = value
    return rows["cum_fte"].to_numpy(dtype=float), out


def cost_grid(tables: dict[str, pd.DataFrame], budget_fte: float) -> np.ndarray:
    """Log-spaced FTE from the cheapest first evaluation of any seed to the budget."""
    firsts = [
        float(part.sort_values("step")["cum_fte"].iloc[0])
        for table in tables.values()
        for _, part in table.groupby("seed")
        if len(part)
    ]
    positive = [x for x in firsts if x > 0]
    low = min(positive) if positive else budget_fte / 100
    low = min(low, budget_fte)
    return np.geomspace(low, budget_fte, GRID_POINTS) if low < budget_fte else np.array([budget_fte])


def band(
    table: pd.DataFrame, grid: np.ndarray, budget_fte: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std (ddof=1; 0 for one seed) and the number of seeds of the incumbent's reported
    metric at every grid cost: a seed's value at cost c is its incumbent after the last step
    with cum_fte <= c (none before its first step; steps past the budget do not count)."""
    values = []
    for _, part in table.groupby("seed"):
        cum, inc = incumbent_curve(part)
        keep = cum <= budget_fte * (1 + 1e-9)
        cum, inc = cum[keep], inc[keep]
        at = np.searchsorted(cum, grid * (1 + 1e-9), side="right") - 1
        values.append(np.where(at >= 0, inc[np.clip(at, 0, None)] if len(inc) else np.nan, np.nan))
    if not values:
        nan = np.full(len(grid), np.nan)
        return nan, nan, np.zeros(len(grid), dtype=int)
    stack = np.vstack(values)
    count = np.isfinite(stack).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(stack, axis=0) / np.maximum(count, 1), np.nan)
        dev = np.where(np.isfinite(stack), stack - mean, 0.0)
        std = np.where(count > 1, np.sqrt((dev**2).sum(axis=0) / np.maximum(count - 1, 1)), 0.0)
    return mean, np.where(count > 0, std, np.nan), count


def one_shot_point(table: pd.DataFrame) -> tuple[float, float, float, float, int]:
    """A one-shot entry's mark in Figure 5: mean and std over seeds of the final cost (FTE) and
    of the final incumbent's reported metric (its one model), and the number of seeds."""
    costs, accs = [], []
    for _, part in table.groupby("seed"):
        cum, inc = incumbent_curve(part)
        if len(cum):
            costs.append(cum[-1])
            accs.append(inc[-1])
    if not costs:
        return math.nan, math.nan, math.nan, math.nan, 0
    c, a = np.asarray(costs), np.asarray(accs)

    def std(v: np.ndarray) -> float:
        return float(v.std(ddof=1)) if len(v) > 1 else 0.0

    return float(c.mean()), std(c), float(np.nanmean(a)), std(a[np.isfinite(a)]), len(c)


def figure5(
    tables: dict[str, pd.DataFrame], path: Path, *, title: str, budget_fte: float, target, one_shot=()
) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    grid = cost_grid({e: t for e, t in tables.items() if e not in one_shot}, budget_fte)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = 0
    for i, (entry, table) in enumerate(tables.items()):
        if entry in one_shot:  # one model per seed, its cost outside the budget: a point (†)
            cost, cost_std, acc, acc_std, seeds = one_shot_point(table)
            if seeds and math.isfinite(acc):
                ax.errorbar(
                    [cost], [acc], xerr=[cost_std], yerr=[acc_std], fmt="*", ms=11, capsize=3,
                    color=colours[i % len(colours)], label=f"{entry} {DAGGER} one-shot ({seeds} seeds)",
                )  # fmt: skip
                drawn += 1
            continue
        mean, std, count = band(table, grid, budget_fte)
        seeds = table["seed"].nunique()
        ok = np.isfinite(mean) & (count == seeds)  # from the cost at which every seed has one
        if not ok.any():
            continue
        colour = colours[i % len(colours)]
        ax.plot(grid[ok], mean[ok], color=colour, lw=1.6, label=f"{entry} ({seeds} seeds)")
        ax.fill_between(grid[ok], (mean - std)[ok], (mean + std)[ok], color=colour, alpha=0.15, lw=0)
        drawn += 1
    if target is not None and math.isfinite(target):
        ax.axhline(target, color="grey", ls="--", lw=0.8, label=f"target {target:.2f} %")
    if not drawn:
        ax.text(0.5, 0.5, "no search evaluated a model", ha="center", va="center", transform=ax.transAxes)
    ax.set_xscale("log")
    ax.set_xlabel("search cost (FTE: full trainings of the reference recipe)")
    ax.set_ylabel("incumbent's test top-1 (%)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _save(fig, path)


# ---------------------------------------------------------------------------------------
# Table 2 and the hypervolumes
# ---------------------------------------------------------------------------------------
def _by_entry(rows: list[dict], entries: list[str]) -> dict[str, dict]:
    """Rows of a blox-search JSON list keyed by entry: by the store path each row names
    (results/search/{entry}.zarr), else by position (the CLI keeps the order of its inputs)."""
    if rows and all(row.get("path") for row in rows):
        keyed = {Path(str(row["path"]).rstrip("/")).stem: row for row in rows}
        if set(keyed) == set(entries):
            return {entry: keyed[entry] for entry in entries}
    if len(rows) != len(entries):
        raise ValueError(f"{len(rows)} rows for {len(entries)} search entries ({', '.join(entries)})")
    return dict(zip(entries, rows, strict=True))


def _fmt(value, digits: int = 2) -> str:
    value = _plain(value)
    return "n/a" if value is None else f"{value:.{digits}f}"


def table2_rows(summary: list[dict], entries: list[str], *, preset: str, store: str) -> list[dict]:
    """One row per entry: ``acc_at_budget`` as ``mean ± std``, ``cost_to_target_fte`` as the
    mean FTE over the seeds that reached the target (``(k/n)`` when not all did) or ``×``."""
    rows = []
    for entry, row in _by_entry(summary, entries).items():
        seeds, reached = int(row["num_seeds"]), int(row["num_reached"])
        cost = _plain(row.get("cost_at_target_mean"))
        if cost is None or reached == 0:
            cost_text = "×"
        else:
            cost_text = f"{cost:.2f}" + (f" ({reached}/{seeds})" if reached < seeds else "")
        one_shot = bool(row.get("one_shot"))
        acc_text = f"{_fmt(row['acc_at_budget_mean'])} ± {_fmt(row['acc_at_budget_std'])}"
        rows.append(
            {
                "entry": entry,
                "algorithm": row["algorithm"],
                # † the budget does not apply: the final model's accuracy, whatever it cost
                "acc_at_budget": f"{acc_text} {DAGGER}" if one_shot else acc_text,
                "cost_to_target_fte": cost_text,
                "num_seeds": seeds,
                "acc_at_budget_mean": _plain(row["acc_at_budget_mean"]),
                "acc_at_budget_std": _plain(row["acc_at_budget_std"]),
                "cost_at_target_mean": cost,
                "num_reached": reached,
                "budget_fte": _plain(row["budget_fte"]),
                "target": _plain(row["target"]),
                "evaluator": row["evaluator"],
                "store": "supernet on the training recipe; the chosen model's normal training"
                if one_shot
                else store,
                "preset": preset,
                # a one-shot method's own search cost (supernet training + projection), FTE
                "one_shot_fte": _plain(row.get("one_shot_fte_mean")) if one_shot else None,
            }
        )
    return rows


def hypervolume_rows(pareto: list[dict], entries: list[str]) -> list[dict]:
    """The normalised hypervolume of each multi-objective entry (mean ± std over its seeds)
    and the fixed reference point it is measured from."""
    rows = []
    for entry, row in _by_entry(pareto, entries).items():
        seeds = row.get("seeds") or []
        rows.append(
            {
                "entry": entry,
                "algorithm": row.get("algorithm"),
                "latency_device": row.get("latency_device"),
                "normalized_hypervolume_mean": _plain(row.get("normalized_hypervolume_mean")),
                "normalized_hypervolume_std": _plain(row.get("normalized_hypervolume_std")),
                "num_seeds": len(seeds),
                "true_hypervolume": _plain(row.get("true_hypervolume")),
                "reference_point": row.get("reference_point"),
            }
        )
    return rows


def load_trajectories(paths: list[str], entries: list[str]) -> dict[str, pd.DataFrame]:
    """Each entry's trajectories table (blox-search trajectories --csv), in entry order."""
    if len(paths) != len(entries):
        raise ValueError(f"{len(paths)} trajectory tables for {len(entries)} search entries")
    return {entry: pd.read_csv(path) for entry, path in zip(entries, paths, strict=True)}


def make_figures(
    *,
    summary,
    trajectories,
    entries,
    out_dir,
    preset,
    budget_fte,
    store=None,
    evaluator="benchmark",
    pareto=None,
    pareto_entries=(),
):
    """Draw Figure 5, write table2.csv and search.json into ``out_dir``; returns the facts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = list(entries)
    searched = store_label(store, evaluator)
    rows = json.loads(Path(summary).read_text())
    table2 = table2_rows(rows, entries, preset=preset, store=searched["label"])
    targets = {row["target"] for row in table2 if row["target"] is not None}
    target = targets.pop() if len(targets) == 1 else None
    title = f"{preset}: conventional NAS on the {searched['label']}; budget {budget_fte:g} FTE"
    figure5(
        load_trajectories(list(trajectories), entries),
        out_dir / "figure5.png",
        title=title,
        budget_fte=float(budget_fte),
        target=target,
        one_shot={row["entry"] for row in table2 if row["one_shot_fte"] is not None},
    )
    csv = pd.DataFrame(table2, columns=list(TABLE2_COLUMNS))
    tmp = out_dir / ".table2.csv.tmp"
    csv.to_csv(tmp, index=False)
    os.replace(tmp, out_dir / "table2.csv")
    facts = {
        "preset": preset,
        "evaluator": evaluator,
        "searched": searched,
        "budget_fte": float(budget_fte),
        "target": target,
        "title": title,
        "table2": table2,
        "hypervolume": hypervolume_rows(json.loads(Path(pareto).read_text()), list(pareto_entries))
        if pareto
        else [],
    }
    _write(out_dir / "search.json", json.dumps(facts, indent=2, default=str))
    return facts


def _from_snakemake(smk) -> None:  # pragma: no cover - exercised through the workflow tests
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
    make_figures(
        summary=smk.input.summary,
        trajectories=list(smk.input.trajectories),
        entries=smk.params.entries,
        out_dir=Path(smk.output.json).parent,
        preset=smk.params.preset,
        budget_fte=smk.params.budget_fte,
        store=smk.input.get("store"),
        evaluator=smk.params.evaluator,
        pareto=smk.input.get("pareto"),
        pareto_entries=smk.params.pareto_entries,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True, help="JSON of blox-search summary --json")
    parser.add_argument("--trajectories", nargs="+", required=True, help="CSV per entry, in entry order")
    parser.add_argument("--entries", nargs="+", required=True, help="entry names, in order")
    parser.add_argument("--store", default=None, help="the store searched (none: live)")
    parser.add_argument("--evaluator", default="benchmark")
    parser.add_argument("--pareto", default=None, help="JSON of blox-search pareto --json")
    parser.add_argument("--pareto-entries", nargs="*", default=[], help="the entries pareto.json is of")
    parser.add_argument("--budget-fte", type=float, required=True)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--preset", default="custom")
    args = parser.parse_args(argv)
    make_figures(
        summary=args.summary,
        trajectories=args.trajectories,
        entries=args.entries,
        out_dir=args.out_dir,
        preset=args.preset,
        budget_fte=args.budget_fte,
        store=args.store,
        evaluator=args.evaluator,
        pareto=args.pareto,
        pareto_entries=args.pareto_entries,
    )
    return 0


if "snakemake" in globals():
    _from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake's script directive
elif __name__ == "__main__":
    sys.exit(main())
