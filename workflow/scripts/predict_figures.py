"""Figure 10 of the paper for the `predict_figures` rule: Spearman's rho of every predictor against
the number of training models (mean over seeds with a t-interval, from the tables `blox-predict
evaluate` wrote, summarised by ``blox_predict.summarize_evaluation``), DONNA one line per
distillation epoch and LANA one per snapshot; each zero-cost proxy's rho on the same models
(``blox_predict.open_proxies`` against the target store); the surrogate store's held-out error
(``Benchmark.surrogate``). Writes the PNG and the numbers as JSON for the report page.

Run by Snakemake (``script:``) or by hand::

    python workflow/scripts/predict_figures.py --target results/finetune/M1-ft4.zarr \
        --evaluations results/predict/evaluate/*.csv --proxies results/predict/proxies.zarr \
        --surrogate results/predict/surrogate.zarr --out-dir results/report --preset quick

(No `from __future__` import: Snakemake prepends its own preamble to `script:` files.)
"""

import argparse
import json
import logging
import math
import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import blox_space as bs  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from blox_space.bench.correlation import spearman  # noqa: E402

logger = logging.getLogger("blox.report.predict")

#: Labels of the per-epoch / per-snapshot evaluation entries (donna-e2, lana-s1).
_STEP = re.compile(r"^(?P<base>.+)-(?P<kind>[es])(?P<value>\d+)$")


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


def _label(entry: str) -> str:
    """donna-e2 -> 'donna, distillation epoch 2'; lana-s1 -> 'lana, snapshot 1'."""
    match = _STEP.match(entry)
    if not match:
        return entry
    what = "distillation epoch" if match["kind"] == "e" else "snapshot"
    return f"{match['base']}, {what} {match['value']}"


def load_evaluations(paths: list[str]) -> pd.DataFrame:
    """Every evaluation table, one row per (predictor entry, train size, seed)."""
    tables = [pd.read_csv(p) for p in paths]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and t-interval per (predictor, train size) over the seeds that fitted."""
    from blox_predict import summarize_evaluation

    return summarize_evaluation(table)


def proxy_rhos(proxies: str, target: str, metric: str) -> list[dict]:
    """Spearman rho of each proxy against the target metric on the models both hold."""
    from blox_predict import open_proxies
    from blox_predict.data import training_data

    frame = open_proxies(proxies)
    models, y = training_data(target, metric=metric)
    joined = frame.join(pd.Series(y, index=pd.Index(models, name="model"), name="target"), how="inner")
    rows = []
    for name in frame.columns:
        part = joined[[name, "target"]].dropna()
        rho = spearman(part[name], part["target"]) if len(part) >= 2 else float("nan")
        rows.append({"proxy": name, "n": int(len(part)), "spearman": _plain(float(rho))})
    return rows


def figure10(summary: pd.DataFrame, path: Path, *, title: str, metric: str) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    entries = list(dict.fromkeys(summary["predictor"])) if len(summary) else []
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    families = list(dict.fromkeys((_STEP.match(e)["base"] if _STEP.match(e) else e) for e in entries))
    styles = ["-", "--", ":", "-."]
    for entry in entries:
        part = summary[summary["predictor"] == entry].sort_values("train_size")
        match = _STEP.match(entry)
        family = match["base"] if match else entry
        colour = colours[families.index(family) % len(colours)]
        step = int(match["value"]) if match else 1
        x = part["train_size"].to_numpy(dtype=float)
        mean = part["spearman_mean"].to_numpy(dtype=float)
        label = _label(entry) if np.isfinite(mean).any() else f"{_label(entry)} (no fit: too few models)"
        ax.plot(x, mean, marker="o", ms=4, color=colour, ls=styles[(step - 1) % len(styles)], label=label)
        # a t-interval over few seeds can pass ±1; rho cannot
        low = np.clip(part["spearman_low"].to_numpy(dtype=float), -1.0, 1.0)
        high = np.clip(part["spearman_high"].to_numpy(dtype=float), -1.0, 1.0)
        ok = np.isfinite(low) & np.isfinite(high)
        if ok.any():
            ax.fill_between(x[ok], low[ok], high[ok], color=colour, alpha=0.12)
    if not entries:
        ax.text(0.5, 0.5, "no predictor evaluated", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("number of training models")
    ax.set_ylabel(f"Spearman ρ, predicted vs measured {metric}")
    ax.set_title(title, fontsize=9)
    if entries:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _save(fig, path)


def make_figures(*, target, evaluations, out_dir, preset, metric, proxies=None, surrogate=None):
    """Draw Figure 10 into ``out_dir`` and write ``predict.json`` beside it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = load_evaluations(list(evaluations))
    summary = summarize(table) if len(table) else pd.DataFrame()
    bench = bs.open_benchmark(target, latency=[])
    models = bench.models
    what = f"{bench.kind} store {Path(target).stem}"
    if bench.kind == "finetune":
        teacher = bench.attrs["teacher"]
        what = f"FT{bench.attrs['ft_epochs']} accuracy of students of {teacher.get('name') or 'the teacher'}"
    title = f"{preset}: {what}, {len(models)} models, {bench.dataset}"
    figure10(summary, out_dir / "figure10.png", title=title, metric=metric)
    facts = {
        "preset": preset,
        "target": {"path": str(target), "kind": bench.kind, "models": int(len(models)), "metric": metric},
        "title": title,
        "summary": [{k: _plain(v) for k, v in row.items()} for row in summary.to_dict("records")],
        "failed": [
            {k: _plain(row[k]) for k in ("predictor", "train_size", "seed", "message")}
            for row in table[table["status"] != "ok"].to_dict("records")
        ]
        if len(table)
        else [],
        "proxies": proxy_rhos(proxies, target, metric) if proxies else None,
        "surrogate": None,
    }
    if surrogate:
        facts["surrogate"] = {"path": str(surrogate), **bs.open_benchmark(surrogate, latency=[]).surrogate}
    tmp = out_dir / ".predict.json.tmp"
    tmp.write_text(json.dumps(facts, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, out_dir / "predict.json")
    return facts


def _from_snakemake(smk) -> None:  # pragma: no cover - exercised through the workflow tests
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
    make_figures(
        target=smk.input.target,
        evaluations=list(smk.input.evaluations),
        out_dir=Path(smk.output.json).parent,
        preset=smk.params.preset,
        metric=smk.params.metric,
        proxies=smk.input.get("proxies"),
        surrogate=smk.input.get("surrogate"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="the store the predictors were scored on")
    parser.add_argument("--evaluations", nargs="*", default=[], help="CSV tables of blox-predict evaluate")
    parser.add_argument("--proxies", default=None, help="proxies store")
    parser.add_argument("--surrogate", default=None, help="surrogate store")
    parser.add_argument("--metric", default="best_val_acc")
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--preset", default="custom")
    args = parser.parse_args(argv)
    make_figures(
        target=args.target,
        evaluations=args.evaluations,
        out_dir=args.out_dir,
        preset=args.preset,
        metric=args.metric,
        proxies=args.proxies,
        surrogate=args.surrogate,
    )
    return 0


if "snakemake" in globals():
    _from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake's script directive
elif __name__ == "__main__":
    sys.exit(main())
