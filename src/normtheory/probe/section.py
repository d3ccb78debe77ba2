"""The probe's section of the verification report, and its comparison with the toys.

`section(probe, others, verdicts, calibration)` renders the real-model records that
`normtheory probe` writes (probe.json, probe_NAME.json): the default encoder's table, the
encoders side by side, each encoder's out-of-distribution table, and the bridge to the
simulations. The bridge is a comparison, made here and recorded in a `ToyComparison`
(`compare_with_toys`): which simulated regimes of the specificity map show the real
model's three signs, and which calibration regimes put the norm's retrieval AUROC on the
real model's side of 0.5. The simulated side arrives as plain JSON records
(`normtheory verify --json`'s, `Result.to_json()`; calibration.json), so this module
imports nothing of verify or calibrate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from normtheory._cells import interval

__all__ = ["ToyComparison", "compare_with_toys", "comparison_section", "section"]

SPLITS = {"held_out": "held-out WordNet subtrees", "rare": "rarer nouns",
          "multiword": "multi-word lemmas"}  # fmt: skip


def _side(lo: float, hi: float, middle: float = 0.0) -> int:
    """+1 / -1 when an interval lies wholly above / below `middle`, else 0."""
    return 1 if lo > middle else (-1 if hi < middle else 0)


def _sign_text(sign: int) -> str:
    return {1: "+", -1: "-", 0: "0"}[sign]


def _correlation(probe: Mapping, name: str, controls: Sequence[str]) -> Mapping | None:
    for c in probe.get("correlations", []):
        if c["name"] == name and list(c["controls"]) == list(controls):
            return c
    return None


def _score(records: Sequence[Mapping], name: str) -> Mapping | None:
    return next((r for r in records if r["score"] == name), None)


@dataclasses.dataclass(frozen=True)
class ToyComparison:
    """The real model's signs against the simulated regimes'.

    real_depth, real_frequency, real_specific: the real model's signs (+1, -1, 0) of the
    norm's partial correlation with depth given frequency and word pieces, of its
    correlation with log frequency given word pieces, and of the hyponym-longer sign test
    (bare frame; 0 when p >= 0.05); fraction: that test's fraction. regimes: per
    (model, optimizer) of the specificity map, its sign with frequency held equal
    (`decoupled`) and coupled (`coupled`), and how many of the three real signs it shows
    (`matches`). auroc: the real norm's retrieval AUROC and its interval, or None;
    same_side: the calibration regimes whose norm AUROC interval lies on the same side
    of 0.5 (None without calibration or AUROC).
    """

    real_depth: int
    real_frequency: int
    real_specific: int
    fraction: float
    regimes: tuple[dict, ...]
    auroc: tuple[float, float, float] | None
    same_side: tuple[str, ...] | None

    @property
    def all_three(self) -> tuple[str, ...]:
        """The regimes ("model + optimizer") showing all three of the real signs."""
        return tuple(f"{r['model']} + {r['optimizer']}" for r in self.regimes if r["matches"] == 3)


def compare_with_toys(
    probe: Mapping, verdicts: Sequence[Mapping], calibration: Mapping | None
) -> ToyComparison | None:
    """Which simulated regime shows the real model's signs (None without WordNet).

    The real model gives three signs: of the norm's partial correlation with depth given
    frequency (compare: the hierarchy with frequency held equal, "decoupled"), of its
    correlation with frequency, and of the hyponym-longer sign test (compare: the
    hierarchy with frequency coupled to generality as in language, where a deeper node is
    also rarer, so the sign with frequency is minus the sign with depth). A simulated
    regime's sign is that of its measured rank correlation when it lies beyond its
    tolerance (two standard errors) of 0.

    Args:
        probe: the default encoder's probe record (probe.json).
        verdicts: verify's results as JSON records (`Result.to_json()`); only the
            specificity map's are read.
        calibration: `normtheory calibrate`'s record (calibration.json), or None.

    Returns:
        The comparison, or None when the probe has no WordNet measurements.
    """
    depth = _correlation(probe, "norm ~ depth", ["log frequency", "word pieces"])
    freq = _correlation(probe, "norm ~ log frequency", ["word pieces"])
    frames = probe.get("sign_test", {}).get("frames", [])
    if depth is None or freq is None or not frames:
        return None
    real_depth = _side(depth["lo"], depth["hi"])
    real_freq = _side(freq["lo"], freq["hi"])
    bare = frames[0]
    real_specific = 0 if bare["p"] >= 0.05 else (1 if bare["fraction"] > 0.5 else -1)
    cells: dict[tuple[str, str], dict[str, int]] = {}
    for r in verdicts:
        if r["law"] != "specificity":
            continue
        config = r["config"]
        sign = _side(r["measured"] - r["tolerance"], r["measured"] + r["tolerance"])
        regime = cells.setdefault((config["model"], config["optimizer"]), {})
        regime[config["frequency_mode"]] = sign
    regimes = []
    for (model, optimizer), signs in cells.items():
        dec, cou = signs.get("decoupled", 0), signs.get("coupled", 0)
        matches = sum([dec == real_depth, -cou == real_freq, cou == real_specific])
        regimes.append(
            {"model": model, "optimizer": optimizer, "decoupled": dec, "coupled": cou,
             "matches": matches}
        )  # fmt: skip
    auroc, same = None, None
    retrieval = probe.get("retrieval")
    if retrieval:
        norm = _score(retrieval["scores"], "norm")
        if norm is not None:
            auroc = (norm["auroc"], norm["auroc_lo"], norm["auroc_hi"])
            if calibration is not None:
                real_side = _side(norm["auroc_lo"], norm["auroc_hi"], 0.5)
                simulated = {
                    r["regime"]: _score(r["scores"], "norm") for r in calibration["regimes"]
                }
                same = tuple(
                    regime
                    for regime, s in simulated.items()
                    if _side(s["auroc_lo"], s["auroc_hi"], 0.5) == real_side
                )
    return ToyComparison(
        real_depth, real_freq, real_specific, bare["fraction"], tuple(regimes), auroc, same
    )


def comparison_section(comparison: ToyComparison | None) -> list[str]:
    """The report's lines for a `ToyComparison` (None: WordNet was missing)."""
    if comparison is None:
        return ["The bridge to the simulations needs WordNet (rerun the probe with it)."]
    c = comparison
    lines = [
        "### Does the toy explain the real thing?",
        "",
        "The real model's signs: norm against depth given frequency and word pieces "
        f"**{_sign_text(c.real_depth)}**, norm against log frequency given word pieces "
        f"**{_sign_text(c.real_frequency)}**, hyponym longer than hypernym "
        f"**{_sign_text(c.real_specific)}** (fraction {c.fraction:.2f}). Each simulated "
        "regime of the specificity map (norm growth against depth, sign beyond two standard "
        "errors) is compared: frequency held equal against the first; frequency coupled to "
        "generality, as in language (a deeper node is rarer), against the other two (its "
        "sign with frequency is minus its sign with depth).",
        "",
        "| model | optimizer | depth, frequency equal | depth, coupled | implied frequency | "
        "matches |",
        "|---|---|---|---|---|---|",
    ]
    for r in c.regimes:
        lines.append(
            f"| {r['model']} | {r['optimizer']} | {_sign_text(r['decoupled'])} | "
            f"{_sign_text(r['coupled'])} | {_sign_text(-r['coupled'])} | "
            f"{r['matches']} of 3 |"
        )
    lines += [
        "",
        "Regimes with all three of the real model's signs: "
        + (", ".join(c.all_three) if c.all_three else "none")
        + ".",
    ]
    if c.auroc is not None and c.same_side is not None:
        value, lo, hi = c.auroc
        lines += [
            "",
            f"As a retrieval confidence score the real model's norm has AUROC "
            f"{value:.3f} [{lo:.3f}, {hi:.3f}]; the simulated regimes on the same side of "
            "0.5: " + (", ".join(c.same_side) or "none") + ".",
        ]
    return [*lines, ""]


