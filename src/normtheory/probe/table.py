"""The probe record as a plain-text table for the terminal."""

from __future__ import annotations

__all__ = ["format_table"]


def _num(value: float | None, fmt: str = "+.3f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _ci(lo: float | None, hi: float | None) -> str:
    return "[n/a]" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]"


def _correlations(record: dict) -> list[str]:
    boot = record["settings"]["n_boot"]
    lines = [
        f"1. Rank correlations of the bare word's norm (Spearman; partial given controls; "
        f"95% percentile bootstrap over words, {boot} resamples)",
        f"   {'correlation':26s} {'given':27s} {'rho':>7s}  {'95% CI':18s} {'n':>5s}",
    ]
    for r in record["correlations"]:
        note = (
            f"  ({', '.join(r['dropped'])} constant here: not controlled)" if r["dropped"] else ""
        )
        lines.append(
            f"   {r['name']:26s} {', '.join(r['controls']) or '-':27s} {_num(r['rho']):>7s}  "
            f"{_ci(r['lo'], r['hi']):18s} {r['n']:5d}{note}"
        )
    return lines


def _cell(result: dict | None) -> str:
    if not result or not result.get("n"):
        return f"{'-':>22s}"
    return f"{result['fraction']:6.3f} {result['n']:5d} {result['p']:9.2g}"


def _sign(record: dict) -> list[str]:
    test = record["sign_test"]
    lines = [
        f"2. Sign test: fraction of (hypernym, hyponym) pairs whose hyponym has the larger "
        f"norm ({test['pairs']} pairs by first noun senses; exact two-sided p)",
        f"   {'frame':26s} {'all pairs':>22s}   {'hyponym rarer':>22s}   "
        f"{'hyponym more frequent':>22s}",
        f"   {'':26s} {'frac     n         p':>22s}   {'frac     n         p':>22s}   "
        f"{'frac     n         p':>22s}",
    ]
    for f in test["frames"]:
        lines.append(
            f"   {f['frame']!r:26s} {_cell(f)}   {_cell(f.get('hyponym_rarer'))}   "
            f"{_cell(f.get('hyponym_more_frequent'))}"
        )
    return lines


def _retrieval(record: dict) -> list[str]:
    r = record["retrieval"]
    lines = [
        f"3. Retrieval word -> definition: {r['n_queries']} words against {r['gallery_size']} "
        f"definitions, top-1 accuracy {r['accuracy']:.3f}; is the top-1 right?",
        f"   {'score':22s} {'AUROC':>6s}  {'95% CI':18s} {'AURC':>6s} {'sel.acc@50%':>11s}",
    ]
    for s in r["scores"]:
        lines.append(
            f"   {s['score']:22s} {s['auroc']:6.3f}  {_ci(s['auroc_lo'], s['auroc_hi']):18s}"
            f" {s['aurc']:6.3f} {s['selective_accuracy_50']:11.3f}"
        )
    lines.append(f"   oracle AURC {r['optimal_aurc']:.3f}; AUROC < 0.5 means the score ranks "
                 "wrong answers above right ones")  # fmt: skip
    norm = next(s for s in r["scores"] if s["score"] == "norm")
    bins = norm["bins"]
    cells = [
        f"{lo:.2f}:{acc:.2f}"
        for lo, acc in zip(bins["edges"][:-1], bins["accuracy"], strict=True)
        if acc is not None
    ]
    lines.append(
        f"   accuracy per norm bin (lower edge of min-max normalised norm : accuracy; "
        f"norm {bins['score_min']:.2f} to {bins['score_max']:.2f}, bins with >= 10 words):"
    )
    for start in range(0, len(cells), 8):
        lines.append("     " + "  ".join(cells[start : start + 8]))
    return lines


def format_table(record: dict) -> str:
    """The headline numbers of a probe record (run.ProbeResult.record), one block per
    analysis; skipped analyses are listed with their reason."""
    vocab = record["vocabulary"]
    lines = [
        f"normtheory probe: {record['model']}, {vocab['size']} words ({vocab['rule']})",
        f"quantity: {record['quantity']}; mean {vocab['norm_mean']:.3f}, "
        f"std {vocab['norm_std']:.3f}; mean word pieces {vocab['word_pieces_mean']:.2f}",
        "",
        *_correlations(record),
    ]
    if "sign_test" in record:
        lines += ["", *_sign(record)]
    if "retrieval" in record:
        lines += ["", *_retrieval(record)]
    for part, reason in record["skipped"].items():
        lines += ["", f"skipped {part}: {reason}"]
    return "\n".join(lines)
