"""Figure 7 (THEORY.md item 7): angle per step against the norm, with eta G / N^2.

Plain SGD on the free table of `normtheory verify` (accumulation.BASE): for every item
in a batch and every step of a 50-step float64 run on the engine's own batches, the
angle between z_t and z_t+1 measured from the embeddings, against the law's small-angle
form eta G / N^2 (left), and the ratio of the two against N (right: it stays at 1 at
every norm, so long vectors turn as 1 / N^2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures
from normtheory.verify import accumulation

NAME = "fig7_effective_lr.png"


def main(out_dir: Path, tiny: bool = False) -> Path:
    """Draw the figure into out_dir and return its path."""
    figures.enable_x64()
    config = accumulation.BASE
    if tiny:
        config = config.replace(num_items=40, dim=4, batch=16, steps=10)
    trace = accumulation.angle_trace(config)
    angle, law, norm = trace["angle"], trace["small_angle"], trace["norm"]
    err = np.abs(angle / law - 1)
    with figures.style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
        lo, hi = law.min(), law.max()
        left.plot([lo, hi], [lo, hi], "-", color="k", label="law $\\eta G / N^2$")
        left.plot(law, angle, "o", ms=2, alpha=0.4, label="measured angle")
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel("$\\eta G / N^2$")
        left.set_ylabel("angle between $z_t$ and $z_{t+1}$ (rad)")
        left.legend(loc="lower right")
        figures.annotate(
            left,
            f"median rel. error {figures.percent(np.median(err))}\n"
            f"max {figures.percent(err.max())} (atan: x^2/3)",
        )
        right.plot(norm, angle / law, "o", ms=2, alpha=0.4, label="angle / ($\\eta G / N^2$)")
        right.axhline(1.0, color="k", label="law")
        right.set_xlabel("norm N")
        right.set_ylabel("measured angle / law")
        right.set_xscale("log")
        right.legend(loc="lower left")
        figures.annotate(
            right, "the same law at every norm:\nlong vectors turn as 1/N^2", loc="lower right"
        )
        fig.suptitle(f"Effective learning rate, plain SGD, $\\eta$={config.lr:g}")
        fig.tight_layout()
        return figures.save(fig, Path(out_dir) / NAME)


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv)}")
