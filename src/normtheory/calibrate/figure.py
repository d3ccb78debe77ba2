"""Figure 9: the norm as a retrieval confidence score, per regime (`normtheory calibrate`).

Drawn from the calibration record (calibration.json, `normtheory.calibrate.records`),
the record REPORT.md's calibration table quotes. (a) A forest plot: per regime, the
AUROC for a correct top-1 of the norm and of the baselines (top-1 cosine, margin,
their out-of-fold logistic combination) with 95% bootstrap intervals; shaded, the side
of 0.5 derived for the norm, sign(rho_18) x sign(link) (item 18's mean field times the
feature-correctness link measured in calibration runs at other seeds,
`normtheory.calibrate.analysis`; none shaded where it predicts 0.5 or no side); a red
bar, the derived AUROC of the norm (Gaussian copula, `analysis.copula_auroc`); and the
verdict. (b) Per data family, the selective accuracy of the
queries kept when filtering by the norm, against the fraction kept, one line per regime.
The curves come from the retrieval arrays behind the record (the results cache), and a
curve that does not reproduce the record's accuracy at coverage 1 and 0.5 is refused.

Redraw from a record without retraining: `python -m normtheory.calibrate.figure
figures/calibration.json` (the arrays come from the results cache; a missing entry is
recomputed by the same deterministic run and checked against the record).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["NAME", "PLOTTED", "caption", "check_curve", "draw", "draw_record", "measured"]

NAME = "fig9_calibration.png"
# What the figure shows (its record's summary, listed by the report).
SUMMARY = (
    "the norm as a retrieval confidence score (`normtheory calibrate`): a forest plot of "
    "the AUROC of the norm, the top-1 cosine, the margin and their combination per regime "
    "with 95% intervals, the side and AUROC THEORY.md item 14b derives, and the selective "
    "accuracy when filtering by the norm."
)
# The scores the forest plot shows, in row order (the record may hold more).
PLOTTED = ("norm", "top1_cosine", "margin", "combined")
_FAMILIES = ("ambiguity", "hierarchy")
_SCORE_LABELS = {
    "norm": "norm",
    "top1_cosine": "top-1 cosine",
    "margin": "margin (top-1 $-$ top-2)",
    "combined": "logistic combination",
}
_SCORE_MARKS = {"norm": "o", "top1_cosine": "s", "margin": "^", "combined": "D"}
_SCORE_COLORS = {"norm": "k", "top1_cosine": "0.5", "margin": "0.5", "combined": "0.5"}
_OFFSETS = {"norm": -0.27, "top1_cosine": -0.09, "margin": 0.09, "combined": 0.27}
_OPT_LABELS = {"sgd": "SGD", "sgd+wd": "SGD + weight decay", "adamw": "AdamW"}
_OPT_COLORS = {"sgd": "C0", "sgd+wd": "C1", "adamw": "C2"}
_MODEL_LABELS = {"table": "free table", "mlp": "MLP", "compositional": "compositional"}
_FEATURE = {"ambiguity": "entropy", "hierarchy": "depth"}
_VERDICT_COLORS = {"agrees": "C2", "disagrees": "C1", "inconclusive": "0.35"}
_SIDE = {1: (0.5, 1.0), -1: (0.0, 0.5)}
_THEORY_COLOR = "C3"
# Coverage grid of the plotted curves (the exact curve at these fractions kept).
_GRID = np.round(np.arange(0.05, 1.0 + 1e-9, 0.01), 2)


def _fail(message: str) -> ValueError:
    return ValueError(f"figure 9: {message}")


def _regimes(calibration: Mapping) -> list[Mapping]:
    """The record's regimes, each checked for the fields the figure plots."""
    if not isinstance(calibration, Mapping) or not isinstance(calibration.get("regimes"), list):
        raise _fail("the calibration record has no list 'regimes' (is it calibration.json?)")
    rows = calibration["regimes"]
    if not rows:
        raise _fail("the calibration record has no regimes")
    for r in rows:
        for key in ("regime", "data", "model", "accuracy", "expected_direction", "verdict"):
            if key not in r:
                raise _fail(f"a regime of the record lacks {key!r}")
        if r["data"] not in _FAMILIES:
            raise _fail(f"{r['regime']}: data {r['data']!r} is not one of {list(_FAMILIES)}")
        names = {s.get("score") for s in r.get("scores", [])}
        missing = [s for s in PLOTTED if s not in names]
        if missing:
            raise _fail(f"{r['regime']}: the record has no score {', '.join(missing)}")
    return rows


