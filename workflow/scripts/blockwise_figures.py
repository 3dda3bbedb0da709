"""Figures of the blockwise experiments (paper Figures 7, 8, 9 and 11) for the `blockwise_figures`
rule: read the benchmark, blockwise and finetune stores through blox-space's public API
(``open_benchmark``, ``model_table``, ``open_blockwise``, ``spearman``, ``block_oracle``,
``signature_rho``), draw, and write the numbers behind the figures as JSON for the report page.

Accuracy everywhere is the best validation top-1 (%, seed mean), the metric the teachers are
ranked by; "FT" is fine-tuned accuracy, "normal" the benchmark's.

Run by Snakemake (``script:``) or by hand::

    python workflow/scripts/blockwise_figures.py --benchmark results/benchmark/quick.zarr \
        --selection results/blockwise/selection.json --teachers M1 M5 --ft 2 4 \
        --blockwise results/blockwise/M1.zarr results/blockwise/M5.zarr \
        --finetune results/finetune/M1-ft2.zarr results/finetune/M1-ft4.zarr ... \
        --out-dir results/report --preset quick

(No `from __future__` import: Snakemake prepends its own preamble to `script:` files.)
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import blox_space as bs  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from blox_space.bench.correlation import block_oracle, signature_rho, spearman  # noqa: E402

logger = logging.getLogger("blox.report.blockwise")

FIGURES = ("figure7", "figure8", "figure9", "figure11")


def _save(fig: plt.Figure, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def _accuracy(path: str) -> pd.Series:
    """Best validation top-1 per model (seed mean, finished runs only)."""
    return bs.model_table(bs.open_benchmark(path))["val_acc"]


def _rho_text(rho: float) -> str:
    return "ρ n/a" if np.isnan(rho) else f"ρ = {rho:.2f}"


def load(benchmark, selection, teachers, ft, blockwise, finetune):
    """Everything the figures need, as plain tables (one place that reads the stores)."""
    chosen = json.loads(Path(selection).read_text())
    normal = _accuracy(benchmark)
    ft_acc = {}
    for i, name in enumerate(teachers):
        for j, length in enumerate(ft):
            ft_acc[name, length] = _accuracy(finetune[i * len(ft) + j])
    signatures = {name: bs.open_blockwise(path) for name, path in zip(teachers, blockwise, strict=True)}
    return {
        "teacher_models": {name: int(chosen["teachers"][name]) for name in teachers},
        "students": np.asarray(chosen["models"], dtype=np.int64),
        "normal": normal,
        "ft": ft_acc,
        "signatures": signatures,
    }


def figure7(data, teachers, longest, path, title):
    """Student × teacher matrix of FT accuracy at the longest FT length; the students are the
    teachers themselves, labelled with their normal accuracy."""
    models = data["teacher_models"]
    matrix = np.full((len(teachers), len(teachers)), np.nan)
    for col, teacher in enumerate(teachers):
        acc = data["ft"][teacher, longest]
        for row, student in enumerate(teachers):
            matrix[row, col] = acc.get(models[student], np.nan)
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(teachers), 1.2 + 0.9 * len(teachers)))
    image = ax.imshow(matrix, cmap="viridis")
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, "–" if np.isnan(value) else f"{value:.1f}", ha="center", va="center", color="w")
    ax.set_xticks(range(len(teachers)), [f"{t}" for t in teachers])
    normal = data["normal"]
    ax.set_yticks(
        range(len(teachers)),
        [f"{s} ({normal.get(models[s], np.nan):.1f}%)" for s in teachers],
    )
    ax.set_xlabel("teacher")
    ax.set_ylabel("student (normal accuracy)")
    fig.colorbar(image, ax=ax, label=f"FT{longest} accuracy (%)")
    ax.set_title(title, fontsize=9)
    _save(fig, path)
    return {
        "students": list(teachers),
        "teachers": list(teachers),
        "ft_epochs": longest,
        "accuracy": [[None if np.isnan(v) else float(v) for v in row] for row in matrix],
    }


def figure8(data, teachers, longest, path, title):
    """FT accuracy against normal accuracy of every student, one panel per teacher."""
    normal = data["normal"]
    fig, axes = plt.subplots(1, len(teachers), figsize=(4.2 * len(teachers), 4), squeeze=False)
    rhos = {}
    for ax, teacher in zip(axes[0], teachers, strict=True):
        ft = data["ft"][teacher, longest]
        joined = pd.concat({"normal": normal, "ft": ft}, axis=1, join="inner").dropna()
        rho = spearman(joined["normal"], joined["ft"])
        rhos[teacher] = None if np.isnan(rho) else rho
        ax.scatter(joined["normal"], joined["ft"], s=10, alpha=0.7)
        both = np.concatenate([joined["normal"], joined["ft"]]) if len(joined) else np.array([0.0, 100.0])
        lo, hi = float(both.min()) - 1, float(both.max()) + 1
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, label="y = x")
        teacher_acc = normal.get(data["teacher_models"][teacher], np.nan)
        if np.isfinite(teacher_acc):
            ax.axvline(teacher_acc, color="tab:red", ls="--", lw=0.8, label="teacher accuracy")
            ax.axhline(teacher_acc, color="tab:red", ls="--", lw=0.8)
        ax.set_title(f"teacher {teacher}: {_rho_text(rho)} (n = {len(joined)})", fontsize=9)
        ax.set_xlabel("normal accuracy (%)")
        ax.set_ylabel(f"FT{longest} accuracy (%)")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
    return {"ft_epochs": longest, "spearman": rhos}


def figure9(data, teachers, longest, path, title):
    """Spearman rho between each signature and the oracle block ranking, per stage and teacher;
    the oracle of a block is the best normal (or FT) accuracy of a student containing it."""
    students = data["students"]
    normal_oracle = block_oracle(students, data["normal"].reindex(students).to_numpy())
    rows = []
    for teacher in teachers:
        sig = data["signatures"][teacher]
        ft_oracle = block_oracle(students, data["ft"][teacher, longest].reindex(students).to_numpy())
        for kind, values in (("donna", sig.donna()), ("lana", sig.lana())):
            for oracle_name, oracle in (("normal", normal_oracle), (f"FT{longest}", ft_oracle)):
                for stage, rho in enumerate(signature_rho(values, oracle, kind=kind)):
                    rows.append((teacher, stage, kind, oracle_name, rho))
    table = pd.DataFrame(rows, columns=["teacher", "stage", "signature", "oracle", "rho"])
    fig, axes = plt.subplots(1, len(teachers), figsize=(4.5 * len(teachers), 3.6), squeeze=False)
    combos = table[["signature", "oracle"]].drop_duplicates().itertuples(index=False)
    combos = list(combos)
    width = 0.8 / max(1, len(combos))
    for ax, teacher in zip(axes[0], teachers, strict=True):
        part = table[table["teacher"] == teacher]
        for k, (kind, oracle_name) in enumerate(combos):
            sel = part[(part["signature"] == kind) & (part["oracle"] == oracle_name)]
            ax.bar(
                sel["stage"] + (k - (len(combos) - 1) / 2) * width,
                sel["rho"].fillna(0.0),
                width,
                label=f"{kind.upper()} vs {oracle_name} oracle",
            )
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xticks(range(bs.NUM_STAGES), [f"stage {s}" for s in range(bs.NUM_STAGES)])
        ax.set_ylim(-1, 1)
        ax.set_ylabel("Spearman ρ")
        ax.set_title(f"teacher {teacher}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
    return {
        "rows": [
            {**row, "rho": None if np.isnan(row["rho"]) else float(row["rho"])}
            for row in table.to_dict("records")
        ]
    }


def figure11(data, teachers, ft, path, title):
    """Left: FT-short vs FT-long accuracy under the first teacher (M1); right: first vs last
    teacher (M1 vs M5) at the longest FT length."""
    first, last = teachers[0], teachers[-1]
    short, longest = min(ft), max(ft)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    facts = {}
    pairs = (
        (axes[0], data["ft"][first, short], data["ft"][first, longest], f"FT{short}", f"FT{longest}", first),
        (axes[1], data["ft"][first, longest], data["ft"][last, longest], first, last, f"FT{longest}"),
    )
    for ax, a, b, xlabel, ylabel, what in pairs:
        joined = pd.concat({"a": a, "b": b}, axis=1, join="inner").dropna()
        same = xlabel == ylabel
        rho = float("nan") if same else spearman(joined["a"], joined["b"])
        facts[f"{xlabel} vs {ylabel} ({what})"] = None if np.isnan(rho) else rho
        ax.scatter(joined["a"], joined["b"], s=10, alpha=0.7)
        note = " (one FT length / one teacher only)" if same else ""
        ax.set_title(f"{xlabel} vs {ylabel}, {what}: {_rho_text(rho)}{note}", fontsize=9)
        ax.set_xlabel(f"{xlabel} accuracy (%)")
        ax.set_ylabel(f"{ylabel} accuracy (%)")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
    return {"spearman": facts}


def make_figures(*, benchmark, selection, teachers, ft, blockwise, finetune, out_dir, preset):
    """Draw Figures 7, 8, 9 and 11 into ``out_dir`` and write ``blockwise.json`` beside them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    teachers, ft = list(teachers), [int(x) for x in ft]  # the order of the finetune paths
    data = load(benchmark, selection, teachers, ft, blockwise, finetune)
    bench = bs.open_benchmark(benchmark)
    models = data["teacher_models"]
    title = (
        f"{preset}: {bench.dataset}, teachers "
        + ", ".join(f"{t} = model {models[t]}" for t in teachers)
        + f", {len(data['students'])} students"
    )
    longest = max(ft)
    facts = {
        "preset": preset,
        "dataset": bench.dataset,
        "teachers": {t: models[t] for t in teachers},
        "students": len(data["students"]),
        "ft_epochs": sorted(ft),
        "figure7": figure7(data, teachers, longest, out_dir / "figure7.png", title),
        "figure8": figure8(data, teachers, longest, out_dir / "figure8.png", title),
        "figure9": figure9(data, teachers, longest, out_dir / "figure9.png", title),
        "figure11": figure11(data, teachers, ft, out_dir / "figure11.png", title),
    }
    tmp = out_dir / ".blockwise.json.tmp"
    tmp.write_text(json.dumps(facts, indent=2), encoding="utf-8")
    os.replace(tmp, out_dir / "blockwise.json")
    return facts


