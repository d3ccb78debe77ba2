"""Figure 5 (THEORY.md item 12): drift-heat equilibrium, predicted against measured N*^2.

One point per item, one panel per regime of `normtheory verify drift_heat_equilibrium`
(free table with heavy ball and with AdamW, compositional encoder and MLP with heavy
ball). Prediction: N*^2 = (D + sqrt(D^2 + 2 V^2)) / 2 with D and V from the drift and
heat rates of a separate calibration run at twice the weight decay (never from the run
being judged); the line is y = x.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures
from normtheory.verify import drift_heat

NAME = "fig5_drift_heat.png"


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (per-item N*^2 by regime)."""
    figures.enable_x64()
    base = drift_heat.BASE
    regimes = dict(drift_heat.REGIMES)
    if tiny:  # two regimes: each costs a compilation
        base = base.replace(num_items=40, dim=4, batch=16, steps=200)
        regimes = dict(list(regimes.items())[::2])
    numbers: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    with figures.style():
        fig, axes = plt.subplots(1, len(regimes), figsize=(3.4 * len(regimes), 4.6))
        for ax, (name, changes) in zip(axes, regimes.items(), strict=True):
            parts = drift_heat.per_item(base.replace(**changes))
            measured, predicted = parts["measured"], parts["predicted"]
            ok = (predicted > 0) & (measured > 0)
            lo = min(measured[ok].min(), predicted[ok].min())
            hi = max(measured[ok].max(), predicted[ok].max())
            ax.plot([lo, hi], [lo, hi], "-", color="k", label="law: measured = predicted")
            ax.plot(predicted[ok], measured[ok], "o", ms=3, alpha=0.6, label="items")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("predicted $N_*^2$")
            err = float(np.median(np.abs(predicted - measured) / measured))
            boost = float(np.median(parts["heat"] / parts["gradient_heat"]))
            numbers[f"{name}_median_rel_error"] = err
            numbers[f"{name}_heat_over_gradient_heat"] = boost
            arrays[f"{name}_measured"], arrays[f"{name}_predicted"] = measured, predicted
            figures.legend_note(ax, f"median rel. error {figures.percent(err)}")
            figures.legend_note(ax, f"heat / gradient heat {boost:.2g}")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, frameon=False)
        axes[0].set_ylabel("measured $\\langle N^2 \\rangle$ (2nd half)")
        fig.suptitle(
            "Drift and heat: equilibrium predicted from a calibration run at twice the decay"
        )
        for ax in fig.axes:
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.yaxis.set_minor_formatter(plt.NullFormatter())
        fig.tight_layout()
        caption = "predicted against measured N*^2, median rel. error per regime: " + ", ".join(
            f"{name} {figures.percent(numbers[f'{name}_median_rel_error'])}" for name in regimes
        )
        return figures.finish(fig, Path(out_dir) / NAME, caption, numbers, arrays)


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv).path}")