def _optimizer(r: Mapping) -> str:
    """The regime's optimizer setting (sgd, sgd+wd, adamw): the last part of its name."""
    return str(r["regime"]).rsplit("/", 1)[-1]


def measured(calibration: Mapping) -> dict[str, float]:
    """The numbers figure 9 plots and names, all read from the calibration record.

    Args:
        calibration: calibration.json loaded (a mapping with "regimes", the records of
            `normtheory.calibrate.records`); other keys are ignored.

    Returns:
        Per regime R and plotted score S: "R/S/auroc", "R/S/auroc_lo", "R/S/auroc_hi";
        per regime "R/accuracy" (coverage 1), "R/norm/selective_accuracy_50" and
        "R/expected_direction" (the derived side; absent where it gives no side) and
        "R/predicted_auroc" (where the record has the derivation); per data family F:
        "F_regimes", "F_on_theory_side" (verdict "agrees") and "F_norm_auroc_above_half"
        (interval above 0.5).
    """
    rows = _regimes(calibration)
    numbers: dict[str, float] = {}
    for family in _FAMILIES:
        mine = [r for r in rows if r["data"] == family]
        if not mine:
            continue
        numbers[f"{family}_regimes"] = len(mine)
        numbers[f"{family}_on_theory_side"] = sum(r["verdict"] == "agrees" for r in mine)
        numbers[f"{family}_norm_auroc_above_half"] = sum(
            _score(r, "norm")["auroc_lo"] > 0.5 for r in mine
        )
    for r in rows:
        name = r["regime"]
        for score in PLOTTED:
            s = _score(r, score)
            for key in ("auroc", "auroc_lo", "auroc_hi"):
                numbers[f"{name}/{score}/{key}"] = float(s[key])
        numbers[f"{name}/accuracy"] = float(r["accuracy"])
        numbers[f"{name}/norm/selective_accuracy_50"] = float(
            _score(r, "norm")["selective_accuracy_50"]
        )
        if r["expected_direction"] is not None:
            numbers[f"{name}/expected_direction"] = float(r["expected_direction"])
        if "theory" in r:
            numbers[f"{name}/predicted_auroc"] = float(r["theory"]["predicted_auroc"])
    return numbers


def _score(r: Mapping, name: str) -> Mapping:
    return next(s for s in r["scores"] if s.get("score") == name)


def caption(numbers: Mapping[str, float]) -> str:
    """One line from `measured`: per family, agreement with the derived side and usefulness."""
    parts = []
    for family in _FAMILIES:
        if f"{family}_regimes" in numbers:
            n = int(numbers[f"{family}_regimes"])
            parts.append(
                f"{family}: norm AUROC on the derived side of 0.5 in "
                f"{int(numbers[f'{family}_on_theory_side'])} of {n} regimes, its 95% interval "
                f"above 0.5 in {int(numbers[f'{family}_norm_auroc_above_half'])} of {n}"
            )
    return "; ".join(parts)


def check_curve(record: Mapping, coverage: np.ndarray, accuracy: np.ndarray) -> None:
    """Refuse a selective-accuracy curve that is not the one behind `record`.

    The curve (k / n, accuracy of the k queries with the largest norm, k = 1..n) must have
    the record's n queries, its accuracy at coverage 1 must be the record's accuracy and
    its value at coverage 0.5 the record's `selective_accuracy_50` of the norm, exactly.

    Args: record, one regime of calibration.json; coverage, accuracy: (n,) arrays
    (`confidence.risk_coverage`). Raises: ValueError naming the regime and the quantity.
    """
    coverage, accuracy = np.asarray(coverage, float), np.asarray(accuracy, float)
    name, norm = record["regime"], _score(record, "norm")
    n = int(norm.get("n", record.get("n", len(accuracy))))
    if coverage.shape != accuracy.shape or len(accuracy) != n:
        raise _fail(f"{name}: the curve has {len(accuracy)} queries, the record {n}")
    half = accuracy[min(n, max(1, math.ceil(0.5 * n - 1e-9))) - 1]
    for what, got, want in (
        ("accuracy at coverage 1", accuracy[-1], record["accuracy"]),
        ("selective accuracy at coverage 0.5", half, norm["selective_accuracy_50"]),
    ):
        if float(got) != float(want):
            raise _fail(
                f"{name}: the curve's {what} is {float(got)!r}, the record's {float(want)!r}; "
                "the retrieval arrays are not the record's"
            )


