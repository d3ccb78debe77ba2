"""The calibration records as a Markdown table (the report's and the terminal's), and the
report's calibration section (`section`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from normtheory._cells import interval

__all__ = ["agreement", "format_ood", "format_table", "section", "where_the_norm_helps"]


def _arrow(direction: int | None) -> str:
    return "no side" if direction is None else {1: "> 0.5", -1: "< 0.5", 0: "= 0.5"}[direction]


def _theory(r: Mapping) -> str:
    """The derived side with its inputs: item 18's rho, the link and the predicted AUROC."""
    t = r.get("theory")
    if t is None:  # files of older versions: the rule by model family only
        return _arrow(r["expected_direction"])
    link = t["link"]
    return (
        f"{_arrow(r['expected_direction'])} (rho_18 {t['rho_18']:+.2f}, link "
        f"{link['rho']:+.2f} [{link['lo']:+.2f}, {link['hi']:+.2f}]; "
        f"AUROC {t['predicted_auroc']:.2f})"
    )


def _rule(r: Mapping) -> str:
    rule = r.get("rule_by_family")
    if rule is None:
        return "n/a"
    return f"{_arrow(rule['expected_direction'])}, {rule['verdict']}"


def where_the_norm_helps(records: Sequence[Mapping]) -> list[str]:
    """The regimes whose norm AUROC interval lies above 0.5 (the norm predicts a correct
    retrieval), and those whose interval lies wholly above the top-1 cosine's (above its
    upper bound)."""

    def auroc(r: Mapping, score: str) -> Mapping:
        return next(s for s in r["scores"] if s["score"] == score)

    helps = [r["regime"] for r in records if auroc(r, "norm")["auroc_lo"] > 0.5]
    beats = [
        r["regime"]
        for r in records
        if auroc(r, "norm")["auroc_lo"] > auroc(r, "top1_cosine")["auroc_hi"]
    ]
    return [
        "The norm predicts a correct retrieval (AUROC interval above 0.5) in: "
        f"{', '.join(helps) or 'none'}; its interval lies wholly above the top-1 cosine's "
        f"interval in: {', '.join(beats) or 'none'}."
    ]


def agreement(records: Sequence[Mapping]) -> list[str]:
    """What the theory column is, and how often the derived side and the old rule agree."""
    if not records or any("theory" not in r for r in records):
        return []
    n = len(records)

    def count(verdicts: list[str]) -> str:
        return ", ".join(f"{verdicts.count(v)} {v}" for v in ("disagrees", "inconclusive"))

    derived = [r["verdict"] for r in records]
    rule = [r["rule_by_family"]["verdict"] for r in records]
    seeds = sorted({s for r in records for s in r["theory"]["calibration"]["seeds"]})
    margin = records[0]["theory"]["equivalence_margin"]
    judged = sorted({s for r in records for s in r.get("judged_seeds", [])})
    return [
        "*theory*: the side of 0.5 derived for the norm's AUROC, sign(rho_18) x sign(link). "
        "rho_18 is item 18's predicted Spearman correlation of norm growth with the feature "
        "(normtheory.mean_field, from the configuration and the model at initialisation); "
        "the link is Spearman(feature, correct) with its 95% bootstrap interval, measured in "
        f"calibration runs of the same regime at seeds {seeds}, disjoint from the judged "
        f"seeds {judged}. Item 18's sign 0 predicts 0.5 (agreement then needs the interval "
        f"inside 0.5 +- {margin:g}); a link interval holding 0 gives no side. The AUROC in "
        "brackets is the size under a Gaussian copula, Phi(r Phi^-1(A_F)) with "
        "r = 2 sin(pi rho_18 / 6) and A_F the feature's AUROC in the calibration runs. "
        "*rule by family*: the side items 13-14's rule by model family gave before "
        "(its hierarchy side used the judged run's own correctness-depth correlation).",
        "",
        f"The derived side agrees in {derived.count('agrees')} of {n} regimes "
        f"({count(derived)}); the rule by model family agrees in {rule.count('agrees')} "
        f"of {n} ({count(rule)}).",
    ]


def format_table(records: Sequence[Mapping]) -> list[str]:
    """A Markdown table of `records(...)`: per regime, AUROC [95% CI] of each score, AURC,
    the derived side with its inputs and the verdict, and the old rule's side; then what
    the theory column is and the agreement counts (`agreement`), and `format_ood`'s table
    of unseen items when the records hold one."""
    head = (
        "| regime | queries | accuracy | rho(norm, feature) | AUROC norm | AUROC top-1 cosine | "
        "AUROC margin | AUROC combined (without norm) | AURC norm / top-1 / combined | theory | "
        "verdict | rule by family |"
    )
    lines = [head, "|" + "---|" * 12]
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
            f"{_theory(r)} | {r['verdict']} | {_rule(r)} |"
        )
    lines = [*lines, "", *where_the_norm_helps(records)]
    notes = agreement(records)
    lines = [*lines, "", *notes] if notes else lines
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
    return interval(entry.get("auroc"), entry.get(lo), entry.get(hi), ".3f")


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


def section(data: Mapping | None) -> list[str]:
    """The report's calibration section, from `normtheory calibrate`'s calibration.json
    (None: no section)."""
    if data is None:
        return []
    regimes = data["regimes"]
    return [
        "## The norm as a confidence score (simulation)",
        "",
        f"`normtheory calibrate` ({data['seeds']} seeds per regime, float32 training, "
        f"{data['bootstrap']} bootstrap resamples; its last run took {data['seconds']:.0f} s): "
        "AUROC of each "
        "score for a correct top-1 retrieval, with 95% bootstrap intervals; AURC is the "
        "area under the risk-coverage curve (lower is better); rho is the Spearman "
        "correlation of the query norm with the regime's feature (soft-label entropy or "
        "tree depth). `theory` is the side of 0.5 derived in THEORY.md item 14b (item 18's "
        "sign times the feature-correctness link measured on calibration seeds; the note "
        "under the table); the verdict compares it with the interval.",
        "",
        *format_table(regimes),
        "",
    ]
