"""Figure 5 (THEORY.md item 12): drift-heat equilibrium, measured over predicted N*^2.

One point per item, one panel per row of `normtheory verify drift_heat_equilibrium`
(free table with heavy ball and with AdamW, compositional encoder and MLP with heavy
ball), drawn from the verdict's own rows (`drift_heat._judge_row`, the function the
check runs for each row, with the same rate source: the compositional encoder's rates
come from its kernel, `drift_heat.rate_source`). Prediction: N*^2 = (D + sqrt(D^2 + 2
V^2)) / 2 with D and V from the drift and heat rates of a separate calibration run at
twice the weight decay (never from the run being judged). Every panel plots the measured
<N^2> (second half of the judged run) over the prediction on one shared log scale, so a
point's height is its error in the same units in every panel; the line at 1 is the law,
the band its median tolerance exp(+-tol) as the verdict judges it. On the compositional
encoder the items are the nodes of a concept tree and form two clusters: the leaves
(deepest level) at the larger N*^2, the internal nodes (root to one level above the
leaves) at the smaller.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from matplotlib import ticker
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from normtheory import figures
from normtheory.data.hierarchy import make_tree
from normtheory.verify import CHECKS, SEED_GROUPS, drift_heat, run_checks

NAME = "fig5_drift_heat.png"
# Shared y-range of every panel: measured / predicted N*^2.
RATIO_LIMITS = (0.25, 4.0)
VERDICT_COLORS = {"holds": "C2", "fails": "C1", "partial": "0.35", "inconclusive": "0.35"}


def regimes(tiny: bool = False) -> tuple[object, dict[str, dict]]:
    """(base config, {row name: changes}): the check's rows (tiny: two rows, small runs)."""
    base, rows = drift_heat.BASE, dict(drift_heat.REGIMES)
    if tiny:  # two regimes: each costs a compilation
        base = base.replace(num_items=40, dim=4, batch=16, steps=200)
        rows = dict(list(rows.items())[::2])
    return base, rows


def _groups(cfg, n: int) -> list[tuple[str, np.ndarray, str]]:
    """(label, item mask (n,), colour) of the item groups a panel of `n` items draws: the
    tree's leaves and internal nodes for hierarchy data, else all items in one group."""
    if cfg.data != "hierarchy":
        return [("items", np.ones(n, bool), "C0")]
    depth = np.asarray(make_tree(cfg.depth, cfg.branching).depth)
    leaves = depth == depth.max()
    return [
        (f"leaves (depth {depth.max()})", leaves, "C0"),
        (f"internal nodes (depth 0-{depth.max() - 1})", ~leaves, "C3"),
    ]


def _log_ticks(axis, values: np.ndarray) -> None:
    """Labelled ticks on a log axis spanning `values`: at 1 and 3 per decade over a decade
    or more, at four round linear steps over less (where a log locator labels one)."""
    if values.max() / values.min() >= 10:
        axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 3.0)))
    else:
        axis.set_major_locator(ticker.MaxNLocator(4))
    axis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _grouped_verdicts(base, seed_groups: int) -> dict:
    """{row: Result} of `normtheory verify drift_heat_equilibrium` at `base`, judged on
    `seed_groups` seed groups."""
    check_base = CHECKS["drift_heat_equilibrium"][1]
    fields = [f.name for f in dataclasses.fields(base)]
    changes = [
        f"{f}={getattr(base, f)!r}" for f in fields if getattr(base, f) != getattr(check_base, f)
    ]
    results, crashes = run_checks(["drift_heat_equilibrium"], changes, seed_groups=seed_groups)
    if crashes:
        raise RuntimeError(f"the verdicts figure 5 quotes crashed: {crashes}")
    return {r.row: r for r in results}


