"""Report glue for the `report` rule: read the stores, draw the figures, write one HTML page.

The stores are read through blox-space's public API (``open_benchmark``, ``model_table``,
``open_latency``, ``latency_by_device``, ``pareto_front``); this script only lays out figures.

Run by Snakemake (``script:``) or by hand::

    python workflow/scripts/report.py --space results/space.zarr \
        --benchmark results/benchmark/quick.zarr --latency results/latency/cpu.zarr \
        --out-dir results/report

(No `from __future__` import: Snakemake prepends its own preamble to `script:` files.)
Every output is written to a temporary sibling first and renamed, so a killed run never leaves
a half-written figure behind.
"""

import argparse
import base64
import datetime as dt
import html
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import blox_space as bs  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from blox_space import pareto_front  # noqa: E402

logger = logging.getLogger("blox.report")


@dataclass(frozen=True)
class Outputs:
    html: Path
    summary: Path
    figure4: Path
    latency: Path


# ---------------------------------------------------------------------------------------
# reading the stores (through blox-space's public API)
# ---------------------------------------------------------------------------------------
def benchmark_table(bench: bs.Benchmark) -> pd.DataFrame:
    """One row per trained model: best validation and test top-1 (%), training seconds,
    params, MACs and the uniform-block flag.

    :func:`blox_space.model_table`: the mean over the seeds whose run is done, models with no
    finished run left out; params and MACs as the benchmark recorded them for the trained
    network (a preset's proxy width and resolution), else the space store's full-size network.
    """
    return bs.model_table(bench).reset_index().rename(columns={"flops": "macs"})


def device_latency(paths: list[str], models: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """One latency panel per device: its label and the seconds of each model.

    :func:`blox_space.latency_by_device` over the stores (:func:`blox_space.open_latency`):
    measured per-model values where a device has them, the lookup table's additive
    prediction for the other models. The label says how many of each and the measured
    network size, e.g. ``cpu-amd-epyc-fp32, width 8, 16 px (8 measured, 53 predicted)``.
    """
    sources = [bs.open_latency(path) for path in paths]
    panels = []
    for device, rows in bs.latency_by_device(sources, models).groupby("device", sort=True):
        # the network size of the measured store, else of the table
        attrs = next(
            source.attrs
            for kind in ("measured", "lut")
            for source in sources
            if source.device == device and source.source == kind
        )
        label = device
        if "width" in attrs and "resolution" in attrs:
            label += f", width {attrs['width']}, {attrs['resolution']} px"
        counts = rows["source"].value_counts()
        words = {"measured": "measured", "lut": "predicted"}
        label += " (" + ", ".join(f"{counts[k]} {w}" for k, w in words.items() if counts.get(k, 0)) + ")"
        panels.append((label, rows["latency_s"].to_numpy()))
    return panels


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------
def _save(fig: plt.Figure, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def plot_summary(table: pd.DataFrame, path: Path, *, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = np.arange(0.0, 1.0 + 1e-9, 0.02)  # fractions; the axis is in percent
    ax.hist(table["val_acc"], bins=100 * bins, alpha=0.75, label="best validation top-1")
    if "test_acc" in table and np.isfinite(table["test_acc"]).any():
        ax.hist(table["test_acc"].dropna(), bins=100 * bins, alpha=0.5, label="test top-1")
    ax.set_xlabel("accuracy (%)")
    ax.set_ylabel("models")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)


def _pareto_panel(ax: plt.Axes, table: pd.DataFrame, cost: str, label: str) -> None:
    acc = table["val_acc"].to_numpy()
    x = table[cost].to_numpy(dtype=float) / 1e6
    uniform = table["is_uniform"].to_numpy(dtype=bool)
    ax.scatter(x[~uniform], acc[~uniform], s=8, alpha=0.5, color="tab:blue", label="macro models")
    ax.scatter(x[uniform], acc[uniform], s=18, color="tab:orange", label="uniform-block models")
    if uniform.any():
        idx = np.flatnonzero(uniform)
        ufront = idx[pareto_front(x[idx], acc[idx])]
        ax.step(
            x[ufront],
            acc[ufront],
            where="post",
            color="tab:orange",
            lw=3,
            alpha=0.6,
            label="Pareto front, uniform",
        )
    # The macro front is over every model; dashed and on top, so it stays visible where the
    # uniform-block models are on it too.
    front = pareto_front(x, acc)
    ax.step(
        x[front],
        acc[front],
        where="post",
        color="tab:blue",
        ls="--",
        zorder=5,
        label="Pareto front, all macro models",
    )
    ax.set_xlabel(f"{label} (millions)")
    ax.set_ylabel("best validation top-1 (%)")


def plot_figure4(table: pd.DataFrame, path: Path, *, title: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    _pareto_panel(axes[0], table, "macs", "MACs")
    _pareto_panel(axes[1], table, "params", "parameters")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    _save(fig, path)


def plot_latency(panels: list[tuple[str, np.ndarray, np.ndarray]], path: Path, *, title: str) -> None:
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)), 4), squeeze=False)
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no latency stage in this preset", ha="center", va="center")
        axes[0, 0].set_axis_off()
    for ax, (device, latency_s, acc) in zip(axes[0], panels):
        ok = np.isfinite(latency_s) & np.isfinite(acc)
        ms, pct = 1e3 * latency_s[ok], acc[ok]
        ax.scatter(ms, pct, s=8, alpha=0.6)
        front = pareto_front(ms, pct)
        ax.step(ms[front], pct[front], where="post", color="tab:red", label="Pareto front")
        ax.set_xlabel(f"latency on {device}; ms at batch 1")
        ax.set_ylabel("best validation top-1 (%)")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, path)


