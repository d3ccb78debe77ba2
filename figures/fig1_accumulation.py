"""Figure 1 (THEORY.md item 6): N_t^4 follows N_0^4 + 2 eta^2 sum_t G_t^2 under plain SGD.

Free table, Zipf(1.1) items, the configuration of `normtheory verify` (accumulation.BASE,
stride 1, two seeds), so the run is shared with the verification through the cache.
Points: measured N_t^4 of a few items of different frequency (seed mean, bars the seed
spread); lines: the law predicted from the traced per-step gradient energy G_t^2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.runs import run
from normtheory.verify.accumulation import BASE

NAME = "fig1_accumulation.png"
SEEDS = 2


def config(tiny: bool = False) -> SimConfig:
    """The accumulation run of `normtheory verify` (tiny: fewer items and steps)."""
    cfg = BASE.replace(stride=1)
    return cfg.replace(num_items=40, steps=60) if tiny else cfg


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    cfg = config(tiny)
    traj, _, _ = run(cfg, SEEDS, progress=False)
    eta = cfg.lr
    measured = traj.norm**4  # (seeds, steps, items)
    predicted = np.asarray(
        laws.get("accumulation")(N0=traj.norm0[:, None, :], eta=eta, S=np.cumsum(traj.g2, axis=-2))
    )
    err = np.abs(measured - predicted) / measured
    # Plot the growth N_t^4 - N_0^4: the seeds' different initial norms would hide it.
    start = traj.norm0[:, None, :] ** 4
    grown, law = measured - start, predicted - start
    order = np.argsort(-traj.rate)
    picks = order[np.unique(np.linspace(0, len(order) - 1, 4).round().astype(int))]
    with figures.style():
        fig, ax = plt.subplots(figsize=(5.2, 3.8))
        every = max(1, len(traj.step) // 25)
        for color, item in zip(
            plt.rcParams["axes.prop_cycle"].by_key()["color"], picks, strict=False
        ):
            mean, std = figures.mean_std(grown[..., item])
            ax.plot(traj.step, law[..., item].mean(axis=0), color=color, lw=1.2)
            ax.errorbar(
                traj.step[::every],
                mean[::every],
                yerr=std[::every],
                fmt="o",
                ms=3,
                color=color,
                mfc="none",
                label=f"item {int(traj.items[item])}, p = {traj.rate[item]:.3g}",
            )
        ax.set_yscale("log")
        low, high = ax.get_ylim()
        ax.set_ylim(low, high * 30)  # headroom above the curves for the annotation
        ax.set_xlabel("step t")
        ax.set_ylabel(r"growth $N_t^4 - N_0^4$ (seed mean $\pm$ std)")
        ax.set_title(
            r"Accumulation: $N_t^4 - N_0^4 = 2\eta^2 \sum_s G_s^2$ "
            f"(plain SGD, $\\eta$={eta:g}, {SEEDS} seeds)"
        )
        ax.plot([], [], color="0.3", label="law (traced $G^2$)")
        ax.legend(loc="lower right")
        figures.annotate(
            ax,
            f"N_t^4, all items, steps, seeds:\n"
            f"max rel. error {figures.percent(err.max())}\n"
            f"median rel. error {figures.percent(np.median(err))}",
        )
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    path = main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv)
    print(path)
