"""Scores of one regime's retrieval arrays: AUROC and AURC of the norm and the baselines.

`evaluate(regime, arrays)` -> `RegimeResult` (per-score summaries with bootstrap
intervals, accuracy per norm bin, risk-coverage curves, theory's expected side and the
verdict, and the out-of-distribution test of `ood`: seen against unseen items, beside
the item facts that need no training and matched on the strongest of them);
`records(results)` turns results into JSON-ready records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from normtheory import confidence
from normtheory.calibrate.settings import Regime

__all__ = ["OOD_SCORES", "SCORES", "RegimeResult", "evaluate", "ood", "records"]

SCORES = ("norm", "top1_cosine", "margin", "combined", "combined_without_norm")


@dataclasses.dataclass(frozen=True)
class RegimeResult:
    """The calibration of one regime: per-score summaries and the curves for figures."""

    regime: Regime
    n: int
    accuracy: float
    feature_name: str
    rho_norm_feature: float
    rho_correct_feature: float
    expected_direction: int  # +1: norm AUROC > 0.5 expected, -1: < 0.5, 0: no prediction
    scores: list[dict]  # confidence.summarize records, one per score
    bins: confidence.Bins  # accuracy per normalised-norm bin
    curves: dict[str, confidence.RiskCoverage]
    ood: dict | None = None  # `ood`'s record; None for arrays without unseen items

    @property
    def norm(self) -> dict:
        return next(s for s in self.scores if s["score"] == "norm")

    @property
    def verdict(self) -> str:
        """Whether the norm's AUROC lies on theory's side of 0.5 (95% bootstrap CI)."""
        lo, hi = self.norm["auroc_lo"], self.norm["auroc_hi"]
        side = +1 if lo > 0.5 else (-1 if hi < 0.5 else 0)
        if self.expected_direction == 0:
            return "agrees" if side == 0 else "disagrees"
        if side == 0:
            return "inconclusive"
        return "agrees" if side == self.expected_direction else "disagrees"


def evaluate(
    regime: Regime, arrays: Mapping[str, np.ndarray], *, n_boot: int = 1000
) -> RegimeResult:
    """Score the norm and the baselines on one regime's retrieval arrays."""
    correct = np.asarray(arrays["correct"], bool)
    if correct.all() or not correct.any():
        raise ValueError(
            f"{regime.name}: every top-1 is {'right' if correct.all() else 'wrong'}; "
            "the scores cannot be compared (change the regime, e.g. more noise or steps)"
        )
    base = {
        "norm": np.asarray(arrays["norm"], float),
        "top1_cosine": np.asarray(arrays["top1"], float),
        "margin": np.asarray(arrays["margin"], float),
    }
    features = np.stack([base["norm"], base["top1_cosine"], base["margin"]], axis=1)
    scores = {
        **base,
        "combined": confidence.logistic_cv(features, correct),
        "combined_without_norm": confidence.logistic_cv(features[:, 1:], correct),
    }
    feature = np.asarray(arrays["feature"], float)
    rho_nf = confidence.spearman(base["norm"], feature)
    rho_cf = confidence.spearman(correct.astype(float), feature)
    if regime.config.data == "ambiguity":
        expected = -regime.theory_sign
    else:
        expected = regime.theory_sign * int(np.sign(round(rho_cf, 12)))
    return RegimeResult(
        regime=regime,
        n=len(correct),
        accuracy=float(correct.mean()),
        feature_name="entropy" if regime.config.data == "ambiguity" else "depth",
        rho_norm_feature=rho_nf,
        rho_correct_feature=rho_cf,
        expected_direction=expected,
        scores=confidence.summarize(scores, correct, n_boot=n_boot),
        bins=confidence.accuracy_by_bin(base["norm"], correct),
        curves={name: confidence.risk_coverage(s, correct) for name, s in scores.items()},
        ood=ood(arrays, n_boot=n_boot) if "unseen_norm" in arrays else None,
    )