# ---------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------
def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


BLOCKWISE_FIGURES = {
    "figure7": "Figure 7: fine-tuned accuracy, students × teachers",
    "figure8": "Figure 8: fine-tuned vs normal accuracy per teacher",
    "figure9": "Figure 9: signatures vs the oracle block ranking",
    "figure11": "Figure 11: agreement across FT lengths and teachers",
}


def _blockwise_section(blockwise: Path | None) -> str:
    """The blockwise figures (drawn by blockwise_figures.py beside its JSON) and their rhos."""
    if blockwise is None:
        return ""
    facts = json.loads(blockwise.read_text())
    teachers = ", ".join(f"{name} = model {model}" for name, model in facts["teachers"].items())
    parts = [
        "<h2>Blockwise distillation and fine-tuning</h2>",
        f"<p>Preset {html.escape(facts['preset'])}, dataset {html.escape(facts['dataset'])}; "
        f"teachers {html.escape(teachers)}; {facts['students']} students; FT lengths "
        f"{html.escape(', '.join(str(x) for x in facts['ft_epochs']))} epochs. Accuracy = best "
        "validation top-1 (%).</p>",
    ]
    rhos = facts["figure8"]["spearman"]
    parts.append(
        "<p>Spearman ρ, FT vs normal accuracy: "
        + html.escape(", ".join(f"{t} {_fmt(r) if r is not None else 'n/a'}" for t, r in rhos.items()))
        + "</p>"
    )
    for name, caption in BLOCKWISE_FIGURES.items():
        parts.append(f"<h3>{html.escape(caption)}</h3>{_img(blockwise.parent / f'{name}.png', caption)}")
    return "\n".join(parts)


