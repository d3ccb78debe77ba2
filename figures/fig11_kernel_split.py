"""Figure 11 (THEORY.md items 15-16): the kernel split of heat and drift, by depth.

A compositional encoder on a concept tree (depth 3, branching 3, frequency equal per
node), trained under SGD, heavy ball and Adam (5 seeds, float64). For every node the
engine splits each step's kick into the part from the node's own loss rows (self),
from the other rows through the shared path features (cross), and the rest (momentum,
Adam's first moment). Top: heat per step relative to N^2, by depth. Solid line: the
kernel law's self heat eta^2 (depth + 1)^2 |g_i|^2 with |g_i| the node's own gradient
(K_ii = m_ii I), exact for the gradient-linear kick of SGD and heavy ball alike. Dashed
lines: item 16's mean field, from the data and the model at initialisation only: the
self heat eta^2 (w_i / d) |K_ii|_F^2 and the cross heat (for heavy ball, one step's
gradient-linear part, the momentum gain removed). Middle: drift per step relative to
N^2; Euler makes the self drift vanish wherever K_ii is proportional to the identity
(SGD, heavy ball), not under Adam, whose per-feature preconditioner makes K_ii
anisotropic; the mean field has no drift. Bottom: the norm growth log(N_T / N_0) by
depth, measured and integrated by item 16 (kernel closure, refuted for shared encoders
under Adam) and by item 18 (self-heat closure, the prediction verify judges by).
Measured here: under SGD and heavy ball the cross drift is inward (under SGD 0.9 to 1.7
times the mean field's cross heat), and the growth falls with depth; the mean field,
which has no drift, predicts that fall at two to six times the level. Under Adam the
gradient-linear kick nearly cancels between self and cross, the outward drift arrives
through the first moment (rest), and the growth rises with depth as both closures
predict. Adam with b1 = 0 has no rest, and its growth still
rises with depth, now with a self drift that rises from negative at the root to
positive at the leaves (K_ii anisotropic): the preconditioner, not the memory, turns
the sign.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures
from normtheory.mean_field import predicted_heat
from normtheory.regimes import KERNEL_SPLIT as BASE
from normtheory.runs import run

NAME = "fig11_kernel_split.png"
SEEDS = 5
OPTIMIZERS = {
    "SGD": {"optimizer": "sgd", "lr": 0.5},
    "heavy ball": {"optimizer": "momentum", "lr": 0.05, "momentum": 0.9},
    "Adam": {"optimizer": "adam", "lr": 0.01},
    "Adam, b1 = 0": {"optimizer": "adam", "lr": 0.01, "b1": 0.0},
}
HEAT = {"heat_self": "self", "heat_cross": "cross", "heat_rest": "rest"}
DRIFT = {"drift_self": "self", "drift_cross": "cross", "drift_rest": "rest"}
# The caption's first sentences: what the figure shows (the numbers follow it).
SUMMARY = (
    "Kernel split of the compositional encoder's per-step kick on a concept tree (depth 3, "
    "branching 3), by depth: heat (top) and drift (middle) per step relative to N^2, split "
    "into the node's own loss rows (self), the other rows through the shared path features "
    "(cross) and the rest (momentum, Adam's first moment); bottom, the norm growth "
    "log(N_T / N_0), measured and integrated by item 16 (kernel closure) and item 18 "
    "(self-heat closure). The self heat follows the kernel law eta^2 (depth + 1)^2 |g_i|^2 "
    "exactly under SGD and heavy ball; relatives pull inward under both (cross drift < 0) "
    "and the growth falls with depth; under Adam the preconditioner pushes deep nodes out "
    "(through the first moment with beta_1 = 0.9, directly with beta_1 = 0) and the growth "
    "rises with depth. Growth panels share one y-scale; heat and drift share theirs within "
    "the pairs compared (SGD and heavy ball for drift, the two Adam columns for both); "
    "bars: standard deviation over seeds."
)
UNIT = 1e-3  # heat and drift are plotted in units of 10^-3 per step
# Columns whose heat and drift rows share a y-scale: the pairs a reader compares (heavy
# ball against SGD for the drift, Adam with and without its first moment for both).
SHARED = {"heat": (("Adam", "Adam, b1 = 0"),),
          "drift": (("SGD", "heavy ball"), ("Adam", "Adam, b1 = 0"))}  # fmt: skip
LABELS = {
    "self": "self (own rows)",
    "cross": "cross (other rows)",
    "rest": "rest (momentum, 1st moment)",
}


def per_depth(traj, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(levels, mean, sd over seeds) of `values` (seeds, W, I) / N^2, averaged per depth."""
    n2 = np.concatenate([traj.norm0[..., None, :], traj.norm[..., :-1, :]], axis=-2) ** 2
    relative = (values / n2).mean(axis=1)  # (seeds, I): mean per step
    return figures.per_level(relative, traj.info["depth"])


