"""Figure 4 (THEORY.md items 6, 11, 13, 18): norm growth by depth, and its sign per cell.

The cells of `normtheory verify specificity`, drawn from the verdict's own record: the
check's results (`normtheory.verify.structure.specificity`, structure.SEEDS seeds) and
the runs it judged. A concept tree (depth 4, branching 3), free table or compositional
encoder, SGD / Adam / AdamW, anchor frequency equal per node ("decoupled") or coupled to
generality (deeper nodes rarer).

Left, one panel per model and frequency mode: mean over the nodes of a depth of
log(N_T / N_0) (seed mean, bars the standard deviation over the seeds). Lines: the
per-item laws evaluated node by node and averaged the same way: under SGD the
accumulation law (item 6) from the traced gradient energy; under AdamW the equilibrium
sqrt(eta C / (2 lam)) (item 11). Both are laws of a free table; on the compositional
encoder the SGD line is what item 6 would give if the nodes shared no features
(K_ij = delta_ij I), so its gap to the points is the cross-node kernel of item 15.

Right, one row per cell: Spearman's rho of the growth with depth and the verdict's
interval rho +- 2 se; the shaded span is item 18's predicted sign for that cell (the side
of 0, or +-EQUIVALENCE_MARGIN for a predicted 0), where the interval must lie for the
cell to hold; the verdict is written beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from normtheory import figures, laws
from normtheory.confidence import spearman
from normtheory.config import SimConfig
from normtheory.runs import run
from normtheory.verify import structure

NAME = "fig4_specificity.png"
MODELS = ("table", "compositional")
MODES = ("decoupled", "coupled")
LABELS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
COLORS = {"sgd": "C0", "adam": "C3", "adamw": "C2"}
OFFSETS = {"sgd": -0.12, "adam": 0.0, "adamw": 0.12}  # points side by side at each depth
MODEL_LABELS = {"table": "free table", "compositional": "compositional"}
MODE_LABELS = {"decoupled": "equal frequency", "coupled": "deeper rarer"}
VERDICT_COLORS = {"holds": "C2", "fails": "C1", "partial": "0.35", "inconclusive": "0.35"}
SIGN_TEXT = {-1: "$-$", 0: "0", 1: "+"}
SIGN_WORD = {-1: "-", 0: "0", 1: "+"}


def _per_depth(values: np.ndarray, depth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Mean of `values` (..., nodes) over the nodes of each depth: (..., levels)."""
    return np.stack([values[..., depth == k].mean(axis=-1) for k in levels], axis=-1)


def law_growth(traj, optimizer: str) -> np.ndarray | None:
    """log(N_T / N_0) per seed and node from a per-item law, or None where none applies."""
    cfg = traj.config
    if optimizer == "sgd":
        n4 = laws.get("accumulation")(N0=traj.norm0, eta=cfg.lr, S=traj.g2.sum(axis=-2))
        return 0.25 * np.log(np.asarray(n4) / traj.norm0**4)
    if optimizer == "adamw":
        n2 = laws.get("adamw_equilibrium")(eta=cfg.lr, lam=cfg.weight_decay, C=cfg.dim, b1=cfg.b1)
        return 0.5 * np.log(float(n2)) - np.log(traj.norm0)
    return None


def cells(tiny: bool = False) -> tuple[list, int]:
    """(the check's results, one per cell; their seed count).

    Full size: `structure.specificity` at its base regime, exactly as `normtheory verify`
    runs it (structure.SEEDS seeds). Tiny (smoke test): two SGD cells of a small tree,
    through the same cell function, at 2 seeds.
    """
    if not tiny:
        return structure.specificity(structure.HIERARCHY), structure.SEEDS
    base = structure.HIERARCHY.replace(depth=2, branching=2, dim=4, batch=16, steps=200)
    sgd = structure.OPTIMIZERS["sgd"]
    configs = [base.replace(model=m, frequency_mode="decoupled", **sgd) for m in MODELS]
    return [structure.specificity_cell(cfg, seeds=2) for cfg in configs], 2