def records(results: Sequence[RegimeResult]) -> list[dict]:
    """JSON-ready records, one per regime."""
    out = []
    for r in results:
        out.append(
            {
                "regime": r.regime.name,
                "data": r.regime.config.data,
                "model": r.regime.config.model,
                "optimizer": r.regime.config.optimizer,
                "lr": r.regime.config.lr,
                "weight_decay": r.regime.config.weight_decay,
                "n": r.n,
                "accuracy": r.accuracy,
                "feature": r.feature_name,
                "rho_norm_feature": r.rho_norm_feature,
                "rho_correct_feature": r.rho_correct_feature,
                "expected_direction": r.expected_direction,
                "verdict": r.verdict,
                "scores": [
                    {
                        k: (float(v) if isinstance(v, float | np.floating) else v)
                        for k, v in s.items()
                    }
                    for s in r.scores
                ],
            }
        )
        if r.ood is not None:
            out[-1]["ood"] = _plain(r.ood)
    return out


def _plain(value):
    """NumPy scalars in a nested record as Python ones (for JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


# Out-of-distribution: seen against unseen items (`normtheory.calibrate.run`'s arrays).
OOD_SCORES = {"norm": "norm", "top1_cosine": "top1", "margin": "margin"}
_MAX_LEVELS = 10  # a fact with at most this many distinct values is its own strata
_QUANTILES = 5  # otherwise its pooled quintiles are


def _strata(values: np.ndarray) -> tuple[np.ndarray, str]:
    """Integer strata (n,) of one fact and how they were made: its distinct values when
    there are at most `_MAX_LEVELS`, else its pooled quintiles."""
    levels = np.unique(values)
    if levels.size <= _MAX_LEVELS:
        return np.searchsorted(levels, values), f"its {levels.size} values"
    edges = np.quantile(values, np.linspace(0, 1, _QUANTILES + 1)[1:-1])
    return np.searchsorted(edges, values, side="right"), f"{_QUANTILES} quantile bins"


def _within(score: np.ndarray, is_seen: np.ndarray, strata: np.ndarray, **boot) -> dict:
    """AUROC within strata (`probe.ood.within_strata_auroc`) with its bootstrap interval."""
    from normtheory.probe import ood as probe_ood

    entry = {"auroc": probe_ood.within_strata_auroc(score, is_seen, strata)}
    try:
        entry["lo"], entry["hi"] = confidence.bootstrap_ci(
            probe_ood.within_strata_auroc, score, is_seen, strata, **boot
        )
    except ValueError:
        entry["lo"] = entry["hi"] = None
    return entry


def _gain(norm: np.ndarray, facts: np.ndarray, is_seen: np.ndarray, **boot) -> dict:
    """Out-of-fold AUROC of a logistic regression on the facts without and with the
    norm, and the paired bootstrap interval of the gain (fits not redone)."""
    seed = boot["seed"]
    without = confidence.logistic_cv(facts, is_seen, seed=seed)
    with_norm = confidence.logistic_cv(np.column_stack([facts, norm]), is_seen, seed=seed)

    def gain(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> float:
        return confidence.auroc(a, y) - confidence.auroc(b, y)

    lo, hi = confidence.bootstrap_ci(gain, with_norm, without, is_seen, **boot)
    return {
        "without_norm": confidence.auroc(without, is_seen),
        "with_norm": confidence.auroc(with_norm, is_seen),
        "gain": gain(with_norm, without, is_seen),
        "gain_lo": lo,
        "gain_hi": hi,
    }


def ood(arrays: Mapping[str, np.ndarray], *, n_boot: int = 1000, seed: int = 0) -> dict:
    """How well each score separates seen from unseen items, beside the item facts.

    Args:
        arrays: `run.retrieval`'s arrays with seen_* and unseen_* keys: norm, top1,
            margin (S,) and (U,), and facts fact_<name> (the toy's analogues of a word's
            length and frequency: depth, leaves, probability; ambiguity, input_norm).
        n_boot, seed: bootstrap resamples; seed of resampling, matching and CV folds.

    Returns:
        A record (AUROC > 0.5: seen items score higher): "n_seen", "n_unseen"; "raw"
        (`confidence.summarize` of norm, top-1 cosine and margin); "facts" (the same for
        each fact, oriented after the fact: "direction" +1 if larger values mean seen,
        so each fact shows its best AUROC, a conservative baseline); "strongest" (the
        fact of highest oriented AUROC) and "strata" (how it is cut); "within_strata"
        (per score and the strongest fact: AUROC among pairs in the same stratum, with
        its interval); "matched" (summaries on a sample matched on the strata,
        `probe.ood.matched_indices`); "logistic" (the facts with and without the norm,
        5-fold out-of-fold AUROC and the gain's paired interval); and "norm_adds": the
        norm's within-strata interval excludes 0.5 and the gain's interval lies above 0
        with a gain of at least `probe.ood.MIN_GAIN` (a norm that is a function of a
        fact fails the first, one that is a smooth function of the facts the second).

    Raises ValueError when the seen or unseen arrays are missing, empty or unequal.
    """
    from normtheory.probe import ood as probe_ood

    if "unseen_norm" not in arrays or "seen_norm" not in arrays:
        raise ValueError("no seen_/unseen_ arrays: rerun the retrieval (protocol 2 or later)")
    names = sorted(k[len("seen_fact_") :] for k in arrays if k.startswith("seen_fact_"))
    keys = [*OOD_SCORES.values(), *(f"fact_{n}" for n in names)]
    if not names or any(f"unseen_{k}" not in arrays for k in keys):
        raise ValueError(f"seen and unseen arrays must both hold {keys}")
    cols = {k: np.concatenate([arrays[f"seen_{k}"], arrays[f"unseen_{k}"]]) for k in keys}
    n_seen, n_unseen = len(arrays["seen_norm"]), len(arrays["unseen_norm"])
    if min(n_seen, n_unseen) < 2:
        raise ValueError(f"{n_seen} seen and {n_unseen} unseen items: need 2 of each")
    is_seen = np.arange(n_seen + n_unseen) < n_seen
    boot = {"n_boot": n_boot, "seed": seed}
    scores = {name: cols[key] for name, key in OOD_SCORES.items()}
    facts, direction = {}, {}
    for name in names:
        values = cols[f"fact_{name}"]
        direction[name] = +1 if confidence.auroc(values, is_seen) >= 0.5 else -1
        facts[name] = direction[name] * values
    fact_records = confidence.summarize(facts, is_seen, **boot)
    for r in fact_records:
        r["direction"] = direction[r["score"]]
    strongest = max(fact_records, key=lambda r: r["auroc"])["score"]
    strata, how = _strata(facts[strongest])
    within = {
        name: _within(s, is_seen, strata, **boot)
        for name, s in {**scores, strongest: facts[strongest]}.items()
    }
    rows = probe_ood.matched_indices(is_seen, strata, seed)
    m = int(np.sum(is_seen[rows]))
    matched: dict = {"n_per_class": m}
    if m >= 5:
        everything = {**scores, **facts}
        matched["scores"] = confidence.summarize(
            {k: v[rows] for k, v in everything.items()}, is_seen[rows], **boot
        )
    usable = [n for n in names if np.ptp(facts[n]) > 0]
    design = np.column_stack([facts[n] for n in usable])
    logistic = {"facts": usable, **_gain(scores["norm"], design, is_seen, **boot)}
    inside = within["norm"]
    adds = bool(
        logistic["gain_lo"] is not None
        and logistic["gain_lo"] > 0
        and logistic["gain"] >= probe_ood.MIN_GAIN
        and inside["lo"] is not None
        and not inside["lo"] <= 0.5 <= inside["hi"]
    )
    return {
        "n_seen": n_seen,
        "n_unseen": n_unseen,
        "orientation": "AUROC > 0.5: seen items score higher; facts oriented after the fact",
        "raw": confidence.summarize(scores, is_seen, **boot),
        "facts": fact_records,
        "strongest": strongest,
        "strata": {"fact": strongest, "cut": how, "count": int(np.unique(strata).size)},
        "within_strata": [{"score": k, **v} for k, v in within.items()],
        "matched": matched,
        "logistic": logistic,
        "norm_adds": adds,
    }
