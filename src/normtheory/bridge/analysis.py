"""The bridge's statistics on arrays: the toy's norm against the real model's, word by
word, next to predictors that need no training dynamics.

Pure NumPy; correlations, bootstrap and sign tests come from `normtheory.confidence`,
the probe's own statistics from `normtheory.probe.analysis`. Records are plain dicts of
floats and ints, ready for JSON. All intervals are 95%: percentile bootstrap over words
(resampled jointly, one seed, so intervals on the same words are paired) for rank
correlations, Clopper-Pearson for sign-test fractions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from normtheory import confidence
from normtheory.probe import analysis as probe_analysis

__all__ = [
    "FEATURES",
    "SIGN_PARTS",
    "baselines",
    "clopper_pearson",
    "compare",
    "frequency_sign",
    "linear_cv",
    "signs",
]

# The word facts that need no training dynamics, in the order of the feature columns.
FEATURES = ("log frequency", "word pieces", "depth")


def linear_cv(
    features: np.ndarray, target: np.ndarray, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold predictions of an ordinary least-squares fit of `target` on `features`.

    Words are permuted by `numpy.random.default_rng(seed)` and dealt round-robin into
    `folds` parts; each part is predicted by the fit (intercept plus the features,
    standardised with the training part's mean and deviation) on the other parts.

    Args:
        features: (n, k) or (n,) finite reals.
        target: (n,) finite reals.
        folds: 2 <= folds <= n.
        seed: the fold assignment.

    Returns:
        (n,) out-of-fold predictions.

    Raises ValueError for mismatched shapes, too few words, or a feature constant in a
    training part.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    y = np.asarray(target, dtype=np.float64)
    n = y.shape[0]
    if x.ndim != 2 or x.shape[0] != n or y.ndim != 1:
        raise ValueError(f"features {x.shape} and target {y.shape}: expected (n, k) and (n,)")
    if not 2 <= folds <= n:
        raise ValueError(f"folds={folds} must be in [2, n={n}]")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("features and target must be finite")
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    out = np.empty(n)
    for f in range(folds):
        test, train = fold_of == f, fold_of != f
        mean, std = x[train].mean(axis=0), x[train].std(axis=0)
        if not np.all(std > 0):
            raise ValueError(f"a feature is constant in the training part of fold {f}")
        design = np.column_stack([np.ones(train.sum()), (x[train] - mean) / std])
        coef, *_ = np.linalg.lstsq(design, y[train], rcond=None)
        out[test] = coef[0] + ((x[test] - mean) / std) @ coef[1:]
    return out


def _interval(statistic, *arrays, n_boot: int, seed: int) -> tuple[float | None, float | None]:
    """The bootstrap interval, or (None, None) when too many resamples are degenerate
    (a predictor with few distinct values in a small vocabulary)."""
    try:
        return confidence.bootstrap_ci(statistic, *arrays, n_boot=n_boot, seed=seed)
    except ValueError:
        return None, None


def _rho_record(
    name: str, predictor: np.ndarray, real: np.ndarray, *, n_boot: int, seed: int
) -> dict:
    """Spearman of predictor and real with its interval; rho None for a constant one."""
    if np.ptp(predictor) == 0:
        return {"name": name, "rho": None, "lo": None, "hi": None, "note": "constant"}
    lo, hi = _interval(confidence.spearman, predictor, real, n_boot=n_boot, seed=seed)
    return {"name": name, "rho": confidence.spearman(predictor, real), "lo": lo, "hi": hi}


def baselines(
    real: np.ndarray,
    features: np.ndarray,
    *,
    names: Sequence[str] = FEATURES,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[list[dict], np.ndarray]:
    """How well the word facts alone rank the real norms.

    Args:
        real: (n,) the real model's norms.
        features: (n, k) the facts, columns named by `names`.
        folds, seed: of `linear_cv`; n_boot, seed: of the bootstrap.

    Returns:
        (records, oof): one record per feature ("name", "rho" = Spearman with the real
        norm, "lo", "hi") and a last one, "linear combination (CV)", for the Spearman of
        the out-of-fold predictions `oof` (n,) of `linear_cv(features, real)`. The fold
        fits are not redone inside the bootstrap: its interval is over words for fixed
        predictions. A constant feature (every word one word piece, in a small
        vocabulary) gets rho None and is left out of the combination. An interval is
        None when more than 10% of the resamples are degenerate.
    """
    features = np.asarray(features, dtype=np.float64)
    records = [
        _rho_record(name, features[:, j], real, n_boot=n_boot, seed=seed)
        for j, name in enumerate(names)
    ]
    varying = np.ptp(features, axis=0) > 0
    oof = linear_cv(features[:, varying], real, folds=folds, seed=seed)
    records.append(_rho_record("linear combination (CV)", oof, real, n_boot=n_boot, seed=seed))
    return records, oof


def _difference(toy: np.ndarray, base: np.ndarray, real: np.ndarray) -> float:
    return confidence.spearman(toy, real) - confidence.spearman(base, real)


def compare(
    toy: np.ndarray,
    real: np.ndarray,
    baseline: np.ndarray,
    features: np.ndarray,
    *,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """The toy's norm against the real norm, word by word, and against the baseline.

    Args:
        toy: (n,) the toy's final norms; real: (n,) the real model's norms.
        baseline: (n,) the no-dynamics prediction (`baselines`' out-of-fold vector).
        features: (n, k) the word facts, for the combination with the toy.
        folds, n_boot, seed: as `baselines`.

    Returns:
        A record: "rho", "lo", "hi" (Spearman of toy and real, bootstrap interval);
        "minus_baseline", "minus_baseline_lo", "minus_baseline_hi" (rho(toy, real) -
        rho(baseline, real), paired bootstrap: both on the same resampled words);
        "with_features" (Spearman with the real norm of the out-of-fold predictions of
        a linear fit on the features plus the toy's norm) and "with_features_gain"
        (its excess over the features alone, with its paired interval): whether the
        toy carries anything the word facts do not.
    """
    boot = {"n_boot": n_boot, "seed": seed}
    record = _rho_record("toy ~ real", toy, real, **boot)
    record["minus_baseline"] = _difference(toy, baseline, real)
    lo, hi = _interval(_difference, toy, baseline, real, **boot)
    record["minus_baseline_lo"], record["minus_baseline_hi"] = lo, hi
    columns = np.column_stack([features, toy])
    both = linear_cv(columns[:, np.ptp(columns, axis=0) > 0], real, folds=folds, seed=seed)
    record["with_features"] = confidence.spearman(both, real)
    record["with_features_gain"] = _difference(both, baseline, real)
    lo, hi = _interval(_difference, both, baseline, real, **boot)
    record["with_features_gain_lo"], record["with_features_gain_hi"] = lo, hi
    return {k: v for k, v in record.items() if k != "name"}


def clopper_pearson(wins: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial fraction wins / n, n >= 1."""
    ci = stats.binomtest(int(wins), int(n)).proportion_ci(level, method="exact")
    return float(ci.low), float(ci.high)


def _with_interval(result: Mapping) -> dict:
    out = dict(result)
    if out.get("n"):
        out["lo"], out["hi"] = clopper_pearson(out["wins"], out["n"])
    else:
        out["lo"] = out["hi"] = None
    return out


def signs(
    norm: np.ndarray,
    log_frequency: np.ndarray,
    pieces: np.ndarray,
    depth: np.ndarray,
    pairs: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """The probe's three statistics on any per-word norm (toy or real).

    Args:
        norm, log_frequency, pieces, depth: (n,) per word.
        pairs: (m, 2) word indices (hypernym, hyponym).
        n_boot, seed: of the bootstrap intervals.

    Returns:
        {"frequency": Spearman of norm and log frequency, "depth": partial Spearman of
        norm and depth given log frequency and word pieces (both `probe.analysis.
        correlation` records with "rho", "lo", "hi"), "hyponym_longer":
        `probe.analysis.sign_test` with a Clopper-Pearson "lo", "hi" on every fraction
        (all pairs, "hyponym_rarer", "hyponym_more_frequent")}.
    """
    boot = {"n_boot": n_boot, "seed": seed}
    controls = np.column_stack([log_frequency, pieces])
    test = probe_analysis.sign_test(norm, pairs, log_frequency)
    longer = _with_interval(test)
    for key in ("hyponym_rarer", "hyponym_more_frequent"):
        longer[key] = _with_interval(test[key])
    return {
        "frequency": probe_analysis.correlation(
            "norm ~ log frequency", norm, log_frequency, **boot
        ),
        "depth": probe_analysis.correlation(
            "norm ~ depth", norm, depth, controls, ["log frequency", "word pieces"], **boot
        ),
        "hyponym_longer": longer,
    }


# The parts of N_T^2 in the budget: the initial N_0^2 and the window sums of the terms.
SIGN_PARTS = ("initial", "decay", "drift", "heat", "remainder")
_NEGLIGIBLE = 0.01  # a part this small next to the largest neither sets nor opposes


def _seed_interval(values: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Student-t interval of the mean of per-seed values (None with one seed)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return None, None
    half = stats.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / values.size**0.5
    return float(values.mean() - half), float(values.mean() + half)


def frequency_sign(
    final: np.ndarray,
    initial: np.ndarray,
    terms: Mapping[str, np.ndarray],
    log_frequency: np.ndarray,
) -> dict:
    """The sign of rho(norm, log frequency) over seeds, and the budget terms behind it.

    Args:
        final: (S, n) final norms N_T of n words in S seeds; initial: (S, n) N_0.
        terms: "decay", "drift", "heat", "remainder" -> (S, n) each term summed over
            the run's windows (`Trajectory` window sums), so that per word and seed
            N_T^2 = N_0^2 + decay + drift + heat + remainder.
        log_frequency: (n,) the words' log frequencies.

    Returns:
        A record: "rho_per_seed" (Spearman of N_T and log frequency in each seed),
        "rho" (their mean) with "lo", "hi" (95% Student-t interval over seeds; None for
        one seed); "sign": -1 if the interval lies below 0 (frequent words shorter, the
        real encoders' sign), +1 above, 0 otherwise or without interval; "tertiles":
        the frequent third minus the rare third of each part of N_T^2 (`SIGN_PARTS`,
        per-word means, averaged over seeds, divided by the mean N_0^2), "net" (the
        same for N_T^2, equal to the sum of the parts) and "closure" (|net - sum|, in
        the same unit); "sets_sign": the part of largest difference with the sign of
        net, "opposes": the part of largest difference against it (None if none;
        parts below `_NEGLIGIBLE` of the largest part's difference are left out).

    Raises ValueError for mismatched shapes, missing terms, non-finite values, or fewer
    than 6 words.
    """
    final = np.asarray(final, dtype=np.float64)
    initial = np.asarray(initial, dtype=np.float64)
    log_frequency = np.asarray(log_frequency, dtype=np.float64)
    if final.ndim != 2 or initial.shape != final.shape or log_frequency.shape != final.shape[1:]:
        raise ValueError(
            f"final {final.shape}, initial {initial.shape}, log_frequency "
            f"{log_frequency.shape}: expected (S, n), (S, n) and (n,)"
        )
    missing = [k for k in SIGN_PARTS[1:] if k not in terms]
    if missing:
        raise ValueError(f"terms lacks {missing}: trace the run with its budget")
    parts = {"initial": initial**2}
    parts |= {k: np.asarray(terms[k], dtype=np.float64) for k in SIGN_PARTS[1:]}
    if any(v.shape != final.shape for v in parts.values()):
        raise ValueError(f"every term must have the shape of final, {final.shape}")
    if not all(np.all(np.isfinite(v)) for v in (final, log_frequency, *parts.values())):
        raise ValueError("norms, terms and log frequencies must be finite")
    if final.shape[1] < 6:
        raise ValueError(f"{final.shape[1]} words: need at least 6 for tertiles")
    rhos = [confidence.spearman(f, log_frequency) for f in final]
    lo, hi = _seed_interval(np.array(rhos))
    sign = 0 if lo is None else (-1 if hi < 0 else (+1 if lo > 0 else 0))
    low, high = np.quantile(log_frequency, [1 / 3, 2 / 3])
    rare, frequent = log_frequency <= low, log_frequency >= high
    scale = float(np.mean(parts["initial"]))

    def third(values: np.ndarray) -> float:
        return float(np.mean(values[:, frequent]) - np.mean(values[:, rare])) / scale

    differences = {k: third(v) for k, v in parts.items()}
    net = third(final**2)
    closure = abs(net - sum(differences.values()))
    floor = _NEGLIGIBLE * max(abs(v) for v in differences.values())
    along = {k: v for k, v in differences.items() if v * net > 0 and abs(v) > floor}
    against = {k: v for k, v in differences.items() if v * net < 0 and abs(v) > floor}
    return {
        "rho_per_seed": rhos,
        "rho": float(np.mean(rhos)),
        "lo": lo,
        "hi": hi,
        "sign": sign,
        "tertiles": differences,
        "net": net,
        "closure": closure,
        "unit": "mean N_0^2",
        "sets_sign": max(along, key=lambda k: abs(along[k])) if along else None,
        "opposes": max(against, key=lambda k: abs(against[k])) if against else None,
    }
