"""One verification result: a law confronted with a simulation, and its verdict.

Verdicts:
- "holds": within tolerance (for per-item checks, by the fraction rule below);
- "partial": a per-item check where only the frequent items hold (see `fraction_verdict`),
  or a sign test without a significant correlation;
- "fails": outside tolerance;
- "inconclusive": a predicted 0 whose measured interval neither excludes 0 nor lies
  inside the equivalence margin (normtheory.verify.structure);
- "not relaxed": an equilibrium check whose run had not reached equilibrium (see
  `normtheory.verify._common.relaxation`); the law is not judged, and never "fails"
  on a transient;
- "not applicable": the regime run is outside every law the check knows (for example
  an optimizer the law does not model); the note names what is missing.

Per-item rule (`fraction_verdict`), the same for every per-item check: "holds" when at
least HOLD_FRACTION of the items are within tolerance and the 95% Clopper-Pearson
interval of that fraction has its lower bound at or above HOLD_LOWER; "partial" when
the frequent items (rate at or above the median) meet that rule on their own but all
items do not; "fails" otherwise.

Tolerances come from the order of the terms a law neglects and are capped at
MAX_TOLERANCE: a relative (or log) error tolerance of 1 or more could not fail a
prediction that is too large, so no check may use one.

An approximate law whose dropped term the simulation measures exactly (items 5 and 6)
is judged against the accuracy it claims, a constant declared beside its check, never
against the dropped term itself (the law misses exactly that term, so such a tolerance
could not fail): `within_accuracy` applies the per-item rule to "relative error below
the declared accuracy". The identity the law truncates (law + dropped term = measured)
is a separate exact row, at float64 rounding.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from scipy import stats

Verdict = Literal["holds", "fails", "partial", "inconclusive", "not relaxed", "not applicable"]
VERDICTS: tuple[str, ...] = ("holds", "partial", "fails", "not relaxed", "not applicable")

HOLD_FRACTION = 0.9
HOLD_LOWER = 0.75
CONFIDENCE = 0.95
MAX_TOLERANCE = 0.5


def describe(config: Mapping[str, Any], *, short: bool = False) -> str:
    """One line naming the model, optimizer and the parameters a law depends on.

    `config`: a SimConfig's fields as data (`Result.config`). `short` stops after the
    optimizer's parameters (the verification table's column); the full line adds the
    temperature, sizes, run length, data family's parameters and dtype. For display only:
    nothing reads a field back out of this text.
    """
    c = config
    parts = [f"{c['data']}/{c['model']}", c["optimizer"], f"lr={c['lr']:g}"]
    if c["weight_decay"]:
        parts.append(f"wd={c['weight_decay']:g}")
    if c["optimizer"] in ("momentum", "nesterov"):
        parts.append(f"momentum={c['momentum']:g}")
    if c["optimizer"] in ("adam", "adamw"):
        parts.append(f"b1={c['b1']:g}")
    if short:
        return ", ".join(parts)
    parts += [f"tau={c['tau']:g}", f"d={c['dim']}", f"B={c['batch']}", f"T={c['steps']}"]
    if c["data"] == "frequency":
        parts.append(f"V={c['num_items']}, zipf={c['zipf']:g}")
    elif c["data"] == "hierarchy":
        parts.append(
            f"depth={c['depth']}, branching={c['branching']}, {c['frequency_mode']} "
            f"frequency, {c['towers']} tower(s)"
        )
    elif c["data"] == "ambiguity":
        parts.append(f"{c['num_items']} inputs, {c['num_classes']} classes")
    parts.append(c["dtype"])
    return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class Result:
    """predicted and measured are summary numbers of the same quantity (`quantity`).

    `config` is the regime run, as data: the fields of its SimConfig (a SimConfig given
    here is stored as the dict of its fields). `row` names the check's row when a check
    returns several (a regime, for example "table, heavy ball", or "exact identity", the
    identity an approximate law truncates), else "". `regime` and
    `setting` are their display lines (`describe`), for people only.

    rel_error = |measured - predicted| / |predicted| (or the absolute error when the
    prediction is 0, as for the Euler identity; equilibrium checks use the symmetric
    |log(measured / predicted)|, which equals the relative error to first order, and say
    so in `basis`); `tolerance` is on that error and comes from the order of the terms
    the law neglects, or from the accuracy an approximate law declares (stated in
    `basis`). `spread` is the spread of the measured value
    over seeds or items (say which in `quantity`). `exact` marks THEORY.md's exact
    facts, whose failure is a bug.

    Per-item checks also fill `fraction_holding` (fraction of items within tolerance)
    and its 95% Clopper-Pearson interval `fraction_low`..`fraction_high`; equilibrium
    checks fill `relaxed`, the fraction of items that passed the relaxation criterion.
    Checks that do not apply leave them NaN.

    `calibration` says where an approximate prediction took its measured inputs: the
    seeds and regime of a calibration run disjoint from the judged run, and what it
    measured (`verify._common.Calibration`); a prediction from the configuration alone
    says so with no seeds. None for exact facts and refusals.

    `groups` holds the verdicts of the independent seed groups the verdict was made on
    (`normtheory.verify.run_checks(seed_groups=...)`), the first group's (whose numbers
    these are) first; None when it was judged on one group.
    """

    law: str
    item: int
    config: Mapping[str, Any] = dataclasses.field(hash=False)  # a dict: not hashable
    quantity: str
    predicted: float
    measured: float
    spread: float
    rel_error: float
    tolerance: float
    basis: str
    verdict: Verdict
    exact: bool = False
    note: str = ""
    fraction_holding: float = math.nan
    fraction_low: float = math.nan
    fraction_high: float = math.nan
    relaxed: float = math.nan
    row: str = ""
    calibration: Mapping[str, Any] | None = dataclasses.field(default=None, hash=False)
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        config = self.config
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        object.__setattr__(self, "config", dict(config))

    @property
    def regime(self) -> str:
        """The regime run, in full, prefixed by the row's name (display only)."""
        return (f"{self.row}: " if self.row else "") + describe(self.config)

    @property
    def setting(self) -> str:
        """The row's name and the model and optimizer settings (display only)."""
        return (f"{self.row}: " if self.row else "") + describe(self.config, short=True)

    def to_json(self) -> dict:
        """The record as JSON types: every field (`config` as a dict) and `regime`."""
        out = dataclasses.asdict(self)
        out["regime"] = self.regime
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None if math.isnan(value) else str(value)
        return out


