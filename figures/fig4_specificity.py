"""Figure 4 (THEORY.md item 13): norm growth by depth, per model, optimizer and frequency.

The cells of `normtheory verify specificity`: a concept tree (depth 3, branching 3),
free table or compositional encoder, SGD / Adam / AdamW, anchor frequency coupled to
generality or equal per node. Points: mean over the nodes of a depth of log(N_T / N_0)
(bars: spread over seeds); the printed rho is Spearman's correlation with depth and the
arrow THEORY.md's predicted sign (table: generic longer; compositional: specific longer).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures
from normtheory.confidence import spearman
from normtheory.runs import run
from normtheory.verify import structure

NAME = "fig4_specificity.png"
SEEDS = 2  # as in the verification, so the runs are shared through the cache
MODELS = {"table": -1, "compositional": +1}


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    base = structure.HIERARCHY
    optimizers = dict(structure.OPTIMIZERS)
    modes = ("decoupled", "coupled")
    if tiny:  # each cell costs a compilation
        base = base.replace(depth=2, branching=2, dim=4, batch=16, steps=200)
        optimizers = {"sgd": optimizers["sgd"]}
        modes = ("decoupled",)
    with figures.style():
        fig, axes = plt.subplots(
            len(modes), len(MODELS), figsize=(10, 3.4 * len(modes)), squeeze=False
        )
        for row, mode in enumerate(modes):
            for col, (model, sign) in enumerate(MODELS.items()):
                ax = axes[row, col]
                lines = []
                for name, changes in optimizers.items():
                    cfg = base.replace(model=model, frequency_mode=mode, **changes)
                    traj, _, _ = run(cfg, SEEDS, progress=False, log=lambda m: None)
                    growth = np.log(traj.norm[..., -1, :] / traj.norm0)  # (seeds, nodes)
                    depth = traj.info["depth"]
                    levels = np.unique(depth)
                    per_seed = np.stack([growth[:, depth == k].mean(axis=1) for k in levels])
                    mean, std = per_seed.mean(axis=1), per_seed.std(axis=1)
                    rho = spearman(growth.mean(axis=0), depth)
                    ax.errorbar(levels, mean, yerr=std, fmt="o-", ms=4, label=name)
                    lines.append(f"{name}: rho {rho:+.2f}")
                arrow = "generic longer (-)" if sign < 0 else "specific longer (+)"
                ax.set_title(f"{model}, {mode} frequency; THEORY: {arrow}")
                ax.set_xlabel("depth (0 = root, most generic)")
                ax.set_ylabel("mean log(N_T / N_0)")
                ax.set_xticks(levels)
                figures.annotate(ax, "\n".join(lines))
                ax.legend(loc="lower right")
        fig.suptitle("Specificity: the sign of the norm-depth relation by regime")
        fig.tight_layout()
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv)}")
