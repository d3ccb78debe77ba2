"""Figure 10: the norm before normalisation of all-MiniLM-L6-v2 on common English nouns.

Panels: (a) norm against log frequency; (b) mean norm by WordNet depth, with the number
of words at each depth; (c) sign-test fraction per sentence frame (hyponym longer than
hypernym); (d) retrieval accuracy per bin of the norm rescaled to [0, 1], with its
binomial standard error and the number of words per bin; (e) selective accuracy against
coverage for each
confidence score; (f) AUROC of each score with its bootstrap interval. Without WordNet
panels (b)-(f) say why they are empty.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from normtheory import figures
from normtheory.confidence import risk_coverage
from normtheory.probe.run import ProbeResult

__all__ = ["NAME", "caption", "draw", "measured"]

NAME = "fig10_probe.png"
# What the figure shows (its record's summary, listed by the report).
SUMMARY = (
    "a real encoder (`normtheory probe`): norm against word frequency and WordNet depth, "
    "the hypernym-to-hyponym sign test, and the norm as a confidence score for "
    "word-to-definition retrieval."
)
_LABELS = {
    "norm": "norm",
    "top1_cosine": "top-1 cosine",
    "margin": "top-1 - top-2",
    "combined": "combined (logistic, out-of-fold)",
    "combined_without_norm": "combined without norm",
}


# Short names of the partial correlations' controls, for panel titles.
_CONTROLS = {"log frequency": "frequency", "word pieces": "pieces"}


def _rho_text(record: dict) -> str:
    """`rho = +0.15 [+0.12, +0.18]`, or `given frequency, pieces: ...` for a partial one."""
    ci = "" if record["lo"] is None else f" [{record['lo']:+.2f}, {record['hi']:+.2f}]"
    if record["controls"]:
        given = ", ".join(_CONTROLS.get(c, c) for c in record["controls"])
        return f"given {given}: {record['rho']:+.2f}{ci}"
    return f"$\\rho$ = {record['rho']:+.2f}{ci}"


def _counts(ax: plt.Axes, x: np.ndarray, count: np.ndarray, width: float) -> None:
    """The number of words behind each point of `ax`: light bars on a right-hand axis,
    kept to the lower third of the panel so they stay clear of the points."""
    twin = ax.twinx()
    twin.bar(x, count, width=width, color="0.82", lw=0, zorder=0)
    twin.set_ylim(0, 3 * max(float(np.max(count)), 1.0))
    twin.set_ylabel("words per bin", color="0.45")
    twin.tick_params(axis="y", colors="0.45")
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)


def _text(text: str) -> str:
    """`text` shown literally by matplotlib: a dollar sign would start math text."""
    return text.replace("$", r"\$")


def measured(record: dict) -> dict[str, float]:
    """The numbers figure 10 reports, from the probe record (probe.json)."""
    numbers: dict[str, float] = {}
    for r in record.get("correlations", []):
        given = "_given_" + "_".join(r["controls"]) if r["controls"] else ""
        key = (r["name"] + given).replace(" ~ ", "_vs_").replace(" ", "_")
        numbers[f"rho_{key}"] = r["rho"]
    frames = record.get("sign_test", {}).get("frames", [])
    for i, f in enumerate(frames):
        numbers[f"hyponym_longer_fraction_frame{i}"] = f["fraction"]
        numbers[f"hyponym_longer_p_frame{i}"] = f["p"]
    for s in (record.get("retrieval") or {}).get("scores", []):
        numbers[f"auroc_{s['score']}"] = s["auroc"]
        numbers[f"auroc_{s['score']}_lo"] = s["auroc_lo"]
        numbers[f"auroc_{s['score']}_hi"] = s["auroc_hi"]
    return numbers


def caption(record: dict) -> str:
    """One line of what figure 10 measured, from the probe record."""
    parts = []
    corr = record.get("correlations", [])
    for name, partial in (("norm ~ log frequency", True), ("norm ~ depth", True)):
        r = _find(corr, name, partial) or _find(corr, name, False)
        if r:
            given = f" given {', '.join(r['controls'])}" if r["controls"] else ""
            parts.append(f"Spearman {name}{given} {r['rho']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}]")
    frames = record.get("sign_test", {}).get("frames", [])
    if frames:
        fractions = [f["fraction"] for f in frames]
        parts.append(
            f"hyponym longer than its hypernym in {min(fractions):.2f} to {max(fractions):.2f} "
            f"of {frames[0]['n']} pairs over {len(frames)} frames"
        )
    retrieval = record.get("retrieval")
    if retrieval:
        norm = next(s for s in retrieval["scores"] if s["score"] == "norm")
        parts.append(
            f"retrieval AUROC of the norm {norm['auroc']:.3f} "
            f"[{norm['auroc_lo']:.3f}, {norm['auroc_hi']:.3f}]"
        )
    return "; ".join(parts)


def _find(correlations: list[dict], name: str, partial: bool) -> dict | None:
    for record in correlations:
        if record["name"] == name and bool(record["controls"]) == partial:
            return record
    return None


def _skipped(ax: plt.Axes, title: str, reason: str) -> None:
    ax.set_title(title)
    ax.text(
        0.5, 0.5, "skipped:\n" + textwrap.fill(reason, 45), ha="center", va="center", fontsize=7
    )
    ax.set_axis_off()


def _frequency(ax: plt.Axes, result: ProbeResult) -> None:
    ax.scatter(result.log_frequency, result.norm, s=2, alpha=0.25, lw=0, rasterized=True)
    ax.set_xlabel(r"$\log_{10}$ frequency (Zipf scale)")
    ax.set_ylabel("norm before normalisation")
    lines = [
        _rho_text(r) for r in result.record["correlations"] if r["name"] == "norm ~ log frequency"
    ]
    lines = list(dict.fromkeys(lines))
    ax.set_title("\n".join(["(a) norm vs frequency, bare words", *lines[:2]]), fontsize=8.5)


def _depth(ax: plt.Axes, result: ProbeResult) -> None:
    depths = np.unique(result.depth)
    mean = np.array([result.norm[result.depth == d].mean() for d in depths])
    std = np.array([result.norm[result.depth == d].std() for d in depths])
    count = np.array([np.sum(result.depth == d) for d in depths])
    keep = count >= 5
    _counts(ax, depths[keep], count[keep], 0.7)
    ax.errorbar(depths[keep], mean[keep], yerr=std[keep], fmt="o-", ms=3)
    ax.set_xlabel("WordNet depth of first noun sense")
    ax.set_ylabel(r"norm before normalisation (mean $\pm$ s.d.)")
    corr = result.record["correlations"]
    lines = [
        _rho_text(r)
        for r in (_find(corr, "norm ~ depth", False), _find(corr, "norm ~ depth", True))
        if r
    ]
    ax.set_title("\n".join(["(b) norm by specificity", *lines]), fontsize=8.5)


def _frames(ax: plt.Axes, record: dict) -> None:
    frames = record["frames"]
    x = np.arange(len(frames))
    keys = (("", "all pairs", "all"), ("hyponym_rarer", "hyponym rarer", "rarer"),
            ("hyponym_more_frequent", "hyponym more frequent", "more frequent"))  # fmt: skip
    for k, (key, label, _) in enumerate(keys):
        values = [((f.get(key) or {}) if key else f).get("fraction") for f in frames]
        values = [np.nan if v is None else v for v in values]
        known = [v for v in values if np.isfinite(v)]
        span = f" ({min(known):.2f} to {max(known):.2f})" if known else ""
        ax.bar(x + (k - 1) * 0.27, values, width=0.27, label=label + span)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ticks = [_text(textwrap.fill(f'"{f["frame"]}"', 16)) for f in frames]
    ax.set_xticks(x, ticks, fontsize=7)
    ax.set_ylabel("fraction: hyponym norm > hypernym norm")
    ax.set_ylim(0, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title(f"(c) sign test, {record['pairs']} hypernym pairs")
    ax.legend(loc="upper left", ncols=1, fontsize=6.5, title="pairs (range over frames)",
              title_fontsize=6.5)  # fmt: skip
    for xi, f in zip(x, frames, strict=True):
        if f.get("p") is not None:
            ax.text(xi, 0.03, f"$p$ = {f['p']:.2g}", ha="center", fontsize=6.5)


def _bins(ax: plt.Axes, record: dict) -> None:
    norm = next(r for r in record["scores"] if r["score"] == "norm")
    bins = norm["bins"]
    edges = np.asarray(bins["edges"])
    centre = 0.5 * (edges[1:] + edges[:-1])
    accuracy = np.array([np.nan if a is None else a for a in bins["accuracy"]])
    label = r"accuracy per norm bin ($\geq$ 10 words"
    if bins.get("count") is None:  # a record without per-bin counts: the points alone
        ax.plot(centre, accuracy, "o-", ms=3, label=label + ")")
    else:
        count = np.asarray(bins["count"], float)
        shown = np.isfinite(accuracy)
        _counts(ax, centre[shown], count[shown], 0.8 * float(np.diff(edges).min()))
        # Binomial standard error of each bin's accuracy, from its word count.
        se = np.sqrt(accuracy * (1 - accuracy) / np.maximum(count, 1))
        ax.errorbar(centre, accuracy, yerr=se, fmt="o-", ms=3, label=label + r"; $\pm$ 1 s.e.)")
    ax.axhline(record["accuracy"], color="k", lw=0.8, ls="--", label="overall accuracy")
    ax.set_xlabel(
        f"norm, rescaled to [0, 1] (from {bins['score_min']:.2f} to {bins['score_max']:.2f})"
    )
    ax.set_ylabel(r"top-1 accuracy, word $\rightarrow$ definition")
    ax.set_title("(d) retrieval accuracy by norm")
    ax.set_ylim(0, min(1.0, max(0.5, float(np.nanmax(accuracy, initial=0.0)) + 0.15)))
    ax.legend(loc="upper left")


def _selective(ax: plt.Axes, result: ProbeResult) -> None:
    top = 0.0
    for name, score in result.scores.items():
        curve = risk_coverage(score, result.correct)
        ax.plot(curve.coverage, curve.accuracy, label=_LABELS.get(name, name))
        top = max(top, float(np.max(curve.accuracy[curve.coverage >= 0.02])))
    ax.axhline(float(np.mean(result.correct)), color="k", lw=0.8, ls="--")
    ax.set_xlabel("coverage (most confident fraction kept)")
    ax.set_ylabel("selective accuracy")
    ax.set_title("(e) selective retrieval")
    ax.set_ylim(0, min(1.02, top + 0.15))
    ax.legend(loc="upper right")


def _auroc(ax: plt.Axes, record: dict) -> None:
    scores = record["scores"]
    x = np.arange(len(scores))
    value = np.array([r["auroc"] for r in scores])
    err = np.array([[r["auroc"] - r["auroc_lo"], r["auroc_hi"] - r["auroc"]] for r in scores]).T
    ax.errorbar(x, value, yerr=err, fmt="o", ms=5)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ticks = [
        f"{textwrap.fill(_LABELS.get(r['score'], r['score']).split(' (')[0], 12)}\n"
        f"{r['auroc']:.3f}\n[{r['auroc_lo']:.3f}, {r['auroc_hi']:.3f}]"
        for r in scores
    ]
    ax.set_xticks(x, ticks, fontsize=6.5)
    ax.set_ylabel("AUROC for 'top-1 is correct' (95% CI)")
    ax.set_title(f"(f) confidence scores, $n$ = {record['n_queries']}")
    ax.set_ylim(min(0.4, float(np.min(value)) - 0.05), 1.0)


def draw(result: ProbeResult, out_dir: Path | str, name: str = NAME) -> Path:
    """Draw the six panels of `result` into out_dir/name (default fig10_probe.png);
    return the path.

    Also writes the record beside it (fig10_probe.json): `caption(record)` and
    `measured(record)`.
    """
    record = result.record
    with figures.style():
        # Kept at its own size: six dense panels do not fit 6.9 in at 7 pt.
        fig, axes = plt.subplots(2, 3, figsize=(13.5, 7.6), layout="constrained")
        (a, b, c), (d, e, f) = axes
        _frequency(a, result)
        if result.depth is None:
            reason = next(iter(record["skipped"].values()))
            titles = ("(b) norm by specificity", "(c) sign test", "(d) retrieval accuracy",
                      "(e) selective retrieval", "(f) confidence scores")  # fmt: skip
            for ax, title in zip((b, c, d, e, f), titles, strict=True):
                _skipped(ax, title, reason)
        else:
            _depth(b, result)
            _frames(c, record["sign_test"])
            _bins(d, record["retrieval"])
            _selective(e, result)
            _auroc(f, record["retrieval"])
        fig.suptitle(
            f"{record['model']}: norm before normalisation, "
            f"{record['vocabulary']['size']} English nouns"
        )
        return figures.save(
            fig,
            Path(out_dir) / name,
            caption=caption(record),
            measured=measured(record),
            summary=SUMMARY,
        )