def _table(rows: list[dict], cols: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_fmt(r.get(c)) if r.get(c) is not None else 'n/a')}</td>" for c in cols)
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _predict_section(predict: Path | None) -> str:
    """Figure 10 (drawn by predict_figures.py beside its JSON), the proxies' rho and the
    surrogate's held-out error."""
    if predict is None:
        return ""
    facts = json.loads(predict.read_text())
    target = facts["target"]
    parts = [
        "<h2>Predictors of end-to-end accuracy</h2>",
        f"<p>Target: {html.escape(target['kind'])} store {html.escape(Path(target['path']).name)}, "
        f"{target['models']} measured models, metric {html.escape(target['metric'])}. Each predictor is "
        "trained on N of them (seeded draws) and scored on all the others.</p>",
        f"<h3>Figure 10: Spearman ρ vs number of training models</h3>{_img(predict.parent / 'figure10.png', 'figure 10')}",
    ]
    if facts["summary"]:
        cols = (
            "predictor",
            "train_size",
            "spearman_mean",
            "spearman_low",
            "spearman_high",
            "kendall_mean",
            "n_seeds",
        )
        parts.append(_table(facts["summary"], cols))
    if facts["failed"]:
        parts.append(
            f"<p>{len(facts['failed'])} fits failed (shown as gaps), e.g. "
            f"{html.escape(str(facts['failed'][0]['predictor']))} at {facts['failed'][0]['train_size']} models: "
            f"{html.escape(str(facts['failed'][0]['message']))}</p>"
        )
    if facts.get("proxies"):
        parts.append("<h3>Zero-cost proxies: Spearman ρ against the target (no training)</h3>")
        parts.append(_table(facts["proxies"], ("proxy", "n", "spearman")))
    surrogate = facts.get("surrogate")
    if surrogate:
        error = surrogate.get("heldout_error") or {}
        predictor = surrogate.get("predictor", {})
        parts.append(
            "<h3>Surrogate benchmark</h3>"
            f"<p>{html.escape(Path(surrogate['path']).name)}: {surrogate['num_measured']} measured and "
            f"{surrogate['num_predicted']} predicted models ({html.escape(str(surrogate['target_metric']))}), "
            f"an ensemble of {surrogate['ensemble_size']} × {html.escape(str(predictor.get('name')))}. "
            + (
                f"Held-out error on {error['n']} measured models it did not train on: Spearman "
                f"{_fmt(error.get('spearman')) if error.get('spearman') is not None else 'n/a'}, Kendall "
                f"{_fmt(error.get('kendall')) if error.get('kendall') is not None else 'n/a'}, MAE "
                f"{_fmt(error.get('mae'))}, RMSE {_fmt(error.get('rmse'))}.</p>"
                if error
                else "It trained on every measured model (no held-out error).</p>"
            )
        )
    return "\n".join(parts)


