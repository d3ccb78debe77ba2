"""Figure 2 (THEORY.md items 8, 9, 11): the frequency imprint under SGD, SGD + L2 and AdamW.

Final (or equilibrium) norm against the rate p at which an item is in a batch, log-log,
for the three free-table runs of `normtheory verify` (shared through the cache):
plain SGD (law: accumulation from the traced G^2), SGD + L2 (law: N*^4 = eta G^2 /
(lam (2 - eta lam)) with the measured per-step G^2, guide slope 1/4) and AdamW (law:
flat N* = sqrt(eta C / (2 lam)) with C = d). Points: seed means, bars the seed spread.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.runs import run
from normtheory.verify.accumulation import CHECKS as ACCUMULATION_CHECKS
from normtheory.verify.equilibria import ADAMW, SGD_L2

NAME = "fig2_frequency_imprint.png"
SEEDS = 2


def configs(tiny: bool = False) -> dict[str, SimConfig]:
    """The three verification configs (tiny: fewer items and steps)."""
    sgd = ACCUMULATION_CHECKS["frequency_imprint"][1]
    sgd = sgd.replace(stride=sgd.steps // 10)
    cfgs = {"sgd": sgd, "sgd_l2": SGD_L2, "adamw": ADAMW}
    if tiny:
        cfgs = {
            "sgd": sgd.replace(num_items=40, steps=100, stride=10),
            "sgd_l2": SGD_L2.replace(num_items=40, steps=100, weight_decay=0.1),
            "adamw": ADAMW.replace(num_items=40, steps=100, lr=0.05),
        }
    return cfgs


def _half(values: np.ndarray) -> np.ndarray:
    return values[..., values.shape[-2] // 2 :, :]


def _points(ax: plt.Axes, rate: np.ndarray, per_seed: np.ndarray, label: str) -> None:
    mean, std = figures.mean_std(per_seed)
    ax.errorbar(rate, mean, yerr=std, fmt="o", ms=2.5, mfc="none", alpha=0.7, label=label)


def _line(ax: plt.Axes, rate: np.ndarray, values: np.ndarray, label: str) -> None:
    order = np.argsort(rate)
    ax.plot(rate[order], values[order], color="k", lw=1.0, label=label)


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    cfgs = configs(tiny)
    trajs = {name: run(cfg, SEEDS, progress=False)[0] for name, cfg in cfgs.items()}
    with figures.style():
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
        fig.subplots_adjust(wspace=0.32)

        # Plain SGD: growth N_T^4 - N_0^4 against the accumulation law (traced energy).
        cfg, traj = cfgs["sgd"], trajs["sgd"]
        start = traj.norm0**4
        measured = traj.norm[..., -1, :] ** 4 - start
        law = laws.get("accumulation")(N0=traj.norm0, eta=cfg.lr, S=traj.g2.sum(axis=-2))
        predicted = np.asarray(law) - start
        err = np.abs(predicted - measured) / traj.norm[..., -1, :] ** 4
        _points(axes[0], traj.rate, measured, "simulation $N_T^4 - N_0^4$")
        _line(axes[0], traj.rate, predicted.mean(axis=0), "law: $2\\eta^2\\sum_t G_t^2$")
        p = np.geomspace(traj.rate.min(), traj.rate.max(), 10)
        anchor = np.median(measured) / np.median(traj.rate)
        axes[0].plot(p, anchor * p, "--", color="0.5", lw=1, label="slope 1 (p T)")
        slope = np.polyfit(np.log(traj.rate), np.log(measured.mean(axis=0)), 1)[0]
        axes[0].set_title(f"plain SGD, $\\eta$={cfg.lr:g}, T={cfg.steps}")
        axes[0].set_ylabel("growth $N_T^4 - N_0^4$ (seed mean $\\pm$ std)")
        figures.annotate(
            axes[0],
            f"rel. error of $N_T^4$: median {figures.percent(np.median(err))}\n"
            f"fitted slope {slope:.3f}",
        )

        # SGD + L2: equilibrium N* from the measured per-step G^2.
        cfg, traj = cfgs["sgd_l2"], trajs["sgd_l2"]
        eta, lam = cfg.lr, cfg.weight_decay
        n4 = _half(traj.norm) ** 4
        per_seed = n4.mean(axis=-2) ** 0.25
        g2 = _half(traj.g2).sum(axis=-2) / (n4.shape[-2] * cfg.stride)
        law = laws.get("sgd_decay_equilibrium")(eta=eta, lam=lam, G2=g2.mean(axis=0))
        predicted = np.asarray(law) ** 0.25
        measured = n4.mean(axis=(0, 1)) ** 0.25
        err = np.abs(predicted - measured) / measured
        _points(axes[1], traj.rate, per_seed, "simulation $N^*$ (2nd half)")
        _line(axes[1], traj.rate, predicted, "law: $N^{*4}=\\eta G^2/(\\lambda(2-\\eta\\lambda))$")
        p = np.geomspace(traj.rate.min(), traj.rate.max(), 10)
        anchor = np.median(measured) / np.median(traj.rate) ** 0.25
        axes[1].plot(p, anchor * p**0.25, "--", color="0.5", lw=1, label="slope 1/4")
        slope = np.polyfit(np.log(traj.rate), np.log(measured), 1)[0]
        axes[1].set_title(f"SGD + L2, $\\eta$={eta:g}, $\\lambda$={lam:g}")
        figures.annotate(
            axes[1],
            f"median rel. error {figures.percent(np.median(err))}\nfitted slope {slope:.3f}",
        )

        # AdamW: flat equilibrium.
        cfg, traj = cfgs["adamw"], trajs["adamw"]
        n2 = _half(traj.norm) ** 2
        per_seed = np.sqrt(n2.mean(axis=-2))
        measured = np.sqrt(n2.mean(axis=(0, 1)))
        law = laws.get("adamw_equilibrium")(eta=cfg.lr, lam=cfg.weight_decay, C=cfg.dim, b1=cfg.b1)
        level = float(np.sqrt(law))
        err = np.abs(measured - level) / level
        slope = np.polyfit(np.log(traj.rate), np.log(measured), 1)[0]
        _points(axes[2], traj.rate, per_seed, "simulation $N^*$ (2nd half)")
        axes[2].axhline(level, color="k", lw=1.0, label="law: $\\sqrt{\\eta C/(2\\lambda)}$")
        axes[2].set_title(f"AdamW, $\\eta$={cfg.lr:g}, $\\lambda$={cfg.weight_decay:g}")
        figures.annotate(
            axes[2],
            f"median rel. error {figures.percent(np.median(err))}\nfitted slope {slope:.3f}",
        )
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("rate p (probability of being in a batch)")
            ax.legend(loc="lower right")
        axes[1].set_ylabel("equilibrium norm $N^*$ (seed mean $\\pm$ std)")
        fig.suptitle("Frequency imprint: SGD writes p into the norm, AdamW erases it")
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    path = main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv)
    print(path)
