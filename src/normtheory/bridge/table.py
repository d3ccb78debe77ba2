"""The bridge record as Markdown: printed by `normtheory bridge` and written to
bridge.md for the report to include."""

from __future__ import annotations

from normtheory._cells import interval

__all__ = ["format_table", "sign_agreement"]


def _ci(value: float | None, lo: float | None, hi: float | None, fmt: str = "+.3f") -> str:
    return interval(value, lo, hi, fmt)


def _fraction(test: dict) -> str:
    if not test.get("n"):
        return "n/a"
    return f"{_ci(test['fraction'], test['lo'], test['hi'], '.2f')} (n={test['n']})"


def _sign_cells(signs: dict) -> list[str]:
    longer = signs["hyponym_longer"]
    return [
        _ci(signs["frequency"]["rho"], signs["frequency"]["lo"], signs["frequency"]["hi"]),
        _ci(signs["depth"]["rho"], signs["depth"]["lo"], signs["depth"]["hi"]),
        _fraction(longer),
        _fraction(longer["hyponym_rarer"]),
        _fraction(longer["hyponym_more_frequent"]),
    ]


def _direction(value: float | None, null: float) -> int:
    if value is None or value == null:
        return 0
    return 1 if value > null else -1


def sign_agreement(signs: dict, real: dict) -> int:
    """How many of the three signs (norm ~ log frequency, partial norm ~ depth, hyponym
    longer than hypernym) have the same direction as the real model's (point values)."""
    pairs = (
        (signs["frequency"]["rho"], real["frequency"]["rho"], 0.0),
        (signs["depth"]["rho"], real["depth"]["rho"], 0.0),
        (signs["hyponym_longer"]["fraction"], real["hyponym_longer"]["fraction"], 0.5),
    )
    return sum(1 for toy, ref, null in pairs if _direction(toy, null) == _direction(ref, null) != 0)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _auroc(entry: dict | None, lo: str = "auroc_lo", hi: str = "auroc_hi") -> str:
    if not entry or entry.get("auroc") is None:
        return "-"
    return _ci(entry["auroc"], entry.get(lo), entry.get(hi), ".3f")


_SPLITS = (
    ("all", "ID vs all OOD"),
    ("rare", "ID vs rarer nouns"),
    ("multiword", "ID vs multi-word"),
)


def _controlled(controlled: dict) -> list[str]:
    """Every OOD AUROC beside the length and frequency baselines: raw, within word-piece
    strata and on the length-matched sample (`probe.ood.analyse` records per split)."""
    lines = [
        _row(["split", "score", "AUROC (raw)", "within word-piece strata", "length-matched"]),
        _row(["---"] * 5),
    ]
    verdicts = []
    for key, label in _SPLITS:
        rec = controlled.get(key)
        if rec is None:
            continue
        within = {w["score"]: w for w in rec["within_strata"]}
        matched = rec["matched"]
        by = {m["score"]: m for m in matched.get("scores", [])}
        for r in rec["raw"]:
            name = r["score"]
            cells = [label, name, _auroc(r), _auroc(within.get(name), "lo", "hi")]
            cells.append(_auroc(by.get(name)) if name in by else "-")
            lines.append(_row(cells))
        pieces = rec["pieces"]
        gain = rec["logistic"].get("all", {})
        if gain:
            base = gain["without_norm"]["value"]
            both = gain["with_norm"]["value"]
            g = gain["gain"]
            said = (
                f"baselines alone {base:.3f}, with the norm {both:.3f}, gain "
                f"{_ci(g['value'], g['lo'], g['hi'], '+.3f')}"
            )
        else:
            said = "no logistic fit (too few queries)"
        verdicts.append(
            f"- {label} ({rec['n_id']} ID, {rec['n_ood']} OOD; mean word pieces "
            f"{pieces['id_mean']:.2f} vs {pieces['ood_mean']:.2f}; "
            f"{matched['n_per_class']} per class when length-matched): logistic AUROC "
            f"{said}; **the norm {'adds' if rec['norm_adds'] else 'adds nothing'}** once "
            "length and frequency are controlled."
        )
    return [*lines, "", *verdicts]