def _from_snakemake(smk) -> None:  # pragma: no cover - exercised through the workflow tests
    logging.basicConfig(filename=smk.log[0], level=logging.INFO, force=True)
    make_figures(
        benchmark=smk.input.benchmark,
        selection=smk.input.selection,
        teachers=smk.params.teachers,
        ft=smk.params.ft,
        blockwise=list(smk.input.blockwise),
        finetune=list(smk.input.finetune),
        out_dir=Path(smk.output.json).parent,
        preset=smk.params.preset,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--selection", required=True)
    parser.add_argument("--teachers", nargs="+", required=True)
    parser.add_argument("--ft", nargs="+", type=int, required=True)
    parser.add_argument("--blockwise", nargs="+", required=True, help="one store per teacher, in order")
    parser.add_argument("--finetune", nargs="+", required=True, help="teacher-major, FT lengths in order")
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--preset", default="custom")
    args = parser.parse_args(argv)
    make_figures(
        benchmark=args.benchmark,
        selection=args.selection,
        teachers=args.teachers,
        ft=args.ft,
        blockwise=args.blockwise,
        finetune=args.finetune,
        out_dir=args.out_dir,
        preset=args.preset,
    )
    return 0


if "snakemake" in globals():
    _from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake's script directive
elif __name__ == "__main__":
    sys.exit(main())