def models_section(probes: Sequence[Mapping]) -> list[str]:
    """The encoders side by side: frequency, depth given frequency, retrieval AUROC."""
    rows = [
        ("Spearman norm ~ log frequency", "norm ~ log frequency", []),
        ("Spearman norm ~ log frequency given word pieces", "norm ~ log frequency",
         ["word pieces"]),
        ("partial Spearman norm ~ depth given log frequency, word pieces", "norm ~ depth",
         ["log frequency", "word pieces"]),
    ]  # fmt: skip
    lines = [
        "### The encoders side by side",
        "",
        "| measurement | " + " | ".join(p.get("encoder", p["model"]) for p in probes) + " |",
        "|---|" + "---|" * len(probes),
    ]
    for label, name, controls in rows:
        cells = []
        for p in probes:
            c = _correlation(p, name, controls)
            cells.append(interval(c["rho"], c["lo"], c["hi"], "+.3f") if c else "n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for score in ("norm", "combined_without_norm", "combined"):
        cells = []
        for p in probes:
            sc = _score(p.get("retrieval", {}).get("scores", []), score)
            cells.append(
                interval(sc["auroc"], sc["auroc_lo"], sc["auroc_hi"], ".3f") if sc else "n/a"
            )
        lines.append(f"| retrieval AUROC (top-1 correct), {score} | " + " | ".join(cells) + " |")
    lines.append("| checkpoint | " + " | ".join(p["model"] for p in probes) + " |")
    return [*lines, ""]


def ood_section(probe: Mapping) -> list[str]:
    """One encoder's OOD table: every AUROC beside the baselines, within piece strata,
    on a length-matched sample, and what the norm adds to the baselines."""
    o = probe.get("ood")
    if not o or not o.get("splits"):
        return []
    counts = o["counts"]
    lines = [
        f"**Out of distribution, {probe.get('encoder', probe['model'])}** (gallery: the "
        f"definitions of {counts['id']} in-distribution nouns; OOD: {counts['held_out']} nouns "
        f"of held-out WordNet subtrees, {counts['rare']} rarer nouns, {counts['multiword']} "
        "multi-word lemmas). AUROC for *query is in distribution*, 95% bootstrap intervals; "
        "baselines oriented a priori (fewer pieces, fewer characters, more frequent = in). "
        "Within strata: ID and OOD queries compared only at equal word-piece count; "
        "matched: a sample with the same piece-count distribution in both classes; gain: "
        "out-of-fold AUROC of a logistic regression on the three baselines plus the norm "
        "minus without it.",
        "",
        "| OOD set | mean pieces ID / OOD | score | raw | within strata | matched (n per class) |",
        "|---|---|---|---|---|---|",
    ]
    for key, split in o["splits"].items():
        pieces = split["pieces"]
        matched = split["matched"].get("scores", [])
        for score in ("norm", "top1_cosine", "margin", "word pieces", "characters",
                      "log frequency"):  # fmt: skip
            raw = _score(split["raw"], score)
            within = next((w for w in split["within_strata"] if w["score"] == score), None)
            m = _score(matched, score)
            inside = (
                interval(within["auroc"], within["lo"], within["hi"], ".3f") if within else "n/a"
            )
            lines.append(
                f"| {SPLITS.get(key, key)} | {pieces['id_mean']:.2f} / {pieces['ood_mean']:.2f} "
                f"| {score} | {interval(raw['auroc'], raw['auroc_lo'], raw['auroc_hi'], '.3f')} "
                f"| {inside} "
                f"| {interval(m['auroc'], m['auroc_lo'], m['auroc_hi'], '.3f') if m else 'n/a'}"
                f" ({split['matched']['n_per_class']}) |"
            )
    lines += ["", "What the norm adds once the baselines are in:", ""]
    for key, split in o["splits"].items():
        logistic = split["logistic"].get("all")
        if not logistic:
            continue
        g, w = logistic["gain"], logistic["without_norm"]
        norm_within = next(x for x in split["within_strata"] if x["score"] == "norm")
        lines.append(
            f"- {SPLITS.get(key, key)}: baselines alone "
            f"{interval(w['value'], w['lo'], w['hi'], '.3f')}, gain from the norm "
            f"{interval(g['value'], g['lo'], g['hi'], '+.3f')}; norm within strata "
            f"{interval(norm_within['auroc'], norm_within['lo'], norm_within['hi'], '.3f')}: "
            f"the norm **{'adds' if split['norm_adds'] else 'adds nothing shown'}** "
            "beyond length and frequency."
        )
    return [*lines, ""]


def section(
    probe: Mapping | None,
    others: Sequence[Mapping] = (),
    verdicts: Sequence[Mapping] = (),
    calibration: Mapping | None = None,
) -> list[str]:
    """The real-model section of the report and its bridge to the simulated regimes.

    Args:
        probe: the default encoder's record (probe.json), or None (no section).
        others: the other encoders' records (probe_NAME.json), shown side by side.
        verdicts: verify's results as JSON records (`Result.to_json()`).
        calibration: calibration.json's record, or None.

    Returns:
        The section's Markdown lines.
    """
    if probe is None:
        return []
    wordnet = probe["wordnet"]
    source = f"read from {wordnet['path']}" if wordnet["available"] else "not available"
    lines = [
        "## A real model: all-MiniLM-L6-v2 (`make probe`)",
        "",
        f"`normtheory probe`: {probe['vocabulary']['size']} common English nouns, "
        f"{probe['quantity']}; WordNet {source}. 95% bootstrap intervals.",
        "",
        "| measurement | value | 95% CI |",
        "|---|---|---|",
    ]
    for c in probe.get("correlations", []):
        given = f" given {', '.join(c['controls'])}" if c["controls"] else ""
        lines.append(
            f"| Spearman {c['name']}{given} (n={c['n']}) | {c['rho']:+.3f} | "
            f"[{c['lo']:+.3f}, {c['hi']:+.3f}] |"
        )
    for f in probe.get("sign_test", {}).get("frames", []):
        lines.append(
            f'| hyponym longer than its hypernym, frame "{f["frame"]}" (n={f["n"]}) | '
            f"{f['fraction']:.3f} | sign test p = {f['p']:.2g} |"
        )
    retrieval = probe.get("retrieval")
    if retrieval:
        for sc in retrieval["scores"]:
            lines.append(
                f"| word-to-definition retrieval AUROC, {sc['score']} "
                f"(accuracy {retrieval['accuracy']:.3f}, n={retrieval['n_queries']}) | "
                f"{sc['auroc']:.3f} | [{sc['auroc_lo']:.3f}, {sc['auroc_hi']:.3f}] |"
            )
    for reason in probe.get("skipped", []) or []:
        lines.append(f"| skipped | {reason} | |")
    lines.append("")
    if others:
        lines += models_section([probe, *others])
    for p in (probe, *others):
        lines += ood_section(p)
    lines += comparison_section(compare_with_toys(probe, verdicts, calibration))
    return lines