def _interval(result) -> tuple[float, float]:
    """The verdict's interval of rho: measured +- tolerance (two standard errors)."""
    return result.measured - result.tolerance, result.measured + result.tolerance


def _growth_panel(ax, model: str, mode: str, rows: list, numbers, arrays) -> None:
    """Growth by depth of the cells `rows` (one model and mode), with the laws' lines."""
    gaps = []
    for result, traj in rows:
        name = result.config["optimizer"]
        key = f"{model}_{mode}_{name}"
        growth = np.log(traj.norm[..., -1, :] / traj.norm0)  # (seeds, nodes)
        depth = traj.info["depth"]
        rho = spearman(growth.mean(axis=0), depth)
        if not np.isclose(rho, result.measured, rtol=1e-12, atol=1e-15):
            raise RuntimeError(f"figure 4's run of {key} is not the one the verdict judged")
        levels = np.unique(depth)
        per_seed = _per_depth(growth, depth, levels)  # (seeds, levels)
        arrays[f"{key}_growth"] = per_seed
        arrays[f"{key}_levels"] = levels
        ax.errorbar(levels + OFFSETS[name], per_seed.mean(axis=0), yerr=per_seed.std(axis=0),
                    fmt="o", ms=3, capsize=1.5, lw=0.9, color=COLORS[name])  # fmt: skip
        predicted = law_growth(traj, name)
        if predicted is None or (model != "table" and name != "sgd"):
            continue
        law = _per_depth(predicted, depth, levels).mean(axis=0)
        arrays[f"{key}_law"] = law
        gap = float(np.max(np.abs(law - per_seed.mean(axis=0))))
        numbers[f"{key}_law_max_gap"] = gap
        gaps.append(f"{LABELS[name]} {gap:.1g}")
        style = "-" if model == "table" else "--"
        ax.plot(levels, law, style, color=COLORS[name], lw=1.0)
    law = "law gap" if model == "table" else "no-sharing law gap"
    gap_line = f"\n{law}: {', '.join(gaps)}" if gaps else "\n"
    ax.set_title(f"{MODEL_LABELS[model]}, {MODE_LABELS[mode]}{gap_line}")
    ax.set_xticks(levels)
    ax.axhline(0, color="0.6", lw=0.6)


