"""Scores of one regime's retrieval arrays: AUROC and AURC of the norm and the baselines.

`evaluate(regime, arrays)` -> `RegimeResult` (per-score summaries with bootstrap
intervals, accuracy per norm bin, risk-coverage curves, theory's expected side and the
verdict); `records(results)` turns results into JSON-ready records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from normtheory import confidence
from normtheory.calibrate.settings import Regime

__all__ = ["SCORES", "RegimeResult", "evaluate", "records"]

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
    return out
