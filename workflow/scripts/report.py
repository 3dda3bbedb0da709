"""Report glue for the `report` rule: read the stores, draw the figures, write one HTML page.

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
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

logger = logging.getLogger("blox.report")


@dataclass(frozen=True)
class Outputs:
    html: Path
    summary: Path
    figure4: Path
    latency: Path


# ---------------------------------------------------------------------------------------
# reading the stores
# ---------------------------------------------------------------------------------------
def open_store(path: str | os.PathLike) -> xr.Dataset:
    """Any Blox store as an xarray Dataset (consolidated metadata when present)."""
    try:
        return xr.open_zarr(path, consolidated=True)
    except (KeyError, ValueError, FileNotFoundError):
        return xr.open_zarr(path, consolidated=False)


def percent(values: xr.DataArray) -> xr.DataArray:
    """Accuracy in percent whatever the store's units ("%" or the fraction "1")."""
    return values if values.attrs.get("units") == "%" else 100 * values


def per_model(values: xr.DataArray, done: xr.DataArray | None) -> np.ndarray:
    """Mean over seeds of the finished runs (NaN where no run of the model finished)."""
    if done is not None:
        values = values.where(done)
    if "seed" in values.dims:
        values = values.mean("seed", skipna=True)
    return values.values


def benchmark_table(bench: xr.Dataset) -> pd.DataFrame:
    """One row per trained model: best validation and test top-1 (%), mean over seeds.

    Only finished runs count (``status`` = done where the store has it).
    """
    done = None
    if "status" in bench:
        flags = dict(
            zip(
                bench["status"].attrs.get("flag_meanings", "").split(),
                bench["status"].attrs.get("flag_values", []),
            )
        )
        done = bench["status"] == flags.get("done", 1)
    if "best_val_acc" in bench:
        best_val = percent(bench["best_val_acc"])
    else:
        best_val = percent(bench["val_acc"]).max("epoch", skipna=True)
    table = pd.DataFrame(
        {"model": bench["model"].values.astype(np.int64), "val_acc": per_model(best_val, done)}
    )
    if "test_acc" in bench:
        table["test_acc"] = per_model(percent(bench["test_acc"]), done)
    if "train_seconds" in bench:
        table["train_seconds"] = per_model(bench["train_seconds"], done)
    return table[np.isfinite(table["val_acc"])].reset_index(drop=True)


def with_costs(table: pd.DataFrame, space: xr.Dataset, bench: xr.Dataset) -> pd.DataFrame:
    """Add params, MACs and the uniform-block flag of each model.

    Costs are those the benchmark recorded for the trained network (a preset's proxy width and
    resolution), falling back to the space store's full-size network where none was recorded.
    """
    models = table["model"].to_numpy()
    rows = space[["params", "macs", "is_uniform"]].sel(model=models)
    costs = {}
    for name in ("params", "macs"):
        values = rows[name].values
        if name in bench:
            recorded = bench[name].sel(model=models).values
            values = np.where(recorded >= 0, recorded, values)
        costs[name] = values
    return table.assign(**costs, is_uniform=rows["is_uniform"].values)


def device_latency(paths: list[str], models: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """One latency panel per device: its label and the seconds of each model.

    Stores are read with :func:`blox_space.open_latency`: measured per-model values where a
    device has them, the lookup table's additive prediction (``blox_space.additive_latency``)
    for the other models. The label says how many of each and the measured network size,
    e.g. ``cpu-amd-epyc-fp32, width 8, 16 px (8 measured, 53 predicted)``.
    """
    import blox_space as bs

    by_device: dict[str, dict[str, object]] = {}
    for path in paths:
        source = bs.open_latency(path)
        by_device.setdefault(source.device, {})[source.source] = source
    panels = []
    for device, sources in sorted(by_device.items()):
        values = np.full(len(models), np.nan)
        counts = {}
        for kind in ("measured", "lut"):  # measured first; the table fills the gaps
            if kind in sources:
                fill = ~np.isfinite(values)
                values[fill] = sources[kind].values(models[fill])
                counts[kind] = int(np.isfinite(values[fill]).sum())
        attrs = sources.get("measured", sources.get("lut")).attrs
        label = device
        if "width" in attrs and "resolution" in attrs:
            label += f", width {attrs['width']}, {attrs['resolution']} px"
        words = {"measured": "measured", "lut": "predicted"}
        label += " (" + ", ".join(f"{n} {words[k]}" for k, n in counts.items() if n) + ")"
        panels.append((label, values))
    return panels


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------
def pareto_front(cost: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Positions of the Pareto-optimal points (no other point is cheaper and more accurate),
    ordered by increasing cost."""
    order = np.lexsort((-acc, cost))
    front, best = [], -np.inf
    for position in order:
        if acc[position] > best:
            front.append(position)
            best = acc[position]
    return np.asarray(front, dtype=np.int64)


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


def write_html(path: Path, *, facts: dict[str, str], outputs: Outputs, validation: list[dict]) -> None:
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
) -> dict[str, str]:
    """Render every output of the report; returns the summary facts shown on the page."""
    for out in (outputs.html, outputs.summary, outputs.figure4, outputs.latency):
        out.parent.mkdir(parents=True, exist_ok=True)
    space_ds = open_store(space)
    bench = open_store(benchmark)
    table = with_costs(benchmark_table(bench), space_ds, bench)
    attrs = bench.attrs
    settings = attrs.get("recipe")  # the recipe's canonical form, as the store recorded it
    if isinstance(settings, dict):
        recipe = str(settings.get("name", recipe))
    acc = table["val_acc"]
    facts = {
        "preset": preset,
        "benchmark source": source,
        "recipe": f"{recipe} (recipe id {attrs.get('recipe_id', 'unknown')})",
        "recipe settings": json.dumps(settings, sort_keys=True)
        if isinstance(settings, dict)
        else "not recorded",
        "dataset": str(attrs.get("dataset", "unknown")),
        "models trained": f"{len(table)} of {bench.sizes.get('model', len(table))} in the store",
        "seeds": str(bench.sizes.get("seed", 1)),
        "epochs": str(attrs.get("epochs", bench.sizes.get("epoch", "unknown"))),
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
    write_html(outputs.html, facts=facts, outputs=outputs, validation=checks)
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
    )
    return 0


if "snakemake" in globals():
    _from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake's script directive
elif __name__ == "__main__":
    sys.exit(main())
