"""Figure 14 (THEORY.md item 17): where a compositional node's growth comes from.

The specificity map's tree (depth 4, branching 3, frequency equal per node), the
compositional encoder under SGD and Adam (2 seeds, float64). A node is the sum of the
features on its path, so log(N_T / N_0) splits exactly into a feature part (the growth
of the path's feature energy sum_f |theta_f|^2) and an alignment part (the change of
N^2 / sum_f |theta_f|^2: negative when the path's features come to cancel). Top: the
growth and its two parts by depth. Bottom: the features' own budget over the run,
per feature by depth: the drift 2 theta_f . d theta_f and the heat |d theta_f|^2
(`normtheory.parameter_budget`). Under SGD the parameter drift sums to zero over the
features (item 17) and moves norm from the root feature to the leaves'; the features
grow about alike and their alignment cancels the depth trend of the growth. Under Adam
the features stay uncorrelated, every feature takes the same heat, and the drift of
Adam's first moment frees the deep features while the loss holds the root: the growth
rises with depth.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from normtheory import figures
from normtheory.confidence import spearman
from normtheory.parameter_budget import path_summary
from normtheory.regimes import HIERARCHY

NAME = "fig14_path_features.png"
BASE = HIERARCHY.replace(model="compositional", frequency_mode="decoupled")
SEEDS = 2
OPTIMIZERS = {"SGD": {"optimizer": "sgd", "lr": 0.5}, "Adam": {"optimizer": "adam", "lr": 0.01}}
PARTS = {"growth": "growth", "feature": "feature part", "alignment": "alignment part"}
BUDGET = {"drift": "feature drift", "heat": "feature heat"}


def measure(tiny: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Per optimizer: per-depth means and seed sd of the parts and of the feature budget,
    and the Spearman correlation of each part with depth (seed-mean parts)."""
    tiny_base = BASE.replace(depth=2, branching=2, dim=4, batch=16, steps=40, stride=40)
    base = tiny_base if tiny else BASE
    out = {}
    for name, changes in OPTIMIZERS.items():
        config = base.replace(**changes)
        runs = [path_summary(config, seed) for seed in range(config.seed, config.seed + SEEDS)]
        depth = runs[0]["depth"]
        record: dict[str, np.ndarray] = {}
        for key in (*PARTS, *BUDGET):
            levels, record[key], record[key + "_sd"] = figures.per_level(
                np.stack([r[key] for r in runs]), depth
            )
            record["levels"] = levels
            if key in PARTS:
                mean = np.mean([r[key] for r in runs], axis=0)
                record[key + "_rho"] = np.asarray(spearman(mean, depth))
        out[name] = record
    return out


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (per-depth arrays by optimizer)."""
    figures.enable_x64()
    data = measure(tiny)
    with figures.style():
        fig, axes = figures.subplots(2, len(data), width="full", height=6.4, sharex=True)
        for col, (name, rec) in enumerate(data.items()):
            levels = rec["levels"]
            ax = axes[0, col]
            for key, label in PARTS.items():
                rho = float(rec[key + "_rho"])
                ax.errorbar(levels, rec[key], yerr=rec[key + "_sd"], fmt="o-", ms=3, lw=1.0,
                            label=f"{label} (Spearman {rho:+.2f})")  # fmt: skip
            ax.axhline(0, color="0.6", lw=0.8)
            ax.set_title(name)
            ax.set_ylabel(r"$\log(N_T / N_0)$ and its parts")
            # Below the panel, clear of the error bars.
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), borderaxespad=0)
            ax = axes[1, col]
            for key, label in BUDGET.items():
                ax.errorbar(levels, rec[key], yerr=rec[key + "_sd"], fmt="o-", ms=3, lw=1.0,
                            label=label)  # fmt: skip
            ax.axhline(0, color="0.6", lw=0.8)
            ax.set_ylabel(r"per feature, summed over the run")
            ax.set_xlabel("depth of the node / feature (0 = root)")
            ax.set_xticks(levels)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, borderaxespad=0)
        fig.suptitle(
            "Compositional encoder: a node's growth = its path features' growth + their alignment"
        )
        numbers = {}
        for name, rec in data.items():
            for key in PARTS:
                numbers[f"{name}_{key}_spearman_with_depth"] = float(rec[key + "_rho"])
                for level, value in zip(rec["levels"], rec[key], strict=True):
                    numbers[f"{name}_{key}_depth{int(level)}"] = float(value)
            for key in BUDGET:
                for level, value in zip(rec["levels"], rec[key], strict=True):
                    numbers[f"{name}_feature_{key}_depth{int(level)}"] = float(value)
        caption = (
            "A node's norm growth log(N_T / N_0) split exactly into its path features' growth "
            "and their alignment (top) and each feature's drift and heat over the run (bottom), "
            "by depth, bars the s.d. over seeds. SGD: features grow alike and cancel along the "
            "path; Adam: features stay uncorrelated, deep ones random-walk free. "
            "Spearman with depth of the growth / feature part / alignment part: "
            + "; ".join(
                f"{name} " + " / ".join(
                    f"{numbers[f'{name}_{key}_spearman_with_depth']:+.2f}" for key in PARTS
                )
                for name in data
            )
            + ". Alignment part per depth, root to leaves: "
            + "; ".join(
                f"{name} " + ", ".join(f"{x:+.2f}" for x in rec["alignment"])
                for name, rec in data.items()
            )
            + ". Feature drift / heat over the run, root and leaves: "
            + "; ".join(
                f"{name} {rec['drift'][0]:+.2f} / {rec['heat'][0]:.2f} and "
                f"{rec['drift'][-1]:+.2f} / {rec['heat'][-1]:.2f}"
                for name, rec in data.items()
            )
        )  # fmt: skip
        arrays = {
            f"{name}/{key}": value for name, rec in data.items() for key, value in rec.items()
        }
        return figures.finish(
            fig, Path(out_dir) / NAME, caption, numbers, arrays, width="full", summary=__doc__
        )


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv).path}")
