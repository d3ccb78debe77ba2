"""Scores of one regime's retrieval arrays: AUROC and AURC of the norm and the baselines,
and theory's side of 0.5 for the norm's AUROC, derived.

`evaluate(regime, arrays)` -> `RegimeResult` (per-score summaries with bootstrap
intervals, accuracy per norm bin, risk-coverage curves, the derived prediction and the
verdict, the rule by model family beside it, and the out-of-distribution test of `ood`:
seen against unseen items, beside the item facts that need no training and matched on
the strongest of them); `records(results)` turns results into JSON-ready records.

The prediction (`Prediction`, `predict`): the norm ranks queries by their feature with
the sign item 18's mean field gives (`normtheory.mean_field.predicted_sign`, from the
configuration and the model at initialisation), and the feature ranks correctness with
the sign of the link, Spearman(feature, correct), measured in calibration runs of the
same regime at seeds disjoint from the judged ones (`settings.calibration_config`). If
the norm tells correctness only through the feature, the norm's AUROC lies on the side
of 0.5 given by sign(rho_18) x sign(link) (`predicted_side`); item 18's sign 0 predicts
0.5, and a link whose 95% interval holds 0 gives no side. Its size, under a Gaussian
copula of norm and feature and a binormal feature (`copula_auroc`), is
Phi(r Phi^-1(A_F)) with r = 2 sin(pi rho_18 / 6) and A_F the feature's AUROC for
correctness in the calibration runs. The judged run gives only the seeds it used.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from normtheory import confidence
from normtheory.calibrate import run
from normtheory.calibrate.settings import Regime, calibration_config, regimes
from normtheory.config import ConfigError

__all__ = [
    "AUROC_EQUIVALENCE",
    "OOD_SCORES",
    "SCORES",
    "Prediction",
    "RegimeResult",
    "calibrate",
    "copula_auroc",
    "evaluate",
    "link",
    "ood",
    "predict",
    "predicted_side",
    "records",
    "side_verdict",
]

SCORES = ("norm", "top1_cosine", "margin", "combined", "combined_without_norm")

# A predicted AUROC of 0.5 is confirmed only by an equivalence test: the measured 95%
# interval must lie inside 0.5 +- AUROC_EQUIVALENCE. Under `copula_auroc` a feature of
# AUROC 0.7 for correctness and a norm-feature rank correlation of 0.2 (verify's margin
# of "no correlation", verify.structure.EQUIVALENCE_MARGIN) give an AUROC of 0.54.
AUROC_EQUIVALENCE = 0.05
# The link between the feature and correctness is one sign with an interval over a run's
# queries (1000 to 6000 of them): one calibration seed measures it, which adds a third to
# the judged runs' training instead of doubling it; a link whose interval holds 0 still
# predicts no side.
LINK_SEEDS = 1
MEAN_FIELD_SEEDS = 2  # initial models (calibration seeds) item 18's mean field averages


def predicted_side(sign_18: int, link_lo: float, link_hi: float) -> int | None:
    """The side of 0.5 predicted for the norm's AUROC for correctness.

    Args:
        sign_18: item 18's sign of Spearman(norm growth, feature): -1, 0 or +1.
        link_lo, link_hi: the 95% interval of Spearman(feature, correct) in the
            calibration runs.

    Returns:
        0 when item 18 predicts no correlation (AUROC 0.5); None ("no side") when the
        link's interval holds 0; else sign_18 x sign(link): +1 for AUROC > 0.5 (longer
        queries more often right), -1 for AUROC < 0.5.
    """
    if sign_18 not in (-1, 0, 1):
        raise ValueError(f"sign_18={sign_18!r} must be -1, 0 or +1")
    if not link_lo <= link_hi:
        raise ValueError(f"link interval [{link_lo}, {link_hi}] is not an interval")
    if sign_18 == 0:
        return 0
    if link_lo <= 0.0 <= link_hi:
        return None
    return sign_18 * (1 if link_lo > 0 else -1)


def side_verdict(side: int | None, lo: float, hi: float) -> str:
    """Whether the measured AUROC interval [lo, hi] lies on the predicted side of 0.5.

    A side of +-1 "agrees" when the interval lies wholly on it, "disagrees" when wholly
    on the other, "inconclusive" when it holds 0.5. A predicted 0.5 (side 0) "agrees"
    only when the interval lies inside 0.5 +- AUROC_EQUIVALENCE (an equivalence test),
    "disagrees" when it excludes 0.5, "inconclusive" otherwise. No side (None):
    "inconclusive".
    """
    measured = +1 if lo > 0.5 else (-1 if hi < 0.5 else 0)
    if side is None:
        return "inconclusive"
    if side == 0:
        if measured != 0:
            return "disagrees"
        inside = lo >= 0.5 - AUROC_EQUIVALENCE and hi <= 0.5 + AUROC_EQUIVALENCE
        return "agrees" if inside else "inconclusive"
    if measured == 0:
        return "inconclusive"
    return "agrees" if measured == side else "disagrees"


def copula_auroc(rho_norm_feature: float, feature_auroc: float) -> float:
    """The norm's AUROC for correctness implied by the feature's and their rank correlation.

    Model: the feature's latent score X is binormal, X | correct ~ N(mu_1, 1), X | wrong
    ~ N(mu_0, 1), so its AUROC is A_F = Phi((mu_1 - mu_0) / sqrt 2) (the binormal ROC
    model, Dorfman & Alf 1969; Pepe 2003, sec. 4.4); the norm's latent score is
    Y = r X + sqrt(1 - r^2) E with E ~ N(0, 1) independent of X and of correctness
    (the norm tells correctness only through the feature). Then Y | class ~ N(r mu, 1)
    and A_N = Phi(r Phi^-1(A_F)). r is the Gaussian copula's Pearson correlation of a
    Spearman rho: r = 2 sin(pi rho / 6) (Pearson 1907; Kruskal 1958).

    Args:
        rho_norm_feature: Spearman rho of norm and feature, in [-1, 1].
        feature_auroc: the feature's AUROC for correctness, in [0, 1].

    Returns:
        The norm's AUROC for correctness, in [0, 1] (0.5 when rho is 0; at a feature
        AUROC of 0 or 1 the law's limit, that AUROC or 1 minus it after the sign of rho).
    """
    from scipy.stats import norm

    if not -1.0 <= rho_norm_feature <= 1.0:
        raise ValueError(f"rho_norm_feature={rho_norm_feature} must lie in [-1, 1]")
    if not 0.0 <= feature_auroc <= 1.0:
        raise ValueError(f"feature_auroc={feature_auroc} must lie in [0, 1]")
    r = 2.0 * math.sin(math.pi * rho_norm_feature / 6.0)
    if r == 0.0:
        return 0.5
    if feature_auroc in (0.0, 1.0):  # a feature that separates: the limit of the law
        return feature_auroc if r > 0 else 1.0 - feature_auroc
    return float(norm.cdf(r * norm.ppf(feature_auroc)))


def link(arrays: Mapping[str, np.ndarray], *, n_boot: int = 1000, seed: int = 0) -> dict:
    """The link between a regime's feature and correctness in (calibration) arrays.

    Args:
        arrays: retrieval arrays with "feature" (Q,) and "correct" (Q,) bool.
        n_boot, seed: bootstrap resamples of the queries and their seed.

    Returns:
        {"rho": Spearman(feature, correct), "lo", "hi": its 95% percentile bootstrap
        interval, "feature_auroc": the feature's AUROC for correctness, "n": Q}.

    Raises ValueError when every query is right or every one wrong, or the feature is
    constant (no link can be measured).
    """
    feature = np.asarray(arrays["feature"], float)
    correct = np.asarray(arrays["correct"], bool)
    if correct.all() or not correct.any():
        raise ValueError("the calibration runs' top-1 is always right or always wrong")
    y = correct.astype(float)
    rho = confidence.spearman(feature, y)
    lo, hi = confidence.bootstrap_ci(confidence.spearman, feature, y, n_boot=n_boot, seed=seed)
    return {
        "rho": rho,
        "lo": lo,
        "hi": hi,
        "feature_auroc": confidence.auroc(feature, correct),
        "n": len(y),
    }


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Theory's side of 0.5 for the norm's AUROC, and the inputs it came from.

    sign_18, rho_18: item 18's predicted sign and Spearman rho of norm growth against the
    feature (configuration and model at initialisation only), from the initial models of
    `mean_field_seeds`; link: `link` measured in the calibration runs, whose seeds are
    `calibration_seeds`.
    """

    sign_18: int
    rho_18: float
    link: dict
    calibration_seeds: tuple[int, ...]
    mean_field_seeds: tuple[int, ...] = ()

    @property
    def side(self) -> int | None:
        """`predicted_side`: +1, -1, 0 (AUROC 0.5) or None (no side)."""
        return predicted_side(self.sign_18, self.link["lo"], self.link["hi"])

    @property
    def auroc(self) -> float:
        """`copula_auroc` of rho_18 and the feature's AUROC in the calibration runs."""
        return copula_auroc(self.rho_18, self.link["feature_auroc"])

    def to_json(self) -> dict:
        side = self.side
        return {
            "derivation": "sign(rho_18) x sign(link); 0.5 where item 18 predicts no "
            "correlation; no side where the link's interval holds 0",
            "rho_18": self.rho_18,
            "sign_18": self.sign_18,
            "link": dict(self.link),
            "calibration": {
                "seeds": list(self.calibration_seeds),
                "measured": "Spearman(feature, correct) and the feature's AUROC for "
                "correctness, same regime",
                "mean_field_seeds": list(self.mean_field_seeds),
            },
            "side": None if side is None else int(side),
            "equivalence_margin": AUROC_EQUIVALENCE,
            "predicted_auroc": self.auroc,
        }


def predict(
    regime: Regime,
    judged_seeds: int,
    *,
    n_boot: int = 1000,
    use_cache: bool = True,
    log=None,
) -> Prediction:
    """Item 18's sign for `regime` and the link measured in its calibration runs.

    Args:
        regime: the judged regime (its config's seeds config.seed + [0, judged_seeds)).
        judged_seeds: the number of seeds of the judged run.
        n_boot: bootstrap resamples of the link's interval.
        use_cache: take the calibration runs' retrieval arrays from the results cache.
        log: where cache messages go (default: standard error).

    Returns:
        The `Prediction`; the calibration run is `settings.calibration_config` trained
        for LINK_SEEDS seeds (`run.cached_retrieval`); item 18's mean field is
        evaluated in float64 at the initial models of the first MEAN_FIELD_SEEDS of them
        (it needs no training, and no seed of the judged run enters the prediction).
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    config = calibration_config(regime.config, judged_seeds)
    arrays = run.cached_retrieval(config, LINK_SEEDS, use_cache=use_cache, log=log)
    sign, rho = _mean_field_sign(config.replace(tracked=0), use_cache, log)
    seeds = tuple(config.seed + int(s) for s in np.unique(arrays["seed"]))
    initial = tuple(range(config.seed, config.seed + MEAN_FIELD_SEEDS))
    return Prediction(int(sign), float(rho), link(arrays, n_boot=n_boot), seeds, initial)


def _mean_field_sign(config, use_cache: bool, log) -> tuple[int, float]:
    """Item 18's (sign, rho) at the initial models of `config`'s first MEAN_FIELD_SEEDS
    seeds, in float64, through the results cache when `use_cache` (it needs no training
    but takes seconds per regime, and a rerun of the calibration asks for the same)."""
    import jax

    from normtheory import cache, mean_field

    def compute() -> dict[str, np.ndarray]:
        with jax.enable_x64(True):
            sign, rho = mean_field.predicted_sign(config, MEAN_FIELD_SEEDS)
        return {"sign": np.asarray(sign), "rho": np.asarray(rho)}

    if use_cache:
        spec = {
            "computation": "mean_field.predicted_sign",
            "seeds": MEAN_FIELD_SEEDS,
            "config": dataclasses.asdict(config),
        }
        out = cache.cached_arrays(spec, compute, "mean_field.py", log=log)
    else:
        out = compute()
    return int(out["sign"]), float(out["rho"])


def _judged_seeds(regime: Regime, arrays: Mapping[str, np.ndarray]) -> tuple[int, ...]:
    """The seeds of the judged run (config.seed + s for the arrays' seed column s)."""
    offsets = np.unique(np.asarray(arrays["seed"])).astype(int)
    if not np.array_equal(offsets, np.arange(len(offsets))):
        raise ValueError(
            f"{regime.name}: the arrays' seeds {offsets.tolist()} are not 0..S-1 "
            "(arrays of `run.retrieval`)"
        )
    return tuple(regime.config.seed + int(s) for s in offsets)


@dataclasses.dataclass(frozen=True)
class RegimeResult:
    """The calibration of one regime: per-score summaries and the curves for figures."""

    regime: Regime
    n: int
    accuracy: float
    feature_name: str
    rho_norm_feature: float
    rho_correct_feature: float
    prediction: Prediction  # the derived side, from item 18 and the calibration runs
    judged_seeds: tuple[int, ...]
    rule_by_family: int  # items 13-14's rule's side (+1, -1, 0), kept for comparison
    scores: list[dict]  # confidence.summarize records, one per score
    bins: confidence.Bins  # accuracy per normalised-norm bin
    curves: dict[str, confidence.RiskCoverage]
    ood: dict | None = None  # `ood`'s record; None for arrays without unseen items

    @property
    def norm(self) -> dict:
        return next(s for s in self.scores if s["score"] == "norm")

    @property
    def expected_direction(self) -> int | None:
        """The derived side: +1 norm AUROC > 0.5, -1 < 0.5, 0 = 0.5, None no side."""
        return self.prediction.side

    @property
    def verdict(self) -> str:
        """`side_verdict` of the derived side against the norm's 95% bootstrap interval."""
        return side_verdict(self.expected_direction, self.norm["auroc_lo"], self.norm["auroc_hi"])

    @property
    def rule_verdict(self) -> str:
        """The same verdict for the rule by model family (its 0 judged as 0.5)."""
        return side_verdict(self.rule_by_family, self.norm["auroc_lo"], self.norm["auroc_hi"])


def evaluate(
    regime: Regime,
    arrays: Mapping[str, np.ndarray],
    *,
    n_boot: int = 1000,
    prediction: Prediction | None = None,
) -> RegimeResult:
    """Score the norm and the baselines on one regime's retrieval arrays.

    Args:
        regime: the regime the arrays come from.
        arrays: `run.retrieval`'s arrays of the judged run.
        n_boot: bootstrap resamples of every interval.
        prediction: the derived prediction; by default `predict(regime, S)` for the
            judged run's S seeds (calibration runs at other seeds, trained once and
            cached). Of the judged arrays the prediction uses only how many seeds they hold.

    Returns:
        The `RegimeResult`.
    """
    correct = np.asarray(arrays["correct"], bool)
    if correct.all() or not correct.any():
        raise ValueError(
            f"{regime.name}: every top-1 is {'right' if correct.all() else 'wrong'}; "
            "the scores cannot be compared (change the regime, e.g. more noise or steps)"
        )
    judged = _judged_seeds(regime, arrays)
    if prediction is None:
        prediction = predict(regime, len(judged), n_boot=n_boot)
    shared = sorted(set(judged) & {*prediction.calibration_seeds, *prediction.mean_field_seeds})
    if shared:
        raise ValueError(
            f"{regime.name}: calibration seeds {shared} are the judged run's; a prediction "
            "must not see the run it judges"
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
    # The old rule by model family, kept for comparison: minus its sign for ambiguity
    # (ambiguity lowers accuracy); in the hierarchy its sign times that of the judged
    # run's own correctness-depth correlation (the rule saw the run it judged).
    if regime.config.data == "ambiguity":
        rule = -regime.rule_sign
    else:
        rule = regime.rule_sign * int(np.sign(round(rho_cf, 12)))
    return RegimeResult(
        regime=regime,
        n=len(correct),
        accuracy=float(correct.mean()),
        feature_name="entropy" if regime.config.data == "ambiguity" else "depth",
        rho_norm_feature=rho_nf,
        rho_correct_feature=rho_cf,
        prediction=prediction,
        judged_seeds=judged,
        rule_by_family=rule,
        scores=confidence.summarize(scores, correct, n_boot=n_boot),
        bins=confidence.accuracy_by_bin(base["norm"], correct),
        curves={name: confidence.risk_coverage(s, correct) for name, s in scores.items()},
        ood=ood(arrays, n_boot=n_boot) if "unseen_norm" in arrays else None,
    )


def records(results: Sequence[RegimeResult]) -> list[dict]:
    """JSON-ready records, one per regime.

    Each holds the regime's settings, the scores, "expected_direction" and "verdict"
    (the derived side, +1 / -1 / 0 / None for no side, and `side_verdict`), "theory"
    (`Prediction.to_json`: item 18's rho and sign, the link with its interval and
    calibration seeds, the predicted AUROC), "judged_seeds", "rule_by_family" (the old
    rule's side and verdict) and, where measured, "ood".
    """
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
                "judged_seeds": list(r.judged_seeds),
                "expected_direction": r.expected_direction,
                "verdict": r.verdict,
                "theory": _plain(r.prediction.to_json()),
                "rule_by_family": {
                    "expected_direction": r.rule_by_family,
                    "verdict": r.rule_verdict,
                },
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


def calibrate(
    selected: Sequence[Regime] | None = None,
    seeds: int = 3,
    *,
    n_boot: int = 1000,
    use_cache: bool = True,
    progress: bool = True,
    log=print,
) -> list[RegimeResult]:
    """Train and score every regime (default: `regimes()`); a line of progress per regime.

    Args:
        selected: the regimes to run (default: every regime of `regimes()`).
        seeds: training seeds per regime (>= 1); queries are pooled over seeds.
        n_boot: bootstrap resamples of each AUROC's 95% interval.
        use_cache: reuse the results cache's retrieval arrays (trained float32 runs).
        progress: print one line per regime through `log`.
        log: where progress and cache messages go.

    Returns:
        One RegimeResult per regime, in order: accuracy, each score's AUROC with its
        interval, AURC, the norm's Spearman correlation with the regime's feature, the
        theory's predicted side and the verdict, and the curves the figure draws.

    Raises:
        ConfigError: seeds below 1.
    """
    if seeds < 1:
        raise ConfigError(f"seeds={seeds} must be >= 1")
    selected = regimes() if selected is None else list(selected)
    results = []
    for i, regime in enumerate(selected, 1):
        if progress:
            log(f"[{i}/{len(selected)}] {regime.name}")
        arrays = run.cached_retrieval(regime.config, seeds, use_cache=use_cache, log=log)
        results.append(evaluate(regime, arrays, n_boot=n_boot))
    return results
