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


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    base = drift_heat.BASE
    regimes = dict(drift_heat.REGIMES)
    if tiny:  # two regimes: each costs a compilation
        base = base.replace(num_items=40, dim=4, batch=16, steps=200)
        regimes = dict(list(regimes.items())[::2])
    with figures.style():
        fig, axes = plt.subplots(1, len(regimes), figsize=(3.3 * len(regimes), 3.6))
        for ax, (name, changes) in zip(axes, regimes.items(), strict=True):
            parts = drift_heat.per_item(base.replace(**changes))
            measured, predicted = parts["measured"], parts["predicted"]
            ok = (predicted > 0) & (measured > 0)
            lo = min(measured[ok].min(), predicted[ok].min())
            hi = max(measured[ok].max(), predicted[ok].max())
            ax.plot([lo, hi], [lo, hi], "-", color="k", label="y = x")
            ax.plot(predicted[ok], measured[ok], "o", ms=3, alpha=0.6, label="items")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(name)
            ax.set_xlabel("predicted $N_*^2$")
            err = np.median(np.abs(predicted - measured) / measured)
            boost = np.median(parts["heat"] / parts["gradient_heat"])
            figures.annotate(
                ax,
                f"median rel. error {figures.percent(err)}\nheat / gradient heat {boost:.3g}",
                loc="lower right",
            )
        axes[0].set_ylabel("measured $\\langle N^2 \\rangle$ (2nd half)")
        axes[0].legend(loc="upper left")
        fig.suptitle(
            "Drift and heat: equilibrium predicted from a calibration run at twice the decay"
        )
        for ax in fig.axes:
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
            ax.yaxis.set_minor_formatter(plt.NullFormatter())
        fig.tight_layout()
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv)}")
