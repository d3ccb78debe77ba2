"""Figure 7 (THEORY.md item 7): the angle per step is eta G / N^2, with its cubic correction.

Plain SGD on the free table of `normtheory verify` (accumulation.BASE): for every item
in a batch and every step of a 50-step float64 run on the engine's own batches, the
angle theta between z_t and z_t+1 measured from the embeddings. Left: its departure from
the small-angle law, 1 - theta / (eta G / N^2) (that is, minus angle/law - 1), against
x = eta G / N^2; the theory curve is the exact law's, 1 - atan(x) / x = x^2 / 3 + O(x^4),
the cubic correction of the angle. Right: the measured angle against the exact law
theta = atan(eta G / N^2) (law gd_angle_per_step), |theta / law - 1| against the norm N:
rounding at every norm, so long vectors turn as 1 / N^2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullLocator, ScalarFormatter

from normtheory import figures, laws
from normtheory.verify import accumulation

NAME = "fig7_effective_lr.png"


def main(out_dir: Path, tiny: bool = False) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (one entry per item and step)."""
    figures.enable_x64()
    config = accumulation.BASE
    if tiny:
        config = config.replace(num_items=40, dim=4, batch=16, steps=10)
    trace = accumulation.angle_trace(config)
    angle, small, norm = trace["angle"], trace["small_angle"], trace["norm"]
    law = laws.get("gd_angle_per_step")
    exact = np.asarray(law(N=norm, eta=config.lr, G2=trace["g2"]))
    offset = 1 - angle / small  # minus (angle / small-angle law - 1)
    exact_err = np.abs(angle / exact - 1)
    fine = np.geomspace(small.min(), small.max(), 200)
    # The exact law on the fine grid: N = 1 and G = x / eta give eta G / N^2 = x.
    curve = (
        1 - np.asarray(law(N=np.ones_like(fine), eta=config.lr, G2=(fine / config.lr) ** 2)) / fine
    )
    numbers = {
        "max_small_angle": float(small.max()),
        "max_offset": float(offset.max()),
        "max_rel_error_exact": float(exact_err.max()),
        "median_rel_error_exact": float(np.median(exact_err)),
        "max_offset_minus_cubic": float(np.max(np.abs(offset - small**2 / 3))),
    }
    with figures.style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.2))
        left.plot(small, offset, "o", ms=2.5, alpha=0.35, label="measured, every item and step")
        left.plot(fine, curve, "-", color="k", lw=1.2,
                  label=r"exact law: $1 - \arctan(x)/x \approx x^2/3$")  # fmt: skip
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel(r"small-angle law $x = \eta G / N^2$ (rad)")
        left.set_ylabel(r"$1 - \theta\,/\,(\eta G / N^2)$")
        left.set_title("departure from the small-angle law: the cubic term", fontsize=9)
        left.legend(loc="upper left")
        label = r"$|\theta / \arctan(\eta G / N^2) - 1|$ (0 drawn at $10^{-17}$)"
        right.plot(norm, np.maximum(exact_err, 1e-17), "o", ms=2.5, alpha=0.35, label=label)
        right.axhline(np.finfo(float).eps, color="0.5", lw=0.8, ls="--",
                      label="float64 machine epsilon")  # fmt: skip
        right.set_xscale("log")
        right.set_xticks([0.7, 0.8, 0.9, 1.0, 1.2, 1.5])
        right.xaxis.set_major_formatter(ScalarFormatter())
        right.xaxis.set_minor_locator(NullLocator())
        right.set_yscale("log")
        right.set_ylim(1e-17, 1e-10)
        right.set_xlabel("norm $N$")
        right.set_ylabel("relative error against the exact law")
        right.set_title(
            f"exact law at every norm: max error {numbers['max_rel_error_exact']:.1e}", fontsize=9
        )
        right.legend(loc="upper left")
        fig.suptitle(
            f"Effective learning rate, plain SGD, $\\eta$ = {config.lr:g}: "
            r"$\theta = \arctan(\eta G / N^2)$, float64"
        )
        fig.tight_layout()
        caption = (
            f"{len(angle)} angles (x = eta G / N^2 up to {numbers['max_small_angle']:.2g}): "
            f"1 - theta / x up to {numbers['max_offset']:.2g}, the cubic term x^2 / 3 to "
            f"{numbers['max_offset_minus_cubic']:.1e}; against the exact atan law max rel. "
            f"error {numbers['max_rel_error_exact']:.1e}"
        )
        arrays = {"small_angle": small, "angle": angle, "norm": norm, "offset": offset,
                  "exact": exact, "fine": fine, "curve": curve}  # fmt: skip
        return figures.finish(fig, Path(out_dir) / NAME, caption, numbers, arrays, summary=__doc__)


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv).path}")
