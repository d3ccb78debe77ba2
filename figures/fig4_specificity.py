"""Figure 4 (THEORY.md items 6, 11, 13): norm growth by depth, per model, optimizer and frequency.

The cells of `normtheory verify specificity` at five seeds: a concept tree (depth 4,
branching 3), free table or compositional encoder, SGD / Adam / AdamW, anchor frequency
coupled to generality or equal per node. Points: mean over the nodes of a depth of
log(N_T / N_0) (seed mean, bars the standard deviation over the seeds). Lines: the
per-item laws evaluated node by node and averaged the same way: under SGD the
accumulation law (item 6) from the traced gradient energy; under AdamW the equilibrium
sqrt(eta C / (2 lam)) (item 11). Both are laws of a free table; on the compositional
encoder the SGD line is what item 6 would give if the nodes shared no features
(K_ij = delta_ij I), so its gap to the points is the cross-node kernel of item 15.
Panel titles give item 13's predicted sign (table: generic longer; compositional:
specific longer); the legend gives Spearman's rho of the growth with depth.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.confidence import spearman
from normtheory.runs import run
from normtheory.verify import structure

NAME = "fig4_specificity.png"
SEEDS = 5
MODELS = {"table": -1, "compositional": +1}
LABELS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
COLORS = {"sgd": "C0", "adam": "C3", "adamw": "C2"}


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


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (per-depth growth by cell)."""
    figures.enable_x64()
    base = structure.HIERARCHY
    optimizers = dict(structure.OPTIMIZERS)
    modes = ("decoupled", "coupled")
    seeds = SEEDS
    if tiny:  # each cell costs a compilation
        base = base.replace(depth=2, branching=2, dim=4, batch=16, steps=200)
        optimizers = {"sgd": optimizers["sgd"]}
        modes = ("decoupled",)
        seeds = 2
    numbers: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    with figures.style():
        fig, axes = plt.subplots(
            len(modes), len(MODELS), figsize=(13, 3.9 * len(modes) + 0.6), squeeze=False
        )
        for row, mode in enumerate(modes):
            for col, (model, sign) in enumerate(MODELS.items()):
                ax = axes[row, col]
                for name, changes in optimizers.items():
                    cfg = base.replace(model=model, frequency_mode=mode, **changes)
                    traj, _, _ = run(cfg, seeds, progress=False, log=lambda m: None)
                    growth = np.log(traj.norm[..., -1, :] / traj.norm0)  # (seeds, nodes)
                    depth = traj.info["depth"]
                    levels = np.unique(depth)
                    per_seed = _per_depth(growth, depth, levels)  # (seeds, levels)
                    rho = spearman(growth.mean(axis=0), depth)
                    key = f"{model}_{mode}_{name}"
                    numbers[f"{key}_rho"] = rho
                    arrays[f"{key}_growth"] = per_seed
                    arrays[f"{key}_levels"] = levels
                    ax.errorbar(levels, per_seed.mean(axis=0), yerr=per_seed.std(axis=0),
                                fmt="o", ms=5, capsize=2, color=COLORS[name],
                                label=f"{LABELS[name]}, $\\rho$ = {rho:+.2f}")  # fmt: skip
                    predicted = law_growth(traj, name)
                    if predicted is None or (model != "table" and name != "sgd"):
                        continue
                    law = _per_depth(predicted, depth, levels).mean(axis=0)
                    arrays[f"{key}_law"] = law
                    gap = float(np.max(np.abs(law - per_seed.mean(axis=0))))
                    numbers[f"{key}_law_max_gap"] = gap
                    if model == "table":
                        item = "item 6" if name == "sgd" else "item 11"
                        label = f"{item} law, {LABELS[name]} (max gap {gap:.2g})"
                        ax.plot(levels, law, "-", color=COLORS[name], lw=1.1, label=label)
                    else:
                        label = r"item 6 law if $K_{ij} = \delta_{ij} I$, SGD"
                        ax.plot(levels, law, "--", color=COLORS[name], lw=1.1, label=label)
                arrow = "generic longer ($-$)" if sign < 0 else "specific longer ($+$)"
                ax.set_title(f"{model}, {mode} frequency; item 13: {arrow}", fontsize=9)
                ax.set_xlabel("depth (0 = root, most generic)")
                ax.set_ylabel(r"$\log(N_T / N_0)$, mean over nodes")
                ax.set_xticks(levels)
                ax.axhline(0, color="0.7", lw=0.8)
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5)
        fig.suptitle(
            f"Specificity: the sign of the norm-depth relation by regime (mean $\\pm$ s.d. "
            f"over {seeds} seeds; lines: per-item laws)"
        )
        fig.tight_layout()
        cells = [name for name in numbers if name.endswith("_rho")]
        table_gap = max(v for k, v in numbers.items() if k.startswith("table") and "gap" in k)
        caption = (
            f"Spearman rho of growth with depth in {len(cells)} cells ({seeds} seeds): "
            + "; ".join(f"{k[:-4].replace('_', ' ')} {numbers[k]:+.2f}" for k in cells)
            + f". Free-table laws (items 6, 11) against the table cells: max gap in "
            f"log(N_T / N_0) {table_gap:.2g}"
        )
        return figures.finish(fig, Path(out_dir) / NAME, caption, numbers, arrays)


if __name__ == "__main__":
    print(main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv).path)