def _search_section(search: Path | None) -> str:
    """Figure 5 and Table 2's conventional rows (drawn and written by search_figures.py beside
    its JSON), a link to the CSV, and the multi-objective entries' normalised hypervolumes; each
    names the preset and the store searched."""
    if search is None:
        return ""
    facts = json.loads(search.read_text())
    searched = facts["searched"]["label"]
    target = facts.get("target")
    where = f"preset {html.escape(facts['preset'])}, searched: {html.escape(searched)}"
    parts = [
        "<h2>Conventional NAS</h2>",
        f"<p>{where}. Every algorithm entry runs once per search seed with a budget of "
        f"{_fmt(float(facts['budget_fte']))} FTE (one FTE = one normal training of the reference recipe); the "
        "incumbent is the model with the best validation accuracy so far, and what is reported of it is "
        "its test top-1 (%).</p>",
        f"<h3>Figure 5: incumbent accuracy vs search cost ({where})</h3>"
        f"{_img(search.parent / 'figure5.png', 'figure 5')}",
        f"<h3>Table 2, conventional rows ({where})</h3>",
        "<p>Accuracy of the incumbent at the budget (mean ± std over the seeds) and the cost in FTE at "
        "which the incumbent first reaches the target "
        + (f"{_fmt(float(target))} %" if target is not None else "(per row)")
        + " (the mean over the seeds that reached it, (k/n) when not all did; × when none did within the "
        'budget). <a href="table2.csv">table2.csv</a></p>',
    ]
    rows = [
        {
            "algorithm": row["entry"]
            if row["entry"] == row["algorithm"]
            else f"{row['entry']} ({row['algorithm']})",
            f"acc at {_fmt(float(facts['budget_fte']))} FTE (%)": row["acc_at_budget"],
            "cost to target (FTE)": row["cost_to_target_fte"],
            "seeds": row["num_seeds"],
        }
        for row in facts["table2"]
    ]
    if rows:
        parts.append(_table(rows, tuple(rows[0])))
    for row in facts["table2"]:
        if row.get("one_shot_fte") is not None:  # DARTS-PT
            parts.append(
                f"<p>† {html.escape(str(row['entry']))} is a differentiable (one-shot) NAS method: the cost "
                "budget does not apply. Its accuracy is that of the one model its projection chose (from the "
                "trained benchmark when the model is there, else trained normally), and its own search cost, "
                f"supernet training and projection, is {_fmt(float(row['one_shot_fte']))} FTE (mean over "
                f"{row['num_seeds']} seeds; the chosen model's training comes on top).</p>"
            )
    for row in facts.get("hypervolume", []):
        ref = row.get("reference_point") or {}
        mean, std = row.get("normalized_hypervolume_mean"), row.get("normalized_hypervolume_std")
        parts.append(
            f"<p>Multi-objective ({where}): {html.escape(str(row['entry']))} searches accuracy × latency on "
            f"{html.escape(str(row.get('latency_device')))}; the hypervolume of its front normalised by the true "
            f"front's is {_fmt(mean) if mean is not None else 'n/a'} ± {_fmt(std) if std is not None else 'n/a'} "
            f"over {row['num_seeds']} seeds (reference point: test top-1 "
            f"{_fmt(ref.get('reported_metric'))} %, latency "
            + (f"{1e3 * float(ref['latency_s']):.3g} ms" if ref.get("latency_s") is not None else "n/a")
            + ").</p>"
        )
    return "\n".join(parts)


def _ms(seconds) -> float | None:
    return None if seconds is None else 1e3 * float(seconds)


def _pm(mean, std) -> str:
    return " ± ".join("n/a" if v is None else f"{v:.3f}" for v in (mean, std))