def _ood(record: dict) -> list[str]:
    counts = record["counts"]
    lines = [
        "",
        f"**The norm as an OOD filter** ({counts['id']} common nouns in distribution; "
        f"{counts['rare']} rarer nouns and {counts['multiword']} multi-word lemmas out). "
        "AUROC for *query is in distribution* (> 0.5: in-distribution queries score "
        "higher), 95% bootstrap intervals",
    ]
    controlled = record.get("controlled")
    if controlled:
        lines[-1] += (
            ", each beside the trivial baselines (word pieces, characters, log frequency, "
            "oriented before looking: fewer pieces, fewer characters, more frequent = in "
            "distribution), within strata of word-piece count (pairs of the same count; "
            "5 or more pooled), and on a sample matched on word-piece count "
            "(`normtheory.probe.ood`). *Adds*: the norm's within-strata interval excludes "
            "0.5 and adding it to a logistic regression on the baselines gains at least "
            "0.005 AUROC with an interval above 0. The logistic combination of the scores "
            "without the baselines is in bridge.json (ood.id_vs_ood):"
        )
        lines += ["", *_controlled(controlled)]
    else:
        lines[-1] += ":"
        lines += [
            "",
            _row(["score", "ID vs all OOD", "ID vs rarer nouns", "ID vs multi-word"]),
            _row(["---"] * 4),
        ]
        rare = {r["score"]: r for r in record["id_vs_rare"]}
        multi = {r["score"]: r for r in record["id_vs_multiword"]}
        for r in record["id_vs_ood"]:
            cells = [r["score"], _ci(r["auroc"], r["auroc_lo"], r["auroc_hi"], ".3f")]
            for split in (rare, multi):
                s = split.get(r["score"])
                cells.append(_ci(s["auroc"], s["auroc_lo"], s["auroc_hi"], ".3f") if s else "-")
            lines.append(_row(cells))
    mean = record["mean_norm"]
    retrieval = record["retrieval"]
    by_kind = retrieval["accuracy_by_kind"]
    lines += [
        "",
        f"Mean norm: in distribution {mean['id']:.3f}, rarer {mean['rare']:.3f}, "
        f"multi-word {mean['multiword']:.3f}. Word -> definition retrieval on the mixed set "
        f"({retrieval['n_queries']} queries, {retrieval['gallery_size']} definitions): top-1 "
        f"accuracy {retrieval['accuracy']:.3f} (in distribution {by_kind['id']:.3f}, rarer "
        f"{by_kind['rare']:.3f}, multi-word {by_kind['multiword']:.3f}). Selective accuracy "
        "by score:",
        "",
        _row(["score", "AUROC (top-1 correct)", "AURC", "acc@20%", "acc@50%", "acc@80%"]),
        _row(["---"] * 6),
    ]
    for s in retrieval["scores"]:
        sel = s["selective_accuracy"]
        lines.append(
            _row(
                [
                    s["score"],
                    _ci(s["auroc"], s["auroc_lo"], s["auroc_hi"], ".3f"),
                    f"{s['aurc']:.3f}",
                    f"{sel['0.2']:.3f}",
                    f"{sel['0.5']:.3f}",
                    f"{sel['0.8']:.3f}",
                ]
            )
        )
    return lines


_SIGN_WORD = {-1: "frequent shorter", 1: "frequent longer", 0: "no sign"}


def _frequency_sign(sweep: dict) -> list[str]:
    """Which toy regimes give frequent words smaller norms, and the budget behind it."""
    s = sweep["settings"]
    real = sweep["real"]
    real_sign = -1 if real["hi"] is not None and real["hi"] < 0 else 0
    if real["lo"] is not None and real["lo"] > 0:
        real_sign = 1
    lines = [
        "",
        f"**The frequency sign** ({s['words']} most frequent nouns, {s['steps']} steps, "
        f"{s['seeds']} seeds, frequency mode {s['mode']}, budget traced): "
        f"rho(norm, log frequency) of each toy regime (mean over seeds, 95% Student-t "
        f"interval over seeds) against {real['model']}'s "
        f"{_ci(real['rho'], real['lo'], real['hi'])} (bootstrap over words). Three of four "
        "real encoders give frequent words smaller norms. Budget: the frequent third minus "
        "the rare third of each part of N_T^2 = N_0^2 + decay + drift + heat + remainder "
        "(per-word means, in units of the mean N_0^2); the part that sets the sign is the "
        "largest with the sign of the net difference, the part that opposes it the largest "
        "against.",
        "",
        _row(
            [
                "regime",
                "rho(norm, log freq)",
                "sign",
                "as real",
                "net",
                "initial",
                "decay",
                "drift",
                "heat",
                "remainder",
                "sets the sign",
                "opposes",
            ]
        ),
        _row(["---"] * 12),
    ]
    same = []
    for c in sweep["cells"]:
        t = c["tertiles"]
        as_real = c["sign"] == real_sign != 0
        if as_real:
            same.append(c["name"])
        lines.append(
            _row(
                [
                    c["name"],
                    _ci(c["rho"], c["lo"], c["hi"]),
                    _SIGN_WORD[c["sign"]],
                    "yes" if as_real else "no",
                    f"{c['net']:+.2f}",
                    *(f"{t[k]:+.2f}" for k in ("initial", "decay", "drift", "heat", "remainder")),
                    c["sets_sign"] or "-",
                    c["opposes"] or "-",
                ]
            )
        )
    lines += [
        "",
        f"Regimes with the real sign ({_SIGN_WORD[real_sign]}, interval over seeds on the "
        f"same side of 0): {', '.join(same) or 'none'}.",
    ]
    return lines