def _forest(ax, results: list) -> list[str]:
    """One row per cell: rho with the verdict's interval over item 18's predicted span."""
    margin = structure.EQUIVALENCE_MARGIN
    y, ticks, labels, verdicts = 0.0, [], [], []
    previous = None
    for result in results:
        c = result.config
        group = (c["model"], c["frequency_mode"])
        if group != previous:
            y -= 0.55 if previous is None else 1.1
            ax.text(-1.0, y, f"{MODEL_LABELS[group[0]]}, {MODE_LABELS[group[1]]}",
                    fontsize=7, va="center", ha="left", style="italic")  # fmt: skip
            previous = group
        y -= 1
        sign = int(result.predicted)
        span = {-1: (-1.0, 0.0), 0: (-margin, margin), 1: (0.0, 1.0)}[sign]
        ax.fill_betweenx([y - 0.42, y + 0.42], *span, color="0.85", lw=0)
        lo, hi = _interval(result)
        name = c["optimizer"]
        ax.errorbar(result.measured, y, xerr=result.tolerance, fmt="o", ms=3.5, capsize=1.5,
                    lw=1.0, color=COLORS[name])  # fmt: skip
        ax.text(1.04, y, result.verdict, transform=ax.get_yaxis_transform(), fontsize=7,
                va="center", color=VERDICT_COLORS.get(result.verdict, "k"))  # fmt: skip
        ticks.append(y)
        labels.append(f"{LABELS[name]} ({SIGN_TEXT[sign]})")
        verdicts.append(
            f"{c['model']} {c['frequency_mode']} {LABELS[name]} rho {result.measured:+.2f} "
            f"[{lo:+.2f}, {hi:+.2f}], predicted {'-0+'[sign + 1]}, {result.verdict}"
        )
    ax.set_yticks(ticks, labels)
    ax.set_ylim(y - 0.7, 0.0)
    ax.set_xlim(-1.0, 1.0)
    ax.axvline(0, color="0.4", lw=0.6)
    ax.set_xlabel(r"$\rho$(growth, depth) $\pm$ 2 s.e.")
    ax.tick_params(axis="y", length=0)
    ax.grid(False, axis="y")
    ax.set_title("Spearman $\\rho$ per cell\n(item 18's sign in brackets)")
    return verdicts


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (per-depth growth and rho by cell)."""
    figures.enable_x64()
    results, seeds = cells(tiny)
    by_panel: dict[tuple[str, str], list] = {}
    numbers: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    for result in results:
        c = result.config
        traj, _, _ = run(SimConfig(**c), seeds, progress=False, log=lambda m: None)
        by_panel.setdefault((c["model"], c["frequency_mode"]), []).append((result, traj))
        key = f"{c['model']}_{c['frequency_mode']}_{c['optimizer']}"
        lo, hi = _interval(result)
        numbers |= {f"{key}_rho": result.measured, f"{key}_rho_lo": lo, f"{key}_rho_hi": hi}
        numbers[f"{key}_predicted_sign"] = result.predicted
    modes = [m for m in MODES if any(mode == m for _, mode in by_panel)]
    with figures.style():
        fig = plt.figure(figsize=(figures.WIDTHS["full"], 1.0 + 1.9 * len(modes)))
        fig.set_layout_engine("constrained")
        grid = fig.add_gridspec(len(modes), 3, width_ratios=(1, 1, 1.25))
        for row, mode in enumerate(modes):
            for col, model in enumerate(MODELS):
                ax = fig.add_subplot(grid[row, col])
                _growth_panel(ax, model, mode, by_panel[model, mode], numbers, arrays)
                if col == 0:
                    ax.set_ylabel(r"$\log(N_T / N_0)$")
                if row == len(modes) - 1:
                    ax.set_xlabel("depth (0 = root)")
        verdicts = _forest(fig.add_subplot(grid[:, 2]), results)
        optimizers = list(dict.fromkeys(r.config["optimizer"] for r in results))
        points = [
            Line2D([], [], ls="", marker="o", ms=3.5, color=COLORS[n], label=LABELS[n])
            for n in optimizers
        ]
        keys = [
            Line2D([], [], color="0.3", lw=1.0, label="free-table law (items 6, 11)"),
            Line2D([], [], color="0.3", lw=1.0, ls="--", label="item 6 if nodes share nothing"),
            Patch(color="0.85", label="item 18's predicted side"),
        ]
        # Legends fill column by column: interleave so the points form the first row.
        handles = [h for pair in zip(points, keys, strict=False) for h in pair]
        handles += points[len(keys) :] + keys[len(points) :]
        ncols = len(points) if len(points) == len(keys) else len(handles)
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols)
        table_gap = max(v for k, v in numbers.items() if k.startswith("table") and "gap" in k)
        caption = (
            f"Spearman rho of norm growth with depth per cell, the verdict's runs ({seeds} "
            f"seeds), interval rho +- 2 se, against item 18's predicted sign: "
            + "; ".join(verdicts)
            + f". Free-table laws (items 6, 11) against the table cells: max gap in "
            f"log(N_T / N_0) {table_gap:.2g}"
        )
        return figures.finish(
            fig, Path(out_dir) / NAME, caption, numbers, arrays, width="full", summary=__doc__
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a small tree, two cells (smoke)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder for the PNG, PDF and JSON (default: figures/)")  # fmt: skip
    args = parser.parse_args()
    print(main(args.out, tiny=args.tiny).path)
