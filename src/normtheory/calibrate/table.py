"""The calibration records as a Markdown table (the report's and the terminal's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["format_ood", "format_table"]


def _arrow(direction: int) -> str:
    return {1: "> 0.5", -1: "< 0.5", 0: "~ 0.5"}[direction]


def format_table(records: Sequence[Mapping]) -> list[str]:
    """A Markdown table of `records(...)`: per regime, AUROC [95% CI] of each score, AURC;
    followed by `format_ood`'s table of unseen items when the records hold one."""
    head = (
        "| regime | queries | accuracy | rho(norm, feature) | AUROC norm | AUROC top-1 cosine | "
        "AUROC margin | AUROC combined (without norm) | AURC norm / top-1 / combined | theory | "
        "verdict |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in records:
        by = {s["score"]: s for s in r["scores"]}

        def ci(name: str, by: dict = by) -> str:
            s = by[name]
            return f"{s['auroc']:.3f} [{s['auroc_lo']:.3f}, {s['auroc_hi']:.3f}]"

        aurc = " / ".join(f"{by[k]['aurc']:.3f}" for k in ("norm", "top1_cosine", "combined"))
        other = by.get("combined_without_norm")  # absent from files of older versions
        without = f"{other['auroc']:.3f}" if other else "n/a"
        lines.append(
            f"| {r['regime']} | {r['n']} | {r['accuracy']:.2f} | "
            f"{r['rho_norm_feature']:+.2f} ({r['feature']}) | {ci('norm')} | "
            f"{ci('top1_cosine')} | {ci('margin')} | {ci('combined')} "
            f"({without}) | {aurc} | "
            f"{_arrow(r['expected_direction'])} | {r['verdict']} |"
        )
    ood = format_ood(records)
    return [*lines, "", *ood] if ood else lines


_FACT_NAMES = {
    "depth": "depth",
    "leaves": "leaves below",
    "probability": "draw probability",
    "ambiguity": "ambiguity",
    "input_norm": "input norm",
}


def _auroc_ci(entry: Mapping, lo: str = "auroc_lo", hi: str = "auroc_hi") -> str:
    if entry.get("auroc") is None:
        return "n/a"
    if entry.get(lo) is None:
        return f"{entry['auroc']:.3f}"
    return f"{entry['auroc']:.3f} [{entry[lo]:.3f}, {entry[hi]:.3f}]"


def format_ood(records: Sequence[Mapping]) -> list[str]:
    """A Markdown table of the regimes' out-of-distribution records (`analysis.ood`);
    empty when no record has one (files of older versions)."""
    rows = [r for r in records if "ood" in r]
    if not rows:
        return []
    lines = [
        "**Unseen items** (out of distribution; `normtheory.calibrate.run` says what is "
        "unseen in each family): AUROC of each score for *the item was seen in training* "
        "(> 0.5: seen items score higher), beside the item facts that need no training "
        "(the toy's analogues of a word's length and frequency), each turned to its better "
        "side; then within strata of the strongest fact, on a sample matched on it, and "
        "the gain of adding the norm to a logistic regression on the facts (5-fold, "
        "out-of-fold). 95% bootstrap intervals. *Norm adds*: the within-strata interval "
        "excludes 0.5 and the gain's interval lies above 0 (gain >= 0.005).",
        "",
        "| regime | seen / unseen | AUROC norm | top-1 cosine | margin | facts | strongest "
        "fact within strata | norm within strata | norm matched (per class) | facts + norm "
        "vs facts | norm adds |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        o = r["ood"]
        raw = {s["score"]: s for s in o["raw"]}
        within = {w["score"]: w for w in o["within_strata"]}
        facts = ", ".join(
            f"{_FACT_NAMES.get(f['score'], f['score'])} {f['auroc']:.3f}" for f in o["facts"]
        )
        matched = o["matched"]
        by = {s["score"]: s for s in matched.get("scores", [])}
        norm_matched = (
            f"{_auroc_ci(by['norm'])} ({matched['n_per_class']})" if "norm" in by else "n/a"
        )
        g = o["logistic"]
        gain = f"{g['gain']:+.3f}"
        if g.get("gain_lo") is not None:
            gain += f" [{g['gain_lo']:+.3f}, {g['gain_hi']:+.3f}]"
        strongest = o["strongest"]
        lines.append(
            f"| {r['regime']} | {o['n_seen']} / {o['n_unseen']} | {_auroc_ci(raw['norm'])} | "
            f"{raw['top1_cosine']['auroc']:.3f} | {raw['margin']['auroc']:.3f} | {facts} | "
            f"{_FACT_NAMES.get(strongest, strongest)} ({o['strata']['cut']}): "
            f"{within[strongest]['auroc']:.3f} | {_auroc_ci(within['norm'], 'lo', 'hi')} | "
            f"{norm_matched} | {g['without_norm']:.3f} -> {g['with_norm']:.3f}, {gain} | "
            f"{'yes' if o['norm_adds'] else 'no'} |"
        )
    adds = [r["regime"] for r in rows if r["ood"]["norm_adds"]]
    lines += [
        "",
        f"Once the facts are controlled, the norm adds to them in {len(adds)} of {len(rows)} "
        f"regimes: {', '.join(adds) or 'none'}.",
    ]
    return lines