def format_table(record: dict) -> str:
    """The bridge record (`run.BridgeResult.record`) as Markdown: the comparison table,
    the baselines, the verdict on the best regime, and the frequency-sign sweep and the
    OOD tables (with their length-controlled versions) when present."""
    s = record["settings"]
    vocab = record["vocabulary"]
    real = record["real"]
    best = record["best"]
    lines = [
        f"**The toy on real structure**: {vocab['size']} nouns ({vocab['synsets']} WordNet "
        f"synsets on their first-hypernym paths), {s['seeds']} seeds per regime, float32; "
        f"toy norm against {record['model']}'s norm before Normalize, word by word. "
        f"95% intervals: bootstrap over words ({s['n_boot']} resamples) for rank "
        "correlations, paired for differences; Clopper-Pearson for fractions.",
        "",
        _row(
            [
                "regime",
                "rho(toy, real)",
                "minus baseline",
                "features + toy vs features",
                "rho(norm, log freq)",
                "partial rho(norm, depth)",
                "hyponym longer",
                "... hyponym rarer",
                "... hyponym more frequent",
                "signs as real",
                "rho(final, initial)",
            ]
        ),
        _row(["---"] * 11),
        _row(["**real model**", "-", "-", "-", *_sign_cells(real), "3/3", "-"]),
    ]
    for r in record["regimes"]:
        c = r["compare"]
        lines.append(
            _row(
                [
                    r["name"],
                    _ci(c["rho"], c["lo"], c["hi"]),
                    _ci(c["minus_baseline"], c["minus_baseline_lo"], c["minus_baseline_hi"]),
                    _ci(
                        c["with_features_gain"],
                        c["with_features_gain_lo"],
                        c["with_features_gain_hi"],
                    ),
                    *_sign_cells(r["signs"]),
                    f"{sign_agreement(r['signs'], real)}/3",
                    f"{r['rho_final_initial']:+.2f}",
                ]
            )
        )
    lines += [
        "",
        "Baselines without training dynamics (Spearman with the real norm; the linear "
        f"combination of all {len(s['features'])} is fitted by least squares, "
        f"{s['folds']}-fold cross-validated, and scored on its out-of-fold predictions):",
        "",
        _row(["baseline", "rho(baseline, real)"]),
        _row(["---"] * 2),
    ]
    for b in record["baselines"]:
        lines.append(_row([b["name"], _ci(b["rho"], b["lo"], b["hi"])]))
    verdict = "beats" if best["minus_baseline"] > 0 else "trails"
    lo, hi = best["minus_baseline_lo"], best["minus_baseline_hi"]
    if lo is None:
        certain = "no interval"
    elif lo > 0 or hi < 0:
        certain = "its interval excludes 0"
    else:
        certain = "its interval includes 0"
    lines += [
        "",
        f"Most like the real model: **{best['name']}**, rho = "
        f"{_ci(best['rho'], best['lo'], best['hi'])}; it {verdict} the no-dynamics baseline "
        f"({best['baseline']}, rho = {best['baseline_rho']:+.3f}) by "
        f"{_ci(best['minus_baseline'], best['minus_baseline_lo'], best['minus_baseline_hi'])}"
        f" ({certain}).",
    ]
    if not best["any_beats_baseline"]:
        lines.append(
            "No regime beats the no-dynamics baseline: no interval of rho(toy, real) minus "
            "the baseline's lies above 0."
        )
    dropped = real["depth"]["dropped"]
    if dropped:
        lines.append(
            f"{', '.join(dropped)}: constant over these words, so not controlled in the "
            "partial correlation (and no baseline of its own)."
        )
    lines.append(
        "rho(final, initial): Spearman of a word's final and initial toy norm (seed means); "
        "near 1, the final norm is still mostly the initialisation (a compositional word "
        "starts as a sum of depth + 1 random features). Signs as real: how many of the three "
        "directions (norm ~ log frequency, partial norm ~ depth, hyponym longer) match the "
        "real model's, by point value."
    )
    lines.append(
        f"Depth is the probe's (shortest hypernym path); the toy's tree depth (first-listed "
        f"hypernyms) equals it for {vocab['path_depth_equals_depth']:.0%} of the words "
        f"(Spearman {vocab['path_depth_rho']:.3f}). {record['pairs']['n']} hypernym pairs; "
        "pairs share words, so sign-test intervals are descriptive."
    )
    if "frequency_sign" in record:
        lines += _frequency_sign(record["frequency_sign"])
    if "ood" in record:
        lines += _ood(record["ood"])
    return "\n".join(lines)
