"""Figure 9: the norm as a retrieval confidence score, per regime (`normtheory calibrate`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from normtheory.calibrate.analysis import SCORES, RegimeResult
from normtheory.calibrate.settings import FAMILIES

__all__ = ["draw"]

_MARK = {1: "^", -1: "v", 0: "D"}
_SIDE = {1: "theory: norm AUROC > 0.5", -1: "theory: norm AUROC < 0.5", 0: "theory: no dependence"}
_SCORE_MARKS = {"norm": "o", "top1_cosine": "s", "margin": "^", "combined": "D"}
_SCORE_LABELS = {
    "norm": "norm (filled)",
    "top1_cosine": "top-1 cosine",
    "margin": "margin top-1 $-$ top-2",
    "combined": "combined (logistic, out-of-fold)",
}


def measured(results: Sequence[RegimeResult]) -> dict[str, float]:
    """The numbers figure 9 reports: per family, regimes whose norm AUROC is on theory's
    side of 0.5 and whose interval lies above 0.5, and each regime's norm AUROC."""
    numbers: dict[str, float] = {}
    for family in FAMILIES:
        rows = [r for r in results if r.regime.config.data == family]
        if not rows:
            continue
        numbers[f"{family}_regimes"] = len(rows)
        numbers[f"{family}_on_theory_side"] = sum(r.verdict == "agrees" for r in rows)
        numbers[f"{family}_norm_auroc_above_half"] = sum(r.norm["auroc_lo"] > 0.5 for r in rows)
        for r in rows:
            numbers[f"{r.regime.name}_norm_auroc"] = float(r.norm["auroc"])
    return numbers


def caption(numbers: dict[str, float]) -> str:
    """One line from `measured`: per family, agreement with theory's side and usefulness."""
    parts = []
    for family in FAMILIES:
        if f"{family}_regimes" in numbers:
            n = int(numbers[f"{family}_regimes"])
            parts.append(
                f"{family}: norm AUROC on theory's side of 0.5 in "
                f"{int(numbers[f'{family}_on_theory_side'])} of {n} regimes, its 95% interval "
                f"above 0.5 in {int(numbers[f'{family}_norm_auroc_above_half'])} of {n}"
            )
    return "; ".join(parts)


def draw(results: Sequence[RegimeResult], path) -> object:
    """Accuracy per norm bin, selective accuracy and AUROC per score, one row per data family.

    Left: accuracy per min-max normalised norm bin (bins with >= 10 queries), one colour
    per regime (legend). Middle: selective accuracy against coverage, ranking by the norm
    (solid) and by the top-1 cosine (dotted). Right: AUROC of each score with its 95%
    bootstrap interval, one row per regime, one marker per score (legend), and theory's
    expected side of 0.5 for the norm at the left edge. Writes the numbers of `measured`
    beside the PNG (fig9_calibration.json). Returns the PNG's path.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from normtheory import figures

    families = [d for d in FAMILIES if any(r.regime.config.data == d for r in results)]
    numbers = measured(results)
    with figures.style():
        fig, axes = plt.subplots(
            len(families), 3, figsize=(17, 4.8 * len(families)), squeeze=False,
            width_ratios=(1, 1, 1.1),
        )  # fmt: skip
        for row, family in zip(axes, families, strict=True):
            rows = [r for r in results if r.regime.config.data == family]
            colors = plt.cm.tab10(np.arange(len(rows)))
            names = [r.regime.name.split("/", 1)[1] for r in rows]
            for r, color, label in zip(rows, colors, names, strict=True):
                centers = (r.bins.edges[:-1] + r.bins.edges[1:]) / 2
                ok = r.bins.valid
                row[0].plot(centers[ok], r.bins.accuracy[ok], "o-", ms=3, color=color, label=label)
                for name, style in (("norm", "-"), ("top1_cosine", ":")):
                    curve = r.curves[name]
                    row[1].plot(curve.coverage, curve.accuracy, style, color=color, lw=1.2)
            row[0].set_xlabel("min-max normalised query norm (bin centre)")
            row[0].set_ylabel("top-1 accuracy in bin")
            row[0].set_title(f"{family}: (a) accuracy per norm bin", fontsize=9)
            row[1].set_xlim(0.05, 1.0)
            row[1].set_xlabel("coverage (most confident fraction kept)")
            row[1].set_ylabel("selective accuracy")
            row[1].set_title(f"{family}: (b) selective accuracy", fontsize=9)
            styles = [
                Line2D([], [], color="0.3", ls="-", label="ranked by the norm"),
                Line2D([], [], color="0.3", ls=":", label="ranked by the top-1 cosine"),
            ]
            row[1].legend(handles=styles, loc="upper left", bbox_to_anchor=(0.0, -0.13),
                          ncols=2, fontsize=7.5, frameon=False)  # fmt: skip
            ax = row[2]
            scores = [s for s in SCORES if s in _SCORE_MARKS]  # the rest are in the table
            for i, (r, color) in enumerate(zip(rows, colors, strict=True)):
                by = {s["score"]: s for s in r.scores}
                for j, name in enumerate(scores):
                    s = by[name]
                    ax.errorbar(
                        s["auroc"],
                        i + (j - 1.5) * 0.18,
                        xerr=[[s["auroc"] - s["auroc_lo"]], [s["auroc_hi"] - s["auroc"]]],
                        fmt=_SCORE_MARKS[name],
                        color=color,
                        ms=4.5,
                        mfc=color if name == "norm" else "none",
                        lw=1,
                    )
                ax.plot(0.02, i, _MARK[r.expected_direction], color="k", ms=6,
                        transform=ax.get_yaxis_transform())  # fmt: skip
            ax.axvline(0.5, color="0.5", lw=0.8, ls="--")
            ax.set_yticks(range(len(rows)), names)
            ax.invert_yaxis()
            ax.set_xlabel("AUROC for a correct top-1 (95% bootstrap CI)")
            agree = int(numbers[f"{family}_on_theory_side"])
            useful = int(numbers[f"{family}_norm_auroc_above_half"])
            ax.set_title(
                f"{family}: (c) AUROC; norm on theory's side in {agree} of {len(rows)}, "
                f"above 0.5 in {useful} of {len(rows)}",
                fontsize=9,
            )
            regime_handles = [Line2D([], [], color=c, marker="o", ms=4, label=n)
                              for c, n in zip(colors, names, strict=True)]  # fmt: skip
            score_handles = [
                Line2D([], [], color="0.3", ls="", marker=m, ms=5,
                       mfc="0.3" if name == "norm" else "none", label=_SCORE_LABELS[name])
                for name, m in _SCORE_MARKS.items()
            ]  # fmt: skip
            side_handles = [Line2D([], [], color="k", ls="", marker=_MARK[d], ms=6,
                                   label=_SIDE[d]) for d in (1, -1, 0)]  # fmt: skip
            ax.legend(
                handles=[*regime_handles, *score_handles, *side_handles],
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                fontsize=7.5,
                title="regime (colour), score (marker)",
                title_fontsize=7.5,
            )
        fig.tight_layout()
        return figures.save(fig, path, caption=caption(numbers), measured=numbers)