def log_error(measured, predicted):
    """|log(measured / predicted)|: symmetric, so a prediction k times too small or too
    large has the same error; infinite when the signs differ or either is 0."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = measured / predicted
        err = np.abs(np.log(np.where(ratio > 0, ratio, np.nan)))
    return np.where(np.isfinite(err), err, np.inf)


def capped(tolerance):
    """A tolerance no larger than MAX_TOLERANCE (elementwise)."""
    return np.minimum(tolerance, MAX_TOLERANCE)


def judge(error: float, tolerance: float) -> Verdict:
    """ "holds" when the error is finite and within the tolerance, else "fails"."""
    if not math.isfinite(error) or error > tolerance:
        return "fails"
    return "holds"


@dataclasses.dataclass(frozen=True)
class FractionVerdict:
    """The per-item rule's outcome: verdict, fraction within tolerance and its interval."""

    verdict: Verdict
    fraction: float
    low: float
    high: float
    note: str

    def fields(self) -> dict[str, float]:
        """The Result fields this fills."""
        return {"fraction_holding": self.fraction, "fraction_low": self.low,
                "fraction_high": self.high}  # fmt: skip


def fraction_interval(k: int, n: int) -> tuple[float, float]:
    """95% Clopper-Pearson interval of a binomial fraction k / n."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    return float(ci.low), float(ci.high)


def _meets_rule(ok: np.ndarray) -> bool:
    k, n = int(ok.sum()), int(ok.size)
    return n > 0 and k / n >= HOLD_FRACTION and fraction_interval(k, n)[0] >= HOLD_LOWER


def fraction_verdict(ok, frequent=None) -> FractionVerdict:
    """The per-item rule (module docstring) on `ok` (per item: within tolerance).

    `frequent` (per item, optional) marks the frequent items; "partial" needs it.
    """
    ok = np.asarray(ok, bool)
    k, n = int(ok.sum()), int(ok.size)
    if n == 0:
        return FractionVerdict("fails", math.nan, math.nan, math.nan, "no item to judge")
    low, high = fraction_interval(k, n)
    summary = f"{k} of {n} items within tolerance (95% CI of the fraction {low:.2f}-{high:.2f})"
    if _meets_rule(ok):
        return FractionVerdict("holds", k / n, low, high, summary)
    verdict: Verdict = "fails"
    if frequent is not None:
        frequent = np.asarray(frequent, bool)
        if 0 < frequent.sum() < n and _meets_rule(ok[frequent]):
            verdict = "partial"
            summary += f"; the {int(frequent.sum())} frequent items hold, rarer items miss it"
    return FractionVerdict(verdict, k / n, low, high, summary)


def within_accuracy(err, accuracy: float, frequent=None) -> tuple[FractionVerdict, float]:
    """The per-item rule for an approximate law that claims a relative error below `accuracy`.

    Args:
        err: (n,) the law's relative error per item (or per item and seed).
        accuracy: the accuracy the law claims, declared beside its check; in
            (0, MAX_TOLERANCE).
        frequent: (n,) bool, optional: the frequent items (for "partial").

    Returns:
        The `fraction_verdict` of `err <= accuracy`, and the HOLD_FRACTION quantile of
        `err`: the error the rule turns on (at most `accuracy` when at least HOLD_FRACTION
        of the items are within it), the one to show beside the tolerance.
    """
    if not 0 < accuracy < MAX_TOLERANCE:
        raise ValueError(
            f"a declared accuracy must lie in (0, {MAX_TOLERANCE:g}), not {accuracy!r}"
        )
    err = np.asarray(err, float).ravel()
    err = np.where(np.isnan(err), np.inf, err)  # an undefined error is not within accuracy
    rule = fraction_verdict(err <= accuracy, frequent)
    shown = float(np.quantile(err, HOLD_FRACTION, method="inverted_cdf")) if err.size else math.nan
    return rule, shown
