"""Verify's sections of the verification report, rendered from its records.

`normtheory.report` assembles them: `introduction` (what a verdict means, and the
summary counts), `verdict_table` (one row per law outside the regime maps),
`regime_maps` (items 13-14's maps at the default regime), `signs` (the maps at other
shapes and class counts, from `make signs`' signs.json) and `details` (each result's
quantity, regime, tolerance basis and note). Each takes the `Result`s or the record as
written and computes nothing beyond formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from normtheory.verify._record import HOLD_FRACTION, HOLD_LOWER, VERDICTS, Result

__all__ = ["MAPS", "details", "introduction", "regime_maps", "signs", "verdict_table"]

# The laws judged as regime maps, and the feature each map correlates with.
MAPS = {"specificity": "depth", "uncertainty": "entropy"}


def introduction(results: Sequence[Result], crashes: Mapping[str, str]) -> list[str]:
    """What the report's verdicts mean, and how many of each `results` holds."""
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    return [
        "Each law of THEORY.md is confronted with a simulation designed to test it, in "
        "float64. An exact identity is judged to float64 rounding; an approximate law "
        "against its measurement's standard errors plus the accuracy the law declares "
        "or, for some equilibria, the order of the term it neglects (each row's basis is "
        "in the details). Every tolerance is below 1 (relative), so every check can "
        "fail. A verdict is "
        "`holds`, `fails`, `partial` (only the frequent items hold, or a sign test finds "
        "no significant correlation), `not relaxed` (an equilibrium check whose run had "
        "not reached equilibrium: the law is not judged) or `not applicable` (the regime "
        "run is outside every law the check knows; the note says why). An approximate "
        "verdict is made on independent seed groups (the first group's numbers are shown, "
        "the groups' verdicts beside it) and is `inconclusive` when they split, as is a "
        "sign test that can neither confirm nor exclude a predicted zero. Per-item checks "
        f"hold when at least {HOLD_FRACTION:.0%} of the items are within tolerance and the "
        f"95% Clopper-Pearson interval of that fraction starts at {HOLD_LOWER:.0%} or "
        "above (column `items within tol.`).",
        "",
        f"**Summary:** {counts['holds']} hold, {counts['partial']} partial, "
        f"{counts['fails']} fail, "
        f"{sum(r.verdict == 'inconclusive' for r in results)} inconclusive, "
        f"{counts['not relaxed']} not relaxed, "
        f"{counts['not applicable']} not applicable, {len(crashes)} crashed.",
        "",
    ]


def verdict_table(results: Sequence[Result]) -> list[str]:
    """The verification table: one row per result of a law outside the regime maps."""
    return ["## Verification table", "", *_table([r for r in results if r.law not in MAPS]), ""]


def regime_maps(results: Sequence[Result]) -> list[str]:
    """Items 13-14's regime maps at the default regime (the results of `MAPS`' laws)."""
    mapped = [r for r in results if r.law in MAPS]
    lines = [
        "## Regime maps",
        "",
        "Item 13 (specificity): rank correlation over tree nodes of the norm growth",
        "log(N_T / N_0) with depth. Item 14 (uncertainty): the same with the entropy of",
        "the soft label. The predicted sign is THEORY.md item 18's (item 16's mean field,",
        "each item's own heat through its own kernel block; 0: no correlation beyond two",
        "standard errors); each cell's note gives item 16's kernel closure's rho beside",
        "it. A cell holds when the",
        "measured value has the predicted sign beyond two standard errors (the +- shown",
        "is one), or, predicted 0, lies within two of 0.",
        "",
    ]
    for law in MAPS:
        block = _regime_map(mapped, law)
        if block:
            lines += [f"### {law}", "", *block, ""]
    return lines


def details(results: Sequence[Result]) -> list[str]:
    """The details section: every result of a law outside the regime maps."""
    return ["## Details", "", *_details([r for r in results if r.law not in MAPS]), ""]


def _number(x: float) -> str:
    return f"{x:.4g}"


def _fraction(r: Result) -> str:
    """Fraction of items within tolerance with its 95% interval, or blank."""
    if not np.isfinite(r.fraction_holding):
        return ""
    return f"{r.fraction_holding:.2f} [{r.fraction_low:.2f}, {r.fraction_high:.2f}]"


def _table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| law | item | verdict | predicted | measured | spread | rel. error | tolerance "
        "| items within tol. | regime |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| `{r.law}` | {r.item} | **{r.verdict}**{_groups(r)} | {_number(r.predicted)} | "
            f"{_number(r.measured)} | {_number(r.spread)} | {_number(r.rel_error)} | "
            f"{_number(r.tolerance)} | {_fraction(r)} | {r.setting} |"
        )
    return lines


def _groups(r: Result) -> str:
    """The seed groups' verdicts, when the verdict was made on several: " (3 of 3 seed
    groups)" when they agree, " (seed groups: holds, fails, holds)" when they split."""
    if not r.groups:
        return ""
    if len(set(r.groups)) == 1:
        return f" ({len(r.groups)} of {len(r.groups)} seed groups)"
    return f" (seed groups: {', '.join(r.groups)})"