def main(out_dir: Path, tiny: bool = False, seed_groups: int | None = None) -> figures.FigureRecord:
    """Draw the figure into out_dir; return its record (per-item N*^2 and the verdicts).

    seed_groups: the verdicts' seed groups (default `normtheory verify`'s, one when tiny).
    """
    figures.enable_x64()
    base, rows = regimes(tiny)
    if seed_groups is None:
        seed_groups = 1 if tiny else SEED_GROUPS
    numbers: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    verdicts = []
    # The verdicts as `normtheory verify` states them, on its seed groups (the numbers
    # drawn are the first group's, which is the run judged below).
    grouped = _grouped_verdicts(base, seed_groups) if seed_groups > 1 else {}
    with figures.style():
        fig, axes = figures.subplots(1, len(rows), width="full", height=2.5, sharey=True)
        for ax, (name, changes) in zip(axes[0], rows.items(), strict=True):
            cfg = base.replace(**changes)
            source = drift_heat.rate_source(cfg)
            result = drift_heat._judge_row(cfg, name, source)
            verdict = grouped[name].verdict if name in grouped else result.verdict
            if name in grouped and grouped[name].measured != result.measured:
                raise RuntimeError(f"figure 5's run of {name} is not the one verify judged")
            parts = drift_heat.per_item(cfg, source)
            measured, predicted = parts["measured"], parts["predicted"]
            ratio = measured / predicted
            band = np.exp([-result.tolerance, result.tolerance])
            ax.axhspan(*band, color="0.88", lw=0, zorder=0)
            ax.axhline(1.0, color="k", lw=1.0, zorder=1)
            groups = _groups(cfg, len(measured))
            for _, mask, color in groups:
                ok = mask & (predicted > 0) & (measured > 0)
                ax.plot(predicted[ok], ratio[ok], "o", ms=2.2, alpha=0.7, color=color, mec="none")
            if len(groups) > 1:
                ax.legend(
                    handles=[
                        Line2D([], [], ls="", marker="o", ms=3, color=c, label=label)
                        for label, _, c in groups
                    ],
                    loc="lower right",
                    handletextpad=0.1,
                    borderaxespad=0.2,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(*RATIO_LIMITS)
            ax.set_xlabel(r"predicted $N_*^2$")
            color = VERDICT_COLORS.get(verdict, "k")
            ax.set_title(f"{name}\n")
            ax.text(0.5, 1.02, f"{verdict}, {result.fraction_holding:.0%} in tol.",
                    transform=ax.transAxes, ha="center", va="bottom", color=color)  # fmt: skip
            _log_ticks(ax.xaxis, predicted[predicted > 0])
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_yticks([0.25, 0.5, 1, 2, 4], ["1/4", "1/2", "1", "2", "4"])
            err = float(np.median(np.abs(predicted - measured) / measured))
            boost = float(np.median(parts["heat"] / parts["gradient_heat"]))
            numbers[f"{name}_median_rel_error"] = err
            numbers[f"{name}_heat_over_gradient_heat"] = boost
            numbers[f"{name}_median_log_error"] = result.rel_error
            numbers[f"{name}_tolerance"] = result.tolerance
            numbers[f"{name}_predicted_median"] = result.predicted
            numbers[f"{name}_measured_median"] = result.measured
            numbers[f"{name}_fraction_within_tolerance"] = result.fraction_holding
            numbers[f"{name}_fraction_low"] = result.fraction_low
            numbers[f"{name}_fraction_high"] = result.fraction_high
            arrays[f"{name}_measured"], arrays[f"{name}_predicted"] = measured, predicted
            outside = int(np.sum((ratio < RATIO_LIMITS[0]) | (ratio > RATIO_LIMITS[1])))
            numbers[f"{name}_items_off_scale"] = outside
            verdicts.append(
                f"{name}: median |log(measured / predicted)| {result.rel_error:.3f} (median "
                f"tolerance {result.tolerance:.3f}), {result.fraction_holding:.0%} of "
                f"{len(ratio)} items within tolerance, {verdict}"
                + (
                    f" (seed groups: {', '.join(grouped[name].groups)})"
                    if name in grouped and grouped[name].groups
                    else ""
                )
                + f"; heat / gradient heat "
                f"{boost:.2g}" + (f"; {outside} items off the plotted range" if outside else "")
            )
        axes[0, 0].set_ylabel(r"measured / predicted $N_*^2$")
        fig.legend(
            handles=[
                Line2D([], [], color="k", lw=1.0, label="law (item 12): measured = predicted"),
                Patch(color="0.88", label=r"median tolerance $e^{\pm\mathrm{tol}}$ of the verdict"),
                Line2D([], [], ls="", marker="o", ms=3, color="C0", label="items"),
            ],
            loc="outside lower center",
            ncols=3,
        )
        caption = (
            "Item 12, drift-heat equilibrium: measured <N^2> over the N*^2 predicted from a "
            "calibration run at twice the weight decay, per item, on one log scale for every "
            "panel (the verdict's rows): "
            + "; ".join(verdicts)
            + ". Heat / gradient heat is the median over items of the judged run's heat per "
            "step over the plain-gradient kick eta^2 G^2 / N^2: how much momentum or Adam's "
            "preconditioner amplifies the kick. On the compositional encoder the two clusters "
            "are the tree's leaves (larger N*^2) and its internal nodes (smaller)"
        )
        return figures.finish(
            fig, Path(out_dir) / NAME, caption, numbers, arrays, width="full", summary=__doc__
        )


if __name__ == "__main__":
    print(f"wrote {main(Path(__file__).resolve().parent, tiny='--tiny' in sys.argv).path}")