def _blockwise_search_section(path: Path | None) -> str:
    """Table 2 with every row, grouped like the paper, Figures 12-13 and the latency-aware
    entries' normalised hypervolumes (drawn and written by blockwise_search_figures.py beside
    its JSON), with the cost model's FTE definition and what each figure misses."""
    if path is None:
        return ""
    facts = json.loads(path.read_text())
    rows, preset = facts["table2"], html.escape(facts["preset"])
    budgets, targets = {r["budget_fte"] for r in rows}, {r["target"] for r in rows}
    cols = {"label": "Method"}
    cols["acc_at_budget"] = (
        f"Acc. @ cost={budgets.pop():g} FTE (%)" if len(budgets) == 1 else "Acc. @ budget (%)"
    )
    one_target = len(targets) == 1 and None not in targets
    cols["cost_to_target_fte"] = (
        f"Cost @ acc.={targets.pop():.2f} % (FTE)" if one_target else "Cost @ target (FTE)"
    )
    cols["num_seeds"] = "seeds"
    cols.update({"budget_fte": "budget (FTE)"} if budgets else {})  # more than one budget
    cols.update({"target": "target (%)"} if not one_target else {})
    cols.update({"note": "note"} if any(r.get("note") for r in rows) else {})
    body, section = [], None
    for row in rows:
        if row["section"] != section:
            section = row["section"]
            body.append(f'<tr><th colspan="{len(cols)}">{html.escape(section)}</th></tr>')
        cells = (row.get(c) for c in cols)
        body.append(
            "<tr>" + "".join(f"<td>{html.escape('' if v is None else _fmt(v))}</td>" for v in cells) + "</tr>"
        )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols.values())
    teachers = ", ".join(f"{n} ({t['selector']}, {t['role']})" for n, t in facts["teachers"].items())
    parts = [
        "<h2>Blockwise NAS</h2>",
        f"<p>Preset {preset}; {html.escape(facts['searched'])}; teachers {html.escape(teachers)}; budget "
        f"{facts['budget_fte']:g} FTE; the two-phase searches switch from the short to the long FT length at "
        f"{facts['phase_one_fte']:g} FTE. Cost model: {html.escape(facts['cost_model']['definition'])}.</p>",
        f"<h3>Table 2 (preset {preset})</h3>",
        "<p>The incumbent's test top-1 at the budget and the cost at which it first reaches the target, both "
        "mean ± std over the search seeds ((k/n) when only k of n seeds reached it; × when none did within "
        'the budget). <a href="table2_blockwise.csv">table2_blockwise.csv</a></p>',
        f"<table><tr>{head}</tr>{''.join(body)}</table>",
    ]
    for name, figure in facts["figures"].items():
        parts.append(f"<h3>{html.escape(figure['title'])}</h3>{_img(path.parent / f'{name}.png', name)}")
        if figure.get("missing"):
            parts.append(f"<p>Not searched, so not drawn: {html.escape('; '.join(figure['missing']))}.</p>")
    hv = [
        {
            "method": f"{row['label']} ({row['entry']})",
            "device": row.get("latency_device"),
            "normalised hypervolume": _pm(
                row["normalized_hypervolume_mean"], row["normalized_hypervolume_std"]
            ),
            "seeds": row["num_seeds"],
            "reference: test top-1 (%)": (row.get("reference_point") or {}).get("reported_metric"),
            "reference: latency (ms)": _ms((row.get("reference_point") or {}).get("latency_s")),
        }
        for row in facts.get("hypervolume", [])
    ]
    if hv:
        parts.append(
            f"<h3>Latency-aware blockwise NAS (preset {preset}): the hypervolume of each seed's accuracy × "
            "latency front, normalised by the true front's (mean ± std over the seeds)</h3>"
        )
        parts.append(_table(hv, tuple(hv[0])))
    return "\n".join(parts)