def measure(tiny: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """The arrays the figure plots, per optimizer: per-depth means and seed sd."""
    base = BASE.replace(depth=2, branching=2, dim=4, batch=16, steps=40) if tiny else BASE
    seeds = 2 if tiny else SEEDS
    out = {}
    for name, changes in OPTIMIZERS.items():
        traj, _, _ = run(base.replace(**changes), seeds, progress=False, trace_split=True)
        record: dict[str, np.ndarray] = {}
        for field in (*HEAT, *DRIFT):
            levels, mean, sd = per_depth(traj, getattr(traj, field))
            record[field], record[field + "_sd"] = mean, sd
        m2 = (traj.info["depth"] + 1.0) ** 2
        predicted = traj.config.lr**2 * m2 * traj.g2  # eta^2 m_ii^2 G^2 / N^2 ... / N^2
        n2 = np.concatenate([traj.norm0[..., None, :], traj.norm[..., :-1, :]], axis=-2) ** 2
        _, record["sgd_self_law"], _ = per_depth(traj, predicted / n2)
        growth = np.log(traj.norm[..., -1, :] / traj.norm0)
        depth = traj.info["depth"]
        per_seed = np.stack([growth[:, depth == k].mean(axis=1) for k in levels], axis=1)
        record["growth"], record["growth_sd"] = per_seed.mean(axis=0), per_seed.std(axis=0)
        # Item 16's mean field, from the data and the model at initialisation only.
        mean_field = predicted_heat(traj.config, seeds)
        linear = mean_field["gain2"]  # its heats carry the momentum gain: keep one step's
        for key in ("self", "kernel"):
            values = mean_field[key] / linear
            record[f"mf_heat_{key}"] = np.array([values[depth == k].mean() for k in levels])
        record["mf_heat_cross"] = record.pop("mf_heat_kernel") - record["mf_heat_self"]
        for closure in ("kernel", "self"):
            grown = mean_field[f"growth_{closure}"]
            record[f"mf_growth_{closure}"] = np.array([grown[depth == k].mean() for k in levels])
        record["levels"] = levels
        out[name] = record
    return out


def _share(axes: np.ndarray) -> None:
    """Share y-scales: the growth row across all columns, the heat and drift rows within
    the pairs of SHARED (columns in OPTIMIZERS order)."""
    names = list(OPTIMIZERS)[: axes.shape[1]]
    for ax in axes[2, 1:]:
        ax.sharey(axes[2, 0])
        ax.tick_params(labelleft=False)
    for row, kind in ((0, "heat"), (1, "drift")):
        for first, second in SHARED[kind]:
            if first in names and second in names:
                ax = axes[row, names.index(second)]
                ax.sharey(axes[row, names.index(first)])
                ax.tick_params(labelleft=False)


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (per-depth arrays by optimizer)."""
    figures.enable_x64()
    data = measure(tiny)
    with figures.style():
        fig = plt.figure(figsize=(figures.WIDTHS["full"], 5.6), layout="constrained")
        grid = fig.add_gridspec(3, len(data) + 1, width_ratios=(1,) * len(data) + (1.25,))
        axes = np.array([[fig.add_subplot(grid[r, c]) for c in range(len(data))] for r in range(3)])
        _share(axes)
        colors = {"self": "C0", "cross": "C1", "rest": "C2"}
        for col, (name, rec) in enumerate(data.items()):
            levels = rec["levels"]
            ax = axes[0, col]
            for field, label in HEAT.items():
                ax.errorbar(levels, rec[field] / UNIT, yerr=rec[field + "_sd"] / UNIT, fmt="o",
                            ms=3, color=colors[label], label=LABELS[label])  # fmt: skip
            if name in ("SGD", "heavy ball"):  # the g-linear self kick of both is -eta K_ii g_i
                law = (
                    "kernel law, self (SGD, heavy ball):\n" r"$\eta^2 (\mathrm{depth}+1)^2 |g_i|^2$"
                )
                ax.plot(levels, rec["sgd_self_law"] / UNIT, "-", color=colors["self"], lw=1,
                        label=law)  # fmt: skip
            ax.plot(levels, rec["mf_heat_self"] / UNIT, "--", color=colors["self"], lw=1,
                    label="item 16 mean field, self")  # fmt: skip
            ax.plot(levels, rec["mf_heat_cross"] / UNIT, "--", color=colors["cross"], lw=1,
                    label="item 16 mean field, cross")  # fmt: skip
            ax.axhline(0, color="0.6", lw=0.6)
            ax.set_title(name.replace("b1", r"$\beta_1$"))
            ax = axes[1, col]
            for field, label in DRIFT.items():
                ax.errorbar(levels, rec[field] / UNIT, yerr=rec[field + "_sd"] / UNIT, fmt="o-",
                            ms=3, lw=0.9, color=colors[label], label=LABELS[label])  # fmt: skip
            ax.axhline(0, color="0.6", lw=0.6)
            ax = axes[2, col]
            ax.errorbar(levels, rec["growth"], yerr=rec["growth_sd"], fmt="o-", ms=3, lw=0.9,
                        color="k", label="measured")  # fmt: skip
            ax.plot(levels, rec["mf_growth_kernel"], "--", color="0.45", lw=1,
                    label="item 16, kernel closure (refuted)")  # fmt: skip
            ax.plot(levels, rec["mf_growth_self"], ":", color="0.45", lw=1.3,
                    label="item 18, self-heat closure")  # fmt: skip
            ax.set_xlabel("depth (0 = root)" if col == 0 else "depth")
            for row in range(3):
                axes[row, col].set_xticks(levels)
                if row < 2:
                    axes[row, col].tick_params(labelbottom=False)
        ylabels = (r"heat per step $/\,N^2$ ($10^{-3}$)", r"drift per step $/\,N^2$ ($10^{-3}$)",
                   r"growth $\log(N_T / N_0)$")  # fmt: skip
        titles = ("heat (kick energy)", "drift (radial push)", "norm growth")
        for row in range(3):
            axes[row, 0].set_ylabel(ylabels[row])
            handles, labels = axes[row, 0].get_legend_handles_labels()
            if row == 0:  # the mean-field and kernel-law lines of every column
                more, more_labels = axes[row, 2].get_legend_handles_labels()
                for h, lab in zip(more, more_labels, strict=True):
                    if lab not in labels:
                        handles, labels = [*handles, h], [*labels, lab]
            key = fig.add_subplot(grid[row, -1])
            key.set_axis_off()
            key.legend(handles, labels, loc="center left", title=titles[row],
                       alignment="left", borderaxespad=0, handlelength=1.8)  # fmt: skip
        fig.suptitle(f"Kernel split of heat and drift by depth, compositional encoder ({SEEDS} "
                     "seeds)")  # fmt: skip
        numbers = {}
        for name, rec in data.items():
            if name in ("SGD", "heavy ball"):
                numbers[f"{name}_self_heat_law_max_rel_error"] = float(
                    np.max(np.abs(rec["heat_self"] / rec["sgd_self_law"] - 1))
                )
            if name == "SGD":  # no memory: the cross drift meets the mean field's cross heat
                inward = rec["drift_cross"] / rec["mf_heat_cross"]
                for level, value in zip(rec["levels"], inward, strict=True):
                    numbers[f"{name}_cross_drift_over_mean_field_cross_heat_depth{int(level)}"] = (
                        float(value)
                    )
            ratio = rec["heat_self"] / rec["mf_heat_self"]
            for level, value in zip(rec["levels"], ratio, strict=True):
                numbers[f"{name}_self_heat_over_mean_field_depth{int(level)}"] = float(value)
            for key, label in (("growth", "measured"), ("mf_growth_kernel", "item16"),
                               ("mf_growth_self", "self_closure")):  # fmt: skip
                numbers[f"{name}_growth_leaves_minus_root_{label}"] = float(
                    rec[key][-1] - rec[key][0]
                )
        caption = (
            f"{SUMMARY} Measured ({SEEDS} seeds): self heat against eta^2 (depth + 1)^2 "
            "|g_i|^2: max rel. error "
            f"{numbers['SGD_self_heat_law_max_rel_error']:.1e} (SGD), "
            f"{numbers['heavy ball_self_heat_law_max_rel_error']:.1e} (heavy ball). "
            "Norm growth, leaves minus root, measured / item 16 / item 18: "
            + "; ".join(
                f"{name} " + " / ".join(
                    f"{numbers[f'{name}_growth_leaves_minus_root_{label}']:+.3f}"
                    for label in ("measured", "item16", "self_closure")
                )
                for name in data
            )
            + ". Measured self heat over item 16's mean-field self heat, root to leaves: "
            + "; ".join(
                f"{name} " + ", ".join(f"{x:.2g}" for x in rec["heat_self"] / rec["mf_heat_self"])
                for name, rec in data.items()
            )
            + ". Cross drift over the mean field's cross heat, root to leaves: "
            + "; ".join(
                f"{name} " + ", ".join(
                    f"{x:.2g}" for x in data[name]["drift_cross"] / data[name]["mf_heat_cross"]
                )
                for name in ("SGD",)
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
