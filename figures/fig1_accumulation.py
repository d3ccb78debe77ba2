"""Figure 1 (THEORY.md item 6): N_t^4 follows N_0^4 + 2 eta^2 sum_t G_t^2 under plain SGD.

Free table, Zipf(1.1) items, the configuration of `normtheory verify` (accumulation.BASE,
stride 1), five seeds. Points: measured growth N_t^4 - N_0^4 of four items of different
frequency (seed mean, bars the range over the seeds); lines: the law
predicted from the traced per-step gradient energy G_t^2 (seed mean).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures, laws
from normtheory.config import SimConfig
from normtheory.regimes import FREE_TABLE as BASE
from normtheory.runs import run

NAME = "fig1_accumulation.png"
SEEDS = 5


def config(tiny: bool = False) -> SimConfig:
    """The accumulation run of `normtheory verify` (tiny: fewer items and steps)."""
    cfg = BASE.replace(stride=1)
    return cfg.replace(num_items=40, steps=60) if tiny else cfg


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (arrays: per seed, step and item)."""
    figures.enable_x64()
    cfg = config(tiny)
    traj, _, _ = run(cfg, SEEDS, progress=False)
    eta = cfg.lr
    measured = traj.norm**4  # (seeds, steps, items)
    predicted = np.asarray(
        laws.get("accumulation")(N0=traj.norm0[:, None, :], eta=eta, S=np.cumsum(traj.g2, axis=-2))
    )
    err = np.abs(measured - predicted) / measured
    # The law drops eta^4 sum_s G_s^4 / N_s^4 >= 0 (THEORY.md item 4): the gap it leaves.
    before = np.concatenate([traj.norm0[:, None, :], traj.norm[:, :-1, :]], axis=1)
    neglected = eta**4 * np.cumsum(traj.g2**2 / before**4, axis=-2) / measured
    # Plot the growth N_t^4 - N_0^4: the seeds' different initial norms would hide it.
    start = traj.norm0[:, None, :] ** 4
    grown, law = measured - start, predicted - start
    order = np.argsort(-traj.rate)
    picks = order[np.unique(np.linspace(0, len(order) - 1, 4).round().astype(int))]
    numbers = {"median_rel_error": float(np.median(err)), "max_rel_error": float(err.max())}
    with figures.style():
        fig, axes = figures.subplots(1, 1, width="column", height=3.9)
        ax = axes[0, 0]
        every = max(1, len(traj.step) // 25)
        for color, item in zip(
            plt.rcParams["axes.prop_cycle"].by_key()["color"], picks, strict=False
        ):
            mean = grown[..., item].mean(axis=0)
            low, high = grown[..., item].min(axis=0), grown[..., item].max(axis=0)
            ax.plot(traj.step, law[..., item].mean(axis=0), color=color, lw=1.2)
            ax.errorbar(
                traj.step[::every],
                mean[::every],
                yerr=np.stack([mean - low, high - mean])[:, ::every],
                fmt="o",
                ms=3,
                color=color,
                mfc="none",
                label=f"item {int(traj.items[item])}, $p$ = {traj.rate[item]:.3g}",
            )
        ax.set_yscale("log")
        ax.set_xlabel("step $t$")
        ax.set_ylabel(r"growth $N_t^4 - N_0^4$")
        ax.set_title(f"Accumulation, plain SGD ($\\eta$ = {eta:g}, {SEEDS} seeds)")
        ax.plot([], [], color="0.3", label=r"law $2\eta^2 \sum_s G_s^2$ (traced $G^2$)")
        figures.legend_note(
            ax,
            f"rel. error of $N_t^4$: median {figures.percent(numbers['median_rel_error'])}, "
            f"max {figures.percent(numbers['max_rel_error'])}",
        )
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=1)
        caption = (
            f"Growth N_t^4 - N_0^4 of four items (seed mean, bars the range over seeds) "
            f"against the accumulation law (item 6) with the traced G^2. "
            f"N_t^4 against the accumulation law, all items, steps and {SEEDS} seeds: "
            f"median rel. error {figures.percent(numbers['median_rel_error'])}, "
            f"max {figures.percent(numbers['max_rel_error'])}"
        )
        arrays = {"step": traj.step, "measured": measured, "predicted": predicted,
                  "rel_error": err, "neglected": neglected}  # fmt: skip
        return figures.finish(
            fig, Path(out_dir) / NAME, caption, numbers, arrays, width="column", summary=__doc__
        )


if __name__ == "__main__":
    print(main(Path(__file__).resolve().parent, tiny="--tiny" in sys.argv).path)