def write_html(
    path: Path,
    *,
    facts: dict[str, str],
    outputs: Outputs,
    validation: list[dict],
    blockwise: Path | None = None,
    predict: Path | None = None,
    search: Path | None = None,
    blockwise_search: Path | None = None,
) -> None:
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items()
    )
    checks = ""
    if validation:
        cols = ("device", "n", "spearman", "kendall", "mape")
        head = "".join(f"<th>{c}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(v.get(c)))}</td>" for c in cols) + "</tr>"
            for v in validation
        )
        checks = (
            "<h2>Latency lookup table vs end-to-end measurement</h2>"
            "<p>Rank correlation and mean absolute percentage error (%) of the additive prediction "
            f"on a seeded sample of models.</p><table><tr>{head}</tr>{body}</table>"
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Blox benchmark report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}img{{max-width:100%}}
th{{text-align:left;padding-right:1em}}</style></head><body>
<h1>Blox benchmark report — preset {html.escape(facts["preset"])}</h1>
<table>{rows}</table>
<h2>Accuracy distribution</h2>{_img(outputs.summary, "accuracy distribution")}
<h2>Figure 4: accuracy vs MACs and parameters, Pareto fronts</h2>{_img(outputs.figure4, "figure 4")}
<h2>Latency vs accuracy per device</h2>{_img(outputs.latency, "latency vs accuracy")}
{checks}
{_blockwise_section(blockwise)}
{_predict_section(predict)}
{_search_section(search)}
{_blockwise_search_section(blockwise_search)}
</body></html>
"""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)


def make_report(
    *,
    space: str,
    benchmark: str,
    latency: list[str],
    validation: list[str],
    outputs: Outputs,
    preset: str,
    recipe: str,
    source: str,
    blockwise: str | None = None,
    predict: str | None = None,
    search: str | None = None,
    blockwise_search: str | None = None,
) -> dict[str, str]:
    """Render every output of the report; returns the summary facts shown on the page."""
    for out in (outputs.html, outputs.summary, outputs.figure4, outputs.latency):
        out.parent.mkdir(parents=True, exist_ok=True)
    bench = bs.open_benchmark(benchmark, space=space)
    table = benchmark_table(bench)
    settings = bench.recipe  # the recipe's canonical form, as the store recorded it
    recipe = str(settings.get("name", recipe))
    acc = table["val_acc"]
    facts = {
        "preset": preset,
        "benchmark source": source,
        "recipe": f"{recipe} (recipe id {bench.recipe_id})",
        "recipe settings": json.dumps(settings, sort_keys=True),
        "dataset": bench.dataset,
        "models trained": f"{len(table)} of {len(bench)} in the store",
        "seeds": str(len(bench.seeds)),
        "epochs": str(bench.epochs),
        "best validation top-1 (%)": (
            f"min {acc.min():.2f} / median {acc.median():.2f} / max {acc.max():.2f}" if len(table) else "none"
        ),
        "uniform-block models trained": str(int(table["is_uniform"].sum())),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if "train_seconds" in table:
        facts["train seconds per model (median)"] = f"{table['train_seconds'].median():.1f}"
    title = f"{preset}: recipe {recipe}, {facts['dataset']}, {len(table)} models"
    plot_summary(table, outputs.summary, title=title)
    plot_figure4(table, outputs.figure4, title=title)
    models = table["model"].to_numpy()
    panels = [
        (label, values, table["val_acc"].to_numpy()) for label, values in device_latency(latency, models)
    ]
    plot_latency(panels, outputs.latency, title=title)
    checks = [json.loads(Path(p).read_text()) for p in validation]
    write_html(
        outputs.html,
        facts=facts,
        outputs=outputs,
        validation=checks,
        blockwise=Path(blockwise) if blockwise else None,
        predict=Path(predict) if predict else None,
        search=Path(search) if search else None,
        blockwise_search=Path(blockwise_search) if blockwise_search else None,
    )
    return facts


def _from_snakemake(smk) -> None:  # pragma: no cover - exercised through the workflow tests
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
    make_report(
        space=smk.input.space,
        benchmark=smk.input.benchmark,
        latency=list(smk.input.get("latency", [])),
        validation=list(smk.input.get("validation", [])),
        outputs=Outputs(*(Path(smk.output[k]) for k in ("html", "summary", "figure4", "latency"))),
        preset=smk.params.preset,
        recipe=smk.params.recipe,
        source=smk.params.source,
        blockwise=smk.input.get("blockwise"),
        predict=smk.input.get("predict"),
        search=smk.input.get("search"),
        blockwise_search=smk.input.get("blockwise_search"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", required=True)
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--latency", nargs="*", default=[])
    parser.add_argument("--validation", nargs="*", default=[])
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--preset", default="custom")
    parser.add_argument("--recipe", default="unknown")
    parser.add_argument("--source", default="train")
    parser.add_argument("--blockwise", default=None, help="blockwise.json of blockwise_figures.py")
    parser.add_argument("--predict", default=None, help="predict.json of predict_figures.py")
    parser.add_argument("--search", default=None, help="search.json of search_figures.py")
    parser.add_argument(
        "--blockwise-search", default=None, help="blockwise_search.json of blockwise_search_figures.py"
    )
    args = parser.parse_args(argv)
    out = args.out_dir
    make_report(
        space=args.space,
        benchmark=args.benchmark,
        latency=args.latency,
        validation=args.validation,
        outputs=Outputs(out / "index.html", out / "summary.png", out / "figure4.png", out / "latency.png"),
        preset=args.preset,
        recipe=args.recipe,
        source=args.source,
        blockwise=args.blockwise,
        predict=args.predict,
        search=args.search,
        blockwise_search=args.blockwise_search,
    )
    return 0


if "snakemake" in globals():
    _from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake's script directive
elif __name__ == "__main__":
    sys.exit(main())