def _on_grid(coverage: np.ndarray, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve at the fractions kept of _GRID (k = ceil(c n)): (grid (G,), accuracy (G,))."""
    n = len(accuracy)
    k = np.clip(np.ceil(_GRID * n - 1e-9).astype(int), 1, n)
    return k / n, accuracy[k - 1]


def _forest(ax, rows: Sequence[Mapping]) -> None:
    """(a): one row per regime, one interval per score, the derived side shaded and the
    derived AUROC of the norm marked."""
    y, ticks, labels, previous = 0.0, [], [], None
    for r in rows:
        if r["data"] != previous:
            y -= 0.6 if previous is None else 1.2
            ax.text(0.005, y, f"{r['data']} (feature: {_FEATURE[r['data']]})", style="italic",
                    ha="left", va="center", transform=ax.get_yaxis_transform())  # fmt: skip
            previous = r["data"]
        y -= 1
        side = _SIDE.get(r["expected_direction"])
        if side is not None:
            ax.fill_betweenx([y - 0.45, y + 0.45], *side, color="0.88", lw=0, zorder=0)
        if "theory" in r:
            at, row = r["theory"]["predicted_auroc"], y + _OFFSETS["norm"]
            ax.plot([at, at], [row - 0.2, row + 0.2], color=_THEORY_COLOR, lw=1.6, zorder=3)
        for score in PLOTTED:
            s = _score(r, score)
            color = _SCORE_COLORS[score]
            ax.errorbar(
                s["auroc"], y + _OFFSETS[score],
                xerr=[[s["auroc"] - s["auroc_lo"]], [s["auroc_hi"] - s["auroc"]]],
                fmt=_SCORE_MARKS[score], ms=3.2 if score == "norm" else 2.6, lw=0.8, capsize=0,
                color=color, mfc=color if score == "norm" else "white", mew=0.7,
            )  # fmt: skip
        ax.text(1.015, y, r["verdict"], transform=ax.get_yaxis_transform(), va="center",
                color=_VERDICT_COLORS.get(r["verdict"], "k"))  # fmt: skip
        ticks.append(y)
        labels.append(f"{_MODEL_LABELS.get(r['model'], r['model'])}, "
                      f"{_OPT_LABELS.get(_optimizer(r), _optimizer(r))}")  # fmt: skip
    ax.set_yticks(ticks, labels)
    ax.set_ylim(y - 0.7, 0.0)
    ax.set_xlim(0.0, 1.0)
    ax.axvline(0.5, color="0.4", lw=0.6, ls="--", zorder=1)
    ax.tick_params(axis="y", length=0)
    ax.grid(False, axis="y")
    ax.set_xlabel("AUROC for a correct top-1 (95% bootstrap CI)")
    ax.set_title("(a) AUROC per regime and score", loc="left")


def _selective(
    ax, rows: Sequence[Mapping], curves: Mapping, title: str, arrays: dict[str, np.ndarray]
) -> None:
    """(b), (c): selective accuracy against the fraction kept, ranking by the norm."""
    for r in rows:
        coverage, accuracy = _on_grid(*curves[r["regime"]])
        arrays[f"{r['regime']}/coverage"], arrays[f"{r['regime']}/accuracy"] = coverage, accuracy
        ls = "-" if r["model"] == "table" else "--"
        ax.plot(coverage, accuracy, ls=ls, color=_OPT_COLORS.get(_optimizer(r), "0.3"), lw=1.0)
    ax.set_xlim(1.0, 0.0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("selective accuracy")
    ax.set_title(title, loc="left")


def draw_record(
    calibration: Mapping,
    path: Path | str,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> Path:
    """Draw figure 9 from a calibration record and the norm's selective-accuracy curves.

    Args:
        calibration: calibration.json loaded (`measured` says what is read).
        path: the PNG's path; the PDF and the JSON record (`measured`, `caption`) go
            beside it.
        curves: per regime name, (coverage (n,), accuracy (n,)) of ranking its n queries
            by the norm (`confidence.risk_coverage`); each is checked against the
            record (`check_curve`).

    Returns:
        The PNG's path. Raises ValueError (one line) for a record without the plotted
        fields, a regime without its curve, or a curve that is not the record's.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from normtheory import figures

    rows = _regimes(calibration)
    for r in rows:
        if r["regime"] not in curves:
            raise _fail(f"no selective-accuracy curve for {r['regime']}")
        check_curve(r, *curves[r["regime"]])
    numbers = measured(calibration)
    families = [f for f in _FAMILIES if any(r["data"] == f for r in rows)]
    arrays: dict[str, np.ndarray] = {}
    with figures.style():
        fig = plt.figure(figsize=(figures.WIDTHS["full"], 1.3 + 0.27 * len(rows)))
        fig.set_layout_engine("constrained")
        grid = fig.add_gridspec(len(families), 2, width_ratios=(1.35, 1))
        _forest(fig.add_subplot(grid[:, 0]), rows)
        for i, family in enumerate(families):
            ax = fig.add_subplot(grid[i, 1])
            title = f"({'bc'[i]}) {family}"
            _selective(ax, [r for r in rows if r["data"] == family], curves, title, arrays)
            if i == len(families) - 1:
                ax.set_xlabel("fraction kept, longest first")
        blank = Line2D([], [], ls="", label=" ")
        scores = [
            Line2D([], [], ls="", marker=_SCORE_MARKS[s], color=_SCORE_COLORS[s], ms=3.5,
                   mfc=_SCORE_COLORS[s] if s == "norm" else "white", label=_SCORE_LABELS[s])
            for s in PLOTTED
        ]  # fmt: skip
        optimizers = list(dict.fromkeys(_optimizer(r) for r in rows))
        lines = [
            Line2D([], [], color=_OPT_COLORS.get(o, "0.3"), label=_OPT_LABELS.get(o, o))
            for o in optimizers
        ]
        lines = [*lines, *[blank] * (3 - len(lines))][:3]
        side = Patch(color="0.88", label="derived side for the norm")
        derived = Line2D([], [], color=_THEORY_COLOR, lw=1.6, label="derived norm AUROC")
        models = [
            Line2D([], [], color="0.3", ls="-", label="free table"),
            Line2D([], [], color="0.3", ls="--", label="MLP / compositional"),
        ]
        unshaded = Line2D([], [], ls="", label="unshaded: 0.5 or no side")
        grid_rows = [scores, [*lines, side], [*models, derived, unshaded]]
        # A legend fills column by column: transpose the rows above into that order.
        handles = [row[col] for col in range(4) for row in grid_rows]
        fig.legend(handles=handles, loc="outside lower center", ncols=4)
        figures.save(
            fig, path, caption=caption(numbers), measured=numbers, width="full", summary=SUMMARY
        )
    return Path(path)


def draw(results: Sequence, path: Path | str) -> Path:
    """Figure 9 from `calibrate(...)`'s results: their records and the norm's curves.

    Args: results, `RegimeResult`s; path, the PNG's path. Returns: the PNG's path.
    """
    from normtheory.calibrate.analysis import records

    curves = {r.regime.name: (r.curves["norm"].coverage, r.curves["norm"].accuracy)
              for r in results}  # fmt: skip
    return draw_record({"regimes": records(results)}, path, curves)


def cached_curves(
    calibration: Mapping, log: Callable[[str], object] = print
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The norm's selective-accuracy curve of every regime of a calibration record.

    The retrieval arrays come from `run.cached_retrieval` at the record's seeds and
    `--set` changes (loaded from the results cache; on a miss the same deterministic run
    computes them). Returns: per regime name, (coverage (n,), accuracy (n,)).
    """
    from normtheory import confidence
    from normtheory.calibrate.run import cached_retrieval
    from normtheory.calibrate.settings import regimes
    from normtheory.config import parse_assignments

    rows = _regimes(calibration)
    if not isinstance(calibration.get("seeds"), int):
        raise _fail("the calibration record has no integer 'seeds'")
    known = {r.name: r for r in regimes(changes=parse_assignments(calibration.get("set", [])))}
    curves = {}
    for r in rows:
        if r["regime"] not in known:
            raise _fail(f"unknown regime {r['regime']!r} in the record")
        arrays = cached_retrieval(known[r["regime"]].config, calibration["seeds"], log=log)
        curve = confidence.risk_coverage(arrays["norm"], arrays["correct"])
        curves[r["regime"]] = (curve.coverage, curve.accuracy)
    return curves


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw figure 9 from calibration.json: `python -m normtheory.calibrate.figure FILE`."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Redraw figure 9 from a calibration record.")
    parser.add_argument("record", type=Path, help="calibration.json")
    parser.add_argument("--out", type=Path, help="folder of the figure (default: the record's)")
    args = parser.parse_args(argv)
    try:
        calibration = json.loads(args.record.read_text(encoding="utf-8"))
        curves = cached_curves(calibration, log=lambda m: print(m, file=sys.stderr))
        path = draw_record(calibration, (args.out or args.record.parent) / NAME, curves)
    except (OSError, ValueError) as error:
        print(f"normtheory.calibrate.figure: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
