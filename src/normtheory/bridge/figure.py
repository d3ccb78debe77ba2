"""Figure 13: the toy's norm against all-MiniLM-L6-v2's norm, word by word.

One panel per regime (model / optimizer / frequency mode): every word is a point at
(real norm, toy's seed-mean final norm), with the Spearman rho and its bootstrap
interval in the panel's title; a last panel shows the no-dynamics baseline (the out-of-fold
linear prediction from log frequency, word pieces and depth) the same way. Drawn from
the record alone (its "per_word" arrays), so bridge.json is enough to redraw it.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures

__all__ = ["NAME", "caption", "draw", "measured"]

NAME = "fig13_bridge.png"


def _panel(ax: plt.Axes, real: np.ndarray, y: np.ndarray, title: str, label: str, rho: dict):
    ax.scatter(real, y, s=3, alpha=0.35, lw=0, rasterized=True)
    ax.set_title(
        f"{title}\n$\\rho$ = {rho['rho']:+.3f} [{rho['lo']:+.3f}, {rho['hi']:+.3f}]", fontsize=7.5
    )
    ax.set_ylabel(label, fontsize=7)
    ax.tick_params(labelsize=6)


def measured(record: dict) -> dict[str, float]:
    """The numbers figure 13 reports: each regime's and the baseline's Spearman rho."""
    numbers = {f"rho_{r['name']}": r["compare"]["rho"] for r in record["regimes"]}
    baseline = record["baselines"][-1]
    numbers["rho_baseline"] = baseline["rho"]
    numbers["rho_best"] = record["best"]["rho"]
    return numbers


def caption(record: dict) -> str:
    """One line of what figure 13 measured, from the bridge record."""
    best, baseline = record["best"], record["baselines"][-1]
    return (
        f"Spearman rho of toy against real norm over {len(record['regimes'])} regimes: best "
        f"{best['name']} {best['rho']:+.3f} [{best['lo']:+.3f}, {best['hi']:+.3f}], against "
        f"the no-dynamics baseline ({baseline['name']}) {baseline['rho']:+.3f} "
        f"[{baseline['lo']:+.3f}, {baseline['hi']:+.3f}]"
    )


def draw(record: dict, out_dir: Path | str) -> Path:
    """Draw every regime's panel and the baseline's into out_dir/fig13_bridge.png.

    Args: record, the bridge record (`run.BridgeResult.record` or bridge.json loaded);
    out_dir, the folder. Returns: the PNG's path.
    """
    per_word = record["per_word"]
    real = np.asarray(per_word["real"])
    panels = len(record["regimes"]) + 1
    cols = min(5, panels)
    rows = math.ceil(panels / cols)
    with figures.style():
        fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.6 * rows), squeeze=False)
        flat = axes.ravel()
        for ax, regime in zip(flat, record["regimes"], strict=False):
            _panel(
                ax,
                real,
                np.asarray(per_word["toy"][regime["name"]]),
                regime["name"],
                "toy norm",
                regime["compare"],
            )
        baseline = record["baselines"][-1]
        _panel(
            flat[panels - 1],
            real,
            np.asarray(per_word["baseline"]),
            "no dynamics: " + baseline["name"],
            "predicted real norm",
            baseline,
        )
        for ax in flat[panels:]:
            ax.set_axis_off()
        for ax in flat[max(0, panels - cols) : panels]:
            ax.set_xlabel("real norm (before Normalize)", fontsize=7)
        fig.suptitle(
            f"Toy vs {record['model']}: {record['vocabulary']['size']} nouns, "
            f"{record['settings']['seeds']} seeds per regime (Spearman $\\rho$, 95% bootstrap CI)",
            fontsize=10,
        )
        fig.tight_layout()
        return figures.save(
            fig, Path(out_dir) / NAME, caption=caption(record), measured=measured(record)
        )
