"""Figure 13: the toy trained on WordNet against all-MiniLM-L6-v2, word by word (`make bridge`).

A forest plot of Spearman's rho between the toy's final norm (seed mean) and the real
model's norm before Normalize, over the bridge's nouns, one row per regime (model /
optimizer / frequency mode of the word-less synsets) with its 95% bootstrap interval,
beside the baselines that need no training dynamics (log frequency, word pieces, depth
and their cross-validated linear combination); the shaded band is the interval of the
last baseline, the one every regime is compared with. Drawn from the bridge record
(bridge.json) alone, the record REPORT.md's bridge section quotes; the word-by-word
scatters of every regime go to a supplement figure, fig13_bridge_scatter.png.

Redraw from a record: `python -m normtheory.bridge.figure figures/bridge.json`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["NAME", "SCATTER", "caption", "draw", "measured"]

NAME = "fig13_bridge.png"
SCATTER = "fig13_bridge_scatter.png"
# What the figures show (their records' summaries, listed by the report).
SUMMARY = (
    "the toy trained on WordNet nouns with their real frequencies (`make bridge`): a forest "
    "plot of rho(toy, real norm) per regime with 95% intervals beside the no-dynamics "
    "baselines (the word-by-word scatters in fig13_bridge_scatter.png)."
)
SCATTER_SUMMARY = (
    "the bridge word by word: the toy's norm against the real model's norm, one panel per "
    "regime of figure 13 and the no-dynamics baseline's prediction."
)
_MODEL_LABELS = {"table": "free table", "compositional": "compositional"}
_OPT_LABELS = {"sgd": "SGD", "momentum": "momentum", "adam": "Adam", "adamw": "AdamW"}
_MODE_COLORS = {"coupled": "C0", "decoupled": "C1"}
_MODE_LABELS = {
    "coupled": "coupled (synset: its subtree's frequency)",
    "decoupled": "decoupled (synsets: one frequency)",
}


def _fail(message: str) -> ValueError:
    return ValueError(f"figure 13: {message}")


def _interval(entry: Mapping, what: str) -> tuple[float, float, float]:
    """(rho, lo, hi) of a record entry; NaN for a null (an undefined correlation)."""
    try:
        values = tuple(
            math.nan if entry[k] is None else float(entry[k]) for k in ("rho", "lo", "hi")
        )
    except (KeyError, TypeError, ValueError):
        raise _fail(f"{what} has no numbers rho, lo, hi") from None
    return values


def _checked(record: Mapping) -> tuple[list[Mapping], list[Mapping]]:
    """(regimes, baselines) of a bridge record, each with the fields the figure plots."""
    if not isinstance(record, Mapping):
        raise _fail("the bridge record is not a JSON object (is it bridge.json?)")
    regimes, baselines = record.get("regimes"), record.get("baselines")
    if not isinstance(regimes, list) or not regimes:
        raise _fail("the bridge record has no regimes (is it bridge.json?)")
    if not isinstance(baselines, list) or not baselines:
        raise _fail("the bridge record has no baselines")
    for r in regimes:
        if not isinstance(r, Mapping) or "name" not in r or "compare" not in r:
            raise _fail("a regime of the record lacks 'name' or 'compare'")
        _interval(r["compare"], f"regime {r['name']}")
    for b in baselines:
        if not isinstance(b, Mapping) or "name" not in b:
            raise _fail("a baseline of the record lacks 'name'")
        _interval(b, f"baseline {b['name']}")
    if not all(math.isfinite(v) for v in _interval(baselines[-1], "the last baseline")):
        raise _fail(f"the compared baseline {baselines[-1]['name']!r} has no interval")
    return regimes, baselines


def measured(record: Mapping) -> dict[str, float]:
    """The numbers figure 13 plots, all read from the bridge record.

    Args:
        record: bridge.json loaded (`run.BridgeResult.record`); other keys are ignored.

    Returns:
        Per regime R: "R/rho", "R/rho_lo", "R/rho_hi" (its "compare" entry); per baseline
        B: "baseline/B/rho", "baseline/B/rho_lo", "baseline/B/rho_hi" (NaN where the
        record has null: a constant feature); "regimes" and "regimes_above_baseline"
        (regimes whose rho interval lies above the compared baseline's).
    """
    regimes, baselines = _checked(record)
    numbers: dict[str, float] = {}
    for r in regimes:
        rho, lo, hi = _interval(r["compare"], r["name"])
        numbers |= {f"{r['name']}/rho": rho, f"{r['name']}/rho_lo": lo, f"{r['name']}/rho_hi": hi}
    for b in baselines:
        rho, lo, hi = _interval(b, b["name"])
        key = f"baseline/{b['name']}"
        numbers |= {f"{key}/rho": rho, f"{key}/rho_lo": lo, f"{key}/rho_hi": hi}
    reference = _interval(baselines[-1], baselines[-1]["name"])
    numbers["regimes"] = len(regimes)
    numbers["regimes_above_baseline"] = sum(
        _interval(r["compare"], r["name"])[1] > reference[2] for r in regimes
    )
    return numbers


def caption(record: Mapping) -> str:
    """One line of what figure 13 measured, from the bridge record."""
    regimes, baselines = _checked(record)
    best = max(regimes, key=lambda r: r["compare"]["rho"])
    rho, lo, hi = _interval(best["compare"], best["name"])
    b_rho, b_lo, b_hi = _interval(baselines[-1], baselines[-1]["name"])
    above = measured(record)["regimes_above_baseline"]
    return (
        f"Spearman rho of toy against real norm over {len(regimes)} regimes: best "
        f"{best['name']} {rho:+.3f} [{lo:+.3f}, {hi:+.3f}]; no-dynamics baseline "
        f"({baselines[-1]['name']}) {b_rho:+.3f} [{b_lo:+.3f}, {b_hi:+.3f}]; regimes whose "
        f"interval lies above the baseline's: {int(above)} of {len(regimes)}"
    )


def _label(r: Mapping) -> str:
    parts = str(r["name"]).split("/")
    if len(parts) == 3:
        return f"{_OPT_LABELS.get(parts[1], parts[1])}, {parts[2]}"
    return str(r["name"])


def _forest(ax, regimes: Sequence[Mapping], baselines: Sequence[Mapping]) -> None:
    """One row per regime and per baseline: rho with its interval; the band is the compared
    baseline's interval."""
    y, ticks, labels, previous = 0.0, [], [], None

    def header(text: str) -> None:
        nonlocal y
        y -= 0.6 if previous is None else 1.2
        ax.text(0.005, y, text, style="italic", ha="left", va="center",
                transform=ax.get_yaxis_transform())  # fmt: skip

    for r in regimes:
        model = str(r["name"]).split("/")[0]
        if model != previous:
            header(f"toy: {_MODEL_LABELS.get(model, model)}")
            previous = model
        y -= 1
        rho, lo, hi = _interval(r["compare"], r["name"])
        mode = str(r["name"]).rsplit("/", 1)[-1]
        ax.errorbar(rho, y, xerr=[[rho - lo], [hi - rho]], fmt="o", ms=3.2, lw=0.9, capsize=0,
                    color=_MODE_COLORS.get(mode, "k"))  # fmt: skip
        ticks.append(y)
        labels.append(_label(r))
    header("no dynamics (word features)")
    for b in baselines:
        y -= 1
        rho, lo, hi = _interval(b, b["name"])
        if math.isfinite(rho):
            ax.errorbar(rho, y, xerr=[[rho - lo], [hi - rho]], fmt="D", ms=3.2, lw=0.9,
                        capsize=0, color="0.3", mfc="white", mew=0.8)  # fmt: skip
        else:
            note = f"n/a ({b.get('note', 'undefined')})"  # a constant feature has no rho
            ax.text(0.02, y, note, ha="left", va="center", color="0.3",
                    transform=ax.get_yaxis_transform())  # fmt: skip
        ticks.append(y)
        labels.append(str(b["name"]))
    _, b_lo, b_hi = _interval(baselines[-1], baselines[-1]["name"])
    ax.axvspan(b_lo, b_hi, color="0.88", lw=0, zorder=0)
    ax.axvline(0, color="0.4", lw=0.6)
    ax.set_yticks(ticks, labels)
    ax.set_ylim(y - 0.7, 0.0)
    ax.tick_params(axis="y", length=0)
    ax.grid(False, axis="y")


def draw(record: Mapping, out_dir: Path | str) -> Path:
    """Draw figure 13 (the forest plot) and its supplement (the scatters) into out_dir.

    Args:
        record: the bridge record (`run.BridgeResult.record`, or bridge.json loaded).
        out_dir: the folder; fig13_bridge.{png,pdf,json} and
            fig13_bridge_scatter.{png,pdf,json} are written there.

    Returns:
        The forest plot's PNG path. Raises ValueError (one line) for a record without the
        plotted fields.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from normtheory import figures

    regimes, baselines = _checked(record)
    numbers = measured(record)
    out_dir = Path(out_dir)
    with figures.style():
        rows = len(regimes) + len(baselines) + 3
        fig, ax = plt.subplots(figsize=(figures.WIDTHS["column"], 0.9 + 0.16 * rows),
                               layout="constrained")  # fmt: skip
        _forest(ax, regimes, baselines)
        ax.set_xlabel(r"Spearman $\rho$(toy, real norm), 95% CI")
        modes = [m for m in _MODE_COLORS if any(str(r["name"]).endswith("/" + m) for r in regimes)]
        handles = [Line2D([], [], ls="", marker="o", ms=3.5, color=_MODE_COLORS[m],
                          label=_MODE_LABELS[m]) for m in modes]  # fmt: skip
        handles += [
            Line2D(
                [],
                [],
                ls="",
                marker="D",
                ms=3.5,
                color="0.3",
                mfc="white",
                label="no-dynamics baseline",
            ),
            Patch(color="0.88", label=f"{baselines[-1]['name']}: 95% CI"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=1)
        figures.save(fig, out_dir / NAME, caption=caption(record), measured=numbers,
                     width="column", summary=SUMMARY)  # fmt: skip
        _scatter(record, regimes, baselines, out_dir / SCATTER)
    return out_dir / NAME


def _scatter(record: Mapping, regimes, baselines, path: Path) -> None:
    """Supplement: every regime's toy norm against the real norm, word by word."""

    from normtheory import figures

    per_word = record.get("per_word")
    if not isinstance(per_word, Mapping) or "real" not in per_word or "toy" not in per_word:
        raise _fail("the bridge record has no per-word arrays ('per_word': real, toy)")
    real = np.asarray(per_word["real"], float)
    panels = [(r["name"], np.asarray(per_word["toy"][r["name"]], float), r["compare"])
              for r in regimes]  # fmt: skip
    if "baseline" in per_word:
        panels.append(
            (f"no dynamics: {baselines[-1]['name']}", np.asarray(per_word["baseline"], float),
             baselines[-1])
        )  # fmt: skip
    cols = min(4, len(panels))
    n_rows = math.ceil(len(panels) / cols)
    fig, axes = figures.subplots(n_rows, cols, width="full", height=1.45 * n_rows)
    flat = axes.ravel()
    for ax, (name, y, stats) in zip(flat, panels, strict=False):
        rho, lo, hi = _interval(stats, name)
        ax.scatter(real, y, s=1.5, alpha=0.35, lw=0, rasterized=True)
        short = name.replace("compositional/", "comp./").replace("/momentum/", "/mom./")
        short = short.replace("linear combination", "lin. comb.")
        ax.set_title(f"{short}\n$\\rho$ = {rho:+.2f} [{lo:+.2f}, {hi:+.2f}]", fontsize=7)
    for ax in flat[len(panels) :]:
        ax.set_axis_off()
    fig.supxlabel("real norm (before Normalize)")
    fig.supylabel("toy norm (last: baseline's prediction)")
    words = len(real)
    text = (
        f"Toy norm against the real model's norm, word by word ({words} nouns), one panel per "
        f"regime of figure 13 and the no-dynamics baseline's out-of-fold prediction"
    )
    figures.save(fig, path, caption=text, width="full", summary=SCATTER_SUMMARY)


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw figure 13 from bridge.json: `python -m normtheory.bridge.figure FILE`."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Redraw figure 13 from a bridge record.")
    parser.add_argument("record", type=Path, help="bridge.json")
    parser.add_argument("--out", type=Path, help="folder of the figure (default: the record's)")
    args = parser.parse_args(argv)
    try:
        record = json.loads(args.record.read_text(encoding="utf-8"))
        path = draw(record, args.out or args.record.parent)
    except (OSError, ValueError) as error:
        print(f"normtheory.bridge.figure: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
