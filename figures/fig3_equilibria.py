"""Figure 3 (THEORY.md item 9): SGD + L2 equilibrium N*^4 and angle per step against lr.

Items in almost every batch (uniform frequencies, batch >> items, rate > 0.99), one
vmapped sweep over lr (grid={"lr": ...}) on the verification config SGD_L2 with a larger
weight decay so every lr relaxes within the run. Points: seed means over the second half
of the run (bars: seed spread); lines: N*^4 = eta G^2 / (lam (2 - eta lam)) with the
measured per-step G^2, and the closed-form angle sqrt(2 eta lam).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.runs import run
from normtheory.verify.equilibria import SGD_L2

NAME = "fig3_equilibria.png"
SEEDS = 2
LRS = (0.05, 0.1, 0.2, 0.5, 1.0)


def config(tiny: bool = False) -> SimConfig:
    """Dense uniform items (rate ~ 0.999) with SGD + L2 (tiny: fewer steps)."""
    cfg = SGD_L2.replace(num_items=10, zipf=0.0, weight_decay=0.05, steps=2000)
    return cfg.replace(steps=200) if tiny else cfg


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    cfg = config(tiny)
    lrs = np.array(LRS)
    traj, _, _ = run(cfg, SEEDS, grid={"lr": list(LRS)}, progress=False)
    lam = cfg.weight_decay
    half = traj.norm.shape[-2] // 2
    norm = traj.norm[..., half:, :]  # (grid, seeds, windows, items)
    steps = norm.shape[-2] * cfg.stride
    n4 = (norm**4).mean(axis=(-2, -1))  # (grid, seeds)
    g2 = traj.g2[..., half:, :].sum(axis=-2).mean(axis=-1) / steps  # (grid, seeds)
    eta = lrs[:, None]
    predicted = np.asarray(laws.get("sgd_decay_equilibrium")(eta=eta, lam=lam, G2=g2))
    heat = traj.heat[..., half:, :] / cfg.stride
    angle = np.sqrt(
        (np.arctan(np.sqrt(heat) / ((1 - eta[..., None, None] * lam) * norm)) ** 2).mean(
            axis=(-2, -1)
        )
    )
    closed = np.asarray(laws.get("sgd_decay_angle")(eta=lrs, lam=lam))
    n4_err = np.abs(n4.mean(1) - predicted.mean(1)) / predicted.mean(1)
    angle_err = np.abs(angle.mean(1) - closed) / closed
    fine = np.geomspace(lrs.min(), lrs.max(), 50)
    with figures.style():
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        fig.subplots_adjust(wspace=0.3)
        ax = axes[0]
        ax.plot(lrs, predicted.mean(1), "-", color="k", label="law with measured $G^2$")
        ax.errorbar(lrs, n4.mean(1), yerr=n4.std(1), fmt="o", mfc="none", label="simulation")
        ax.set_ylabel(r"equilibrium $N^{*4}$ (mean over items)")
        ax.set_title(r"$N^{*4} = \eta G^2 / (\lambda (2 - \eta\lambda))$, " + f"$\\lambda$={lam:g}")
        figures.annotate(ax, f"median rel. error {figures.percent(np.median(n4_err))}")
        ax = axes[1]
        law = laws.get("sgd_decay_angle")(eta=fine, lam=lam)
        ax.plot(fine, np.asarray(law), "-", color="k", label=r"law $\sqrt{2\eta\lambda}$")
        ax.errorbar(lrs, angle.mean(1), yerr=angle.std(1), fmt="o", mfc="none", label="simulation")
        ax.set_ylabel("rms angle per step at equilibrium (rad)")
        ax.set_title("angle per step")
        figures.annotate(
            ax,
            f"median rel. error {figures.percent(np.median(angle_err))}\n"
            f"max rel. error {figures.percent(angle_err.max())}",
        )
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"learning rate $\eta$")
            ax.legend(loc="lower right")
        fig.suptitle(
            f"SGD + L2 equilibria, {cfg.num_items} items in every batch "
            f"(rate {traj.rate.min():.4f}), {SEEDS} seeds"
        )
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    path = main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv)
    print(path)
