"""Figure 8 (THEORY.md reference setup): class norm against class frequency, imbalance.

The "imbalance" experiment (4 classes 1:2:4:8, MLP 64-64-10, supervised InfoNCE at
tau = 1, SGD lr 0.01, batch 128). Points: final probe norm of each class centre per
seed (bars: seed spread); line: least-squares fit of log N on log frequency (no closed
form is derived for a shared encoder; THEORY.md reports class means of about 6.5-8.25).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures
from normtheory.config import SimConfig
from normtheory.experiments import get_experiment
from normtheory.runs import run

NAME = "fig8_imbalance.png"
SEEDS = 3


def config(tiny: bool = False) -> SimConfig:
    """The imbalance experiment (tiny: 100 steps)."""
    cfg = get_experiment("imbalance")
    return cfg.replace(steps=100) if tiny else cfg


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    cfg = config(tiny)
    traj, _, _ = run(cfg, SEEDS, progress=False)
    weights = 2.0 ** np.arange(cfg.num_classes)  # the 1:2:4:... sampling weights
    freq = weights / weights.sum()
    final = traj.norm[..., -1, :]  # (seeds, classes)
    mean, std = figures.mean_std(final)
    slope, intercept = np.polyfit(np.log(freq), np.log(mean), 1)
    order = np.argsort(freq)
    rho = np.corrcoef(np.argsort(np.argsort(freq)), np.argsort(np.argsort(mean)))[0, 1]
    with figures.style():
        fig, ax = plt.subplots(figsize=(5.0, 3.8))
        fine = np.geomspace(freq.min(), freq.max(), 20)
        ax.plot(fine, np.exp(intercept) * fine**slope, "-", color="k", label="log-log fit")
        ax.errorbar(
            freq[order],
            mean[order],
            yerr=std[order],
            fmt="o",
            mfc="none",
            ms=6,
            label=f"class norm at its centre ({SEEDS} seeds)",
        )
        ax.set_xscale("log")
        ax.set_xlabel("class frequency")
        ax.set_ylabel("final probe norm (seed mean $\\pm$ std)")
        ax.set_title(f"Class imbalance 1:2:4:8, MLP, SGD lr={cfg.lr:g}, T={cfg.steps}")
        ax.legend(loc="lower right")
        figures.annotate(
            ax,
            f"class means {mean.min():.3g} to {mean.max():.3g}\n"
            f"fitted exponent {slope:.3f}; Spearman {rho:+.2f}",
        )
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    path = main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv)
    print(path)