def _details(results: Sequence[Result]) -> list[str]:
    lines = []
    for r in results:
        lines.append(f"- `{r.law}` (item {r.item}, {r.verdict}): {r.quantity}.")
        lines.append(f"  Regime: {r.regime}. Tolerance: {r.basis}.")
        if np.isfinite(r.relaxed):
            lines.append(f"  Relaxed (equilibrium reached): {r.relaxed:.0%} of the items.")
        if r.note:
            lines.append(f"  Note: {r.note}.")
    return lines


def _regime_map(results: Sequence[Result], law: str) -> list[str]:
    cells = [r for r in results if r.law == law]
    if not cells:
        return []
    lines = [
        f"| regime | Spearman(growth, {MAPS[law]}) | predicted sign | verdict |",
        "|---|---|---|---|",
    ]
    for r in cells:
        sign = "+" if r.predicted > 0 else "-" if r.predicted < 0 else "0"
        lines.append(f"| {r.regime} | {r.measured:+.3f} +- {r.spread:.3f} | {sign} | {r.verdict} |")
    return lines


def signs(record: Mapping | None, code: str) -> list[str]:
    """Items 13-14's maps at other tree shapes and class counts (`make signs`' signs.json),
    marked stale when the record's code identity is not `code` (verify's current one)."""
    if not record:
        return []
    cells = record["cells"]
    if "tally" not in record or "sizes" not in record:
        return [
            "### Signs away from the default regime",
            "",
            "`figures/signs.json` was written before verify recorded item 18's sizes; run "
            "`make signs` to redo the maps.",
            "",
        ]
    if record.get("code") != code:
        stale = [
            f"**Stale:** these cells were computed by code {record.get('code') or 'unknown'}; "
            f"the code is now {code}. Run `make signs` to redo them.",
            "",
        ]
    else:
        stale = []

    def labels(key):
        return "; ".join(dict.fromkeys(c["map"] for c in cells if c.get(key))) or "none"

    lines = [
        "### Signs away from the default regime",
        "",
        "The same maps at other tree shapes and class counts (`make signs`, "
        "`figures/signs.json`), each cell judged against item 18 as above; beside it, the "
        "sign of item 16's kernel closure (refuted, not judged; 0 below two standard "
        "errors). Item 18's predicted rho is its size; size: whether it lies within two "
        "standard errors of the measured rho. Held out (run only after item 16 and the "
        "self-heat closure were fixed): "
        f"{labels('held_out')}; of these, run only after verify adopted item 18: "
        f"{labels('fresh')}.",
        "",
        *stale,
        "| map | model, optimizer, frequency | rho | item 18 | verdict | item 18 rho | size "
        "| item 16 (kernel) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        cfg = c["config"]
        cell = f"{cfg['model']}, {cfg['optimizer']}"
        if cfg["data"] == "hierarchy":
            cell += f", {cfg['frequency_mode']}"
        kernel = 0 if abs(c["kernel_rho"]) <= c["tolerance"] else np.sign(c["kernel_rho"])
        lines.append(
            f"| {c['map']} | {cell} | {c['measured']:+.3f} +- {c['spread']:.3f} | "
            f"{_signed(c['predicted'])} | {c['verdict']} | {c['predicted_rho']:+.2f} | "
            f"{_SIZE[c['size_agrees']]} | {_signed(kernel)} ({c['kernel_rho']:+.2f}) |"
        )
    lines += ["", *_sign_tally(record["tally"]), "", *_sizes(record["sizes"]), ""]
    return lines


_SIZE = {True: "within", False: "off", None: ""}


def _sizes(rows: Sequence[Mapping]) -> list[str]:
    """signs.json's tally of item 18's sizes (`normtheory.verify.structure.size_tally`)."""
    if not rows:
        return []
    lines = [
        "Item 18's sizes against the measured rho, per law, model and optimizer (cells whose "
        "predicted rho lies within two standard errors of the measured one; error: measured "
        "minus predicted):",
        "",
        "| law | model | optimizer | sizes within 2 s.e. | mean error | mean abs. error |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['law']} | {r['model']} | {r['optimizer']} | {r['within']} of {r['cells']} | "
            f"{r['mean_error']:+.3f} | {r['mean_abs_error']:.3f} |"
        )
    return lines


def _signed(sign: float) -> str:
    return {1: "+", -1: "-", 0: "0"}[int(sign)]


def _sign_tally(rows: Sequence[Mapping]) -> list[str]:
    """signs.json's agreement counts (`normtheory.verify.structure.sign_tally`)."""
    return [
        f"- {r['law']}, {r['stage']}: {r['cells']} cells with a significant sign; item 18 "
        f"agrees with {r['item_18']}, item 16's kernel closure with {r['item_16']}."
        for r in rows
    ]
