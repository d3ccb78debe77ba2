"""Figure 3 (THEORY.md item 9): SGD + L2 equilibrium N*^4 and angle per step against lr.

Items in almost every batch (uniform frequencies, batch >> items, rate > 0.99), one
vmapped sweep over lr (grid={"lr": ...}) on the verification config SGD_L2 with a larger
weight decay so every lr relaxes within the run, five seeds. Points: seed means over the
second half of the run (bars: standard deviation over the seeds); lines: N*^4 =
eta G^2 / (lam (2 - eta lam)) with the measured per-step G^2, and the closed-form angle
sqrt(2 eta lam).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.regimes import SGD_L2
from normtheory.runs import run

NAME = "fig3_equilibria.png"
SEEDS = 5
LRS = (0.05, 0.1, 0.2, 0.5, 1.0)


def config(tiny: bool = False) -> SimConfig:
    """Dense uniform items (rate ~ 0.999) with SGD + L2 (tiny: fewer steps)."""
    cfg = SGD_L2.replace(num_items=10, zipf=0.0, weight_decay=0.05, steps=2000)
    return cfg.replace(steps=200) if tiny else cfg


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (arrays per lr and seed)."""
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
    numbers = {
        "n4_median_rel_error": float(np.median(n4_err)),
        "n4_max_rel_error": float(n4_err.max()),
        "angle_median_rel_error": float(np.median(angle_err)),
        "angle_max_rel_error": float(angle_err.max()),
    }
    arrays = {"lr": lrs, "n4": n4, "n4_law": predicted, "angle": angle, "angle_law": closed}
    with figures.style():
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        fig.subplots_adjust(wspace=0.3, top=0.85)
        ax = axes[0]
        ax.plot(lrs, predicted.mean(1), "-", color="k", label="law with measured $G^2$")
        ax.errorbar(lrs, n4.mean(1), yerr=n4.std(1), fmt="o", mfc="none", label="simulation")
        ax.set_ylabel(r"equilibrium $N^{*4}$ (mean over items)")
        ax.set_title(r"$N^{*4} = \eta G^2 / (\lambda (2 - \eta\lambda))$, " + f"$\\lambda$={lam:g}")
        figures.legend_note(ax, f"rel. error: median {figures.percent(np.median(n4_err))}")
        ax = axes[1]
        law = laws.get("sgd_decay_angle")(eta=fine, lam=lam)
        ax.plot(fine, np.asarray(law), "-", color="k", label=r"law $\sqrt{2\eta\lambda}$")
        ax.errorbar(lrs, angle.mean(1), yerr=angle.std(1), fmt="o", mfc="none", label="simulation")
        ax.set_ylabel(r"rms angle per step at equilibrium $\theta^*$ (rad)")
        ax.set_title(r"angle per step $\theta^* = \sqrt{2\eta\lambda}$")
        figures.legend_note(
            ax,
            f"rel. error: median {figures.percent(np.median(angle_err))}, "
            f"max {figures.percent(angle_err.max())}",
        )
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"learning rate $\eta$")
            ax.legend(loc="lower right")
        fig.suptitle(
            f"SGD + L2 equilibria, {cfg.num_items} items in every batch "
            f"(rate {traj.rate.min():.4f}); mean $\\pm$ s.d. over {SEEDS} seeds"
        )
        caption = (
            f"over {len(LRS)} learning rates and {SEEDS} seeds, N*^4 against the law: median "
            f"rel. error {figures.percent(numbers['n4_median_rel_error'])}; angle per step "
            f"against sqrt(2 eta lam): median {figures.percent(numbers['angle_median_rel_error'])}"
            f", max {figures.percent(numbers['angle_max_rel_error'])}"
        )
        return figures.finish(fig, Path(out_dir) / NAME, caption, numbers, arrays, summary=__doc__)


if __name__ == "__main__":
    print(main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv).path)
