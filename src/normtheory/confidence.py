"""How well a per-query confidence score predicts whether a retrieval is correct.

NumPy and SciPy in float64. A *score* is a 1-D array of finite reals, one per query, higher
meaning more confident (the embedding norm, the top-1 cosine, the top-2 margin, ...);
*correct* is a 1-D boolean array of the same length (0/1 integers or floats are accepted).
Every function checks its input and raises ValueError naming the argument and the
problem rather than returning a number that means nothing.

Measures:

- `auroc`: ranking quality, the Mann-Whitney probability that a correct query outscores
  an incorrect one; `bootstrap_ci` gives a percentile interval for it (or any statistic).
- `risk_coverage`, `selective_accuracy`, `optimal_aurc`: selective prediction, keeping
  only the most confident queries.
- `accuracy_by_bin`: accuracy against the min-max normalised score in fixed-width bins.
- `spearman`, `partial_spearman`: rank association, optionally controlling for confounds.
- `logistic_cv`: out-of-fold probabilities of a logistic model, a combined score.
- `sign_test`: exact two-sided binomial sign test.
- `summarize`: one record per score with the headline numbers.

Where SciPy has the statistic, it computes it: average ranks (`scipy.stats.rankdata`),
Spearman's rho (`scipy.stats.spearmanr`), Pearson's r of residuals
(`scipy.stats.pearsonr`), the binomial test (`scipy.stats.binomtest`) and the logistic
function (`scipy.special.expit`). Kept here, each tested against the library it stands
in for: the bootstrap (skips failed resamples, which `scipy.stats.bootstrap` does not),
the AUROC bootstrap by bincounts (O(n) per resample), partial Spearman (absent from
SciPy) and the logistic cross-validation (Newton's method, no scikit-learn dependency).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping

import numpy as np
from scipy import special, stats

__all__ = [
    "Bins",
    "RiskCoverage",
    "accuracy_by_bin",
    "auroc",
    "auroc_bootstrap_ci",
    "bootstrap_ci",
    "logistic_cv",
    "optimal_aurc",
    "partial_spearman",
    "risk_coverage",
    "selective_accuracy",
    "sign_test",
    "spearman",
    "summarize",
]


# ----------------------------------------------------------------------------- validation


def _real_array(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    bad = int(np.sum(~np.isfinite(arr)))
    if bad:
        raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf)")
    return arr


def _score(x, name: str = "score") -> np.ndarray:
    arr = _real_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _correct(c, n: int | None, other: str = "score", name: str = "correct") -> np.ndarray:
    arr = np.asarray(c)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "b":
        out = arr
    elif arr.dtype.kind in "iuf":
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must be boolean or 0/1, got other values")
        out = arr == 1
    else:
        raise ValueError(f"{name} must be boolean or 0/1, got dtype {arr.dtype}")
    if n is not None and out.shape[0] != n:
        raise ValueError(f"{name} has length {out.shape[0]} but {other} has length {n}")
    return out


def _both_classes(correct: np.ndarray, name: str = "correct") -> tuple[int, int]:
    n_pos = int(np.sum(correct))
    n_neg = correct.size - n_pos
    if n_pos == 0 or n_neg == 0:
        only = "True" if n_neg == 0 else "False"
        raise ValueError(f"{name} has only one class (all {only}); both are needed")
    return n_pos, n_neg


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


# ----------------------------------------------------------------------------- AUROC


def auroc(score, correct) -> float:
    """Area under the ROC curve for predicting `correct` from `score`.

    Equals the Mann-Whitney probability P(s_pos > s_neg) + 0.5 P(s_pos = s_neg) over
    pairs of one correct and one incorrect query (Hanley & McNeil, Radiology 1982),
    computed in O(n log n) from average ranks: (R_pos - n_pos (n_pos + 1) / 2) /
    (n_pos n_neg), where R_pos is the rank sum of the correct queries (Mann & Whitney,
    Ann. Math. Statist. 1947), i.e. the Mann-Whitney U of `scipy.stats.mannwhitneyu`
    divided by n_pos n_neg. Ranks come from `scipy.stats.rankdata` (method "average":
    tied scores share the mean of their ranks), so ties count one half exactly.

    Args: score (n,) finite reals; correct (n,) bool or 0/1.
    Returns: the AUROC, a float in [0, 1].
    Raises ValueError if `correct` has one class.
    """
    s = _score(score)
    c = _correct(correct, s.size)
    n_pos, n_neg = _both_classes(c)
    r_pos = float(np.sum(stats.rankdata(s)[c]))
    return (r_pos - 0.5 * n_pos * (n_pos + 1)) / (n_pos * n_neg)


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(*arrays)` (Efron & Tibshirani, 1993).

    Each resample draws n row indices with replacement from
    `numpy.random.default_rng(seed)` and indexes every array's first axis with the same
    indices, so paired arrays (a score and its `correct`) stay paired. The interval is
    the (1 - level)/2 and (1 + level)/2 quantiles of the resampled statistics.

    A resample on which `statistic` raises ValueError (for AUROC: one with a single
    class) is skipped; if more than 10% of the `n_boot` resamples are skipped the
    interval would be biased, and ValueError is raised instead. A statistic that returns
    a non-finite value also raises ValueError. Deterministic for a fixed seed.

    When no resample fails this is `scipy.stats.bootstrap(arrays, statistic,
    paired=True, method="percentile", n_resamples=n_boot, confidence_level=level,
    rng=numpy.random.default_rng(seed))`: the same resamples and the same linearly
    interpolated percentiles. It is kept for the skipping, which SciPy does not do (a
    failing resample makes its interval NaN or raises).

    Args: statistic maps arrays with the rows of `arrays` to a float; arrays each (n,
    ...), sharing their first axis; n_boot >= 2; level in (0, 1); seed.
    Returns: (lo, hi), the percentile interval.
    """
    if not callable(statistic):
        raise ValueError(f"statistic must be callable, got {statistic!r}")
    if not arrays:
        raise ValueError("arrays: at least one array is needed")
    arrs = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrs):
        if a.ndim == 0:
            raise ValueError(f"arrays[{i}] must have at least one axis, got a scalar")
    n = arrs[0].shape[0]
    if n == 0:
        raise ValueError("arrays[0] is empty")
    for i, a in enumerate(arrs[1:], start=1):
        if a.shape[0] != n:
            raise ValueError(f"arrays[{i}] has {a.shape[0]} rows but arrays[0] has {n}")
    n_boot = _positive_int(n_boot, "n_boot", minimum=2)
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")

    rng = np.random.default_rng(seed)
    values = []
    skipped = 0
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        try:
            value = float(statistic(*(a[idx] for a in arrs)))
        except ValueError:
            skipped += 1
            continue
        if not math.isfinite(value):
            raise ValueError(f"statistic returned a non-finite value ({value}) on a resample")
        values.append(value)
    if skipped > 0.1 * n_boot:
        raise ValueError(
            f"statistic raised ValueError on {skipped} of {n_boot} resamples (more than 10%);"
            " the bootstrap interval would be biased"
        )
    lo, hi = np.quantile(np.asarray(values), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def auroc_bootstrap_ci(
    score, correct, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """`bootstrap_ci(auroc, score, correct, ...)`, computed without sorting each resample.

    The same resamples (the same draws from `numpy.random.default_rng(seed)`), the same
    skipping of one-class resamples and the same quantiles; equal to the generic
    interval up to floating-point rounding. The score is coded once by its distinct
    values (ties share a code), and each resample's AUROC is the Mann-Whitney count
    sum_v pos_v (neg_{<v} + neg_v / 2) / (n_pos n_neg) over those codes, from two
    bincounts: O(n) per resample instead of a sort.

    Args: score (n,), correct (n,) as for `auroc`; n_boot, level, seed as for
    `bootstrap_ci`.
    Returns: (lo, hi), the percentile interval of the AUROC.
    """
    s = _score(score)
    c = _correct(correct, s.size)
    _both_classes(c)
    n_boot = _positive_int(n_boot, "n_boot", minimum=2)
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    values, codes = np.unique(s, return_inverse=True)
    m, n = values.size, s.size
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.integers(0, n, size=n) for _ in range(n_boot)])
    keys = codes[idx] + m * np.arange(n_boot)[:, None]
    hit = c[idx]
    pos = np.bincount(keys[hit], minlength=n_boot * m).reshape(n_boot, m).astype(float)
    neg = np.bincount(keys[~hit], minlength=n_boot * m).reshape(n_boot, m).astype(float)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    ok = (n_pos > 0) & (n_neg > 0)
    skipped = int(np.sum(~ok))
    if skipped > 0.1 * n_boot:
        raise ValueError(
            f"statistic raised ValueError on {skipped} of {n_boot} resamples (more than 10%);"
            " the bootstrap interval would be biased"
        )
    below = np.cumsum(neg, axis=1) - neg
    pairs = np.sum(pos * (below + 0.5 * neg), axis=1)
    aurocs = pairs[ok] / (n_pos[ok] * n_neg[ok])
    lo, hi = np.quantile(aurocs, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- binned accuracy


@dataclasses.dataclass(frozen=True)
class Bins:
    """Accuracy per bin of the min-max normalised score.

    edges (n_bins + 1,) in [0, 1]; count (n_bins,) queries per bin; accuracy (n_bins,)
    fraction correct, NaN where the bin is not valid; valid (n_bins,) count >= min_count.
    """

    edges: np.ndarray
    count: np.ndarray
    accuracy: np.ndarray
    valid: np.ndarray


def accuracy_by_bin(score, correct, n_bins: int = 20, min_count: int = 10) -> Bins:
    """Accuracy against the min-max normalised score in `n_bins` equal-width bins.

    The score is mapped to u = (s - min s) / (max s - min s) in [0, 1]. Bin i is the
    half-open interval [edges[i], edges[i+1]) with edges = linspace(0, 1, n_bins + 1),
    except the last, which is closed so that u = 1 (the maximum) falls in it. Bins with
    fewer than `min_count` queries are marked invalid and their accuracy is NaN.

    Args: score (n,), correct (n,); n_bins >= 1; min_count >= 1.
    Returns: `Bins` with arrays of shape (n_bins + 1,) (edges) and (n_bins,).
    Raises ValueError for a constant score (it cannot be min-max normalised).
    """
    s = _score(score)
    c = _correct(correct, s.size)
    n_bins = _positive_int(n_bins, "n_bins")
    min_count = _positive_int(min_count, "min_count")
    lo, hi = s.min(), s.max()
    if not hi > lo:
        raise ValueError("score is constant; it cannot be min-max normalised")
    u = (s - lo) / (hi - lo)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    hits = np.bincount(which, weights=c.astype(np.float64), minlength=n_bins)
    valid = count >= min_count
    accuracy = np.full(n_bins, np.nan)
    accuracy[valid] = hits[valid] / count[valid]
    return Bins(edges=edges, count=count, accuracy=accuracy, valid=valid)


# ----------------------------------------------------------------------------- selective prediction


@dataclasses.dataclass(frozen=True)
class RiskCoverage:
    """Selective accuracy of the k most confident queries, k = 1..n.

    coverage (n,) k / n; accuracy (n,) expected accuracy of the kept queries (ties
    broken at random); aurc the mean selective risk 1 - accuracy over k = 1..n.
    """

    coverage: np.ndarray
    accuracy: np.ndarray
    aurc: float


def risk_coverage(score, correct) -> RiskCoverage:
    """Risk-coverage curve of selective prediction (Geifman & El-Yaniv, NeurIPS 2017).

    Queries are kept in decreasing order of score; accuracy[k-1] is the fraction correct
    among the k kept. Queries with equal score form a group whose order must not matter:
    when k cuts through a group, the kept part of it contributes its size times the
    group's mean correctness, which is the expectation over random tie-breaking. So the
    curve does not depend on the order of the input.

    AURC is the discrete area under the risk-coverage curve,

        AURC = (1/n) sum_{k=1..n} (1 - accuracy_k),

    the definition of Geifman, Uziel & El-Yaniv (ICLR 2019), as also used by Ding et al.
    (CVPR Workshops 2020). Lower is better; see `optimal_aurc` for the oracle's value.

    Args: score (n,), correct (n,) (one class is allowed).
    Returns: `RiskCoverage` with coverage (n,), accuracy (n,) and the scalar aurc.
    """
    s = _score(score)
    c = _correct(correct, s.size)
    n = s.size
    order = np.argsort(-s, kind="stable")
    ss = s[order]
    cs = c[order].astype(np.float64)
    starts = np.flatnonzero(np.concatenate(([True], ss[1:] != ss[:-1])))
    sizes = np.diff(np.append(starts, n))
    before = np.concatenate(([0.0], np.cumsum(cs)))  # correct among the first j sorted
    group_hits = before[starts + sizes] - before[starts]
    group = np.repeat(np.arange(starts.size), sizes)
    k = np.arange(1, n + 1)
    kept_hits = before[starts[group]] + (k - starts[group]) * (group_hits / sizes)[group]
    accuracy = kept_hits / k
    return RiskCoverage(coverage=k / n, accuracy=accuracy, aurc=float(np.mean(1.0 - accuracy)))


def optimal_aurc(correct) -> float:
    """AURC of an oracle score that ranks every correct query above every incorrect one.

    With m correct of n: risk 0 for k <= m, then (k - m) / k, so
    AURC* = (1/n) sum_{k=m+1..n} (k - m) / k. Excess AURC (E-AURC, Geifman, Uziel &
    El-Yaniv, ICLR 2019) is AURC - AURC*.

    Args: correct (n,). Returns: AURC*, a float in [0, 1].
    """
    c = _correct(correct, None)
    n = c.size
    m = int(np.sum(c))
    k = np.arange(m + 1, n + 1, dtype=np.float64)
    return float(np.sum((k - m) / k) / n)


def selective_accuracy(score, correct, coverage: float) -> float:
    """Expected accuracy of the ceil(coverage * n) most confident queries (ties as in
    `risk_coverage`). coverage must be in (0, 1]; coverage * n is rounded up after a
    1e-9 tolerance, so that 0.7 of 10 queries keeps 7 despite 0.7 * 10 = 7.000...1.

    Args: score (n,), correct (n,), coverage in (0, 1]. Returns: a float in [0, 1].
    """
    if (
        isinstance(coverage, bool)
        or not isinstance(coverage, numbers.Real)
        or not 0 < coverage <= 1
    ):
        raise ValueError(f"coverage must be in (0, 1], got {coverage!r}")
    curve = risk_coverage(score, correct)
    n = curve.accuracy.size
    k = min(n, max(1, math.ceil(float(coverage) * n - 1e-9)))
    return float(curve.accuracy[k - 1])


# ----------------------------------------------------------------------------- rank correlation


def _nonconstant(x: np.ndarray, name: str) -> None:
    if np.all(x == x[0]):
        raise ValueError(f"{name} is constant; its rank correlation is undefined")


def spearman(x, y) -> float:
    """Spearman's rank correlation (Spearman, Am. J. Psychol. 1904): the Pearson
    correlation of the average ranks of x and y (ties share their mean rank), computed
    by `scipy.stats.spearmanr`.

    Args: x (n,), y (n,), finite reals.
    Returns: rho, a float in [-1, 1].
    Raises ValueError if either is constant (where SciPy would warn and return NaN).
    """
    xa = _score(x, "x")
    ya = _score(y, "y")
    if ya.size != xa.size:
        raise ValueError(f"y has length {ya.size} but x has length {xa.size}")
    _nonconstant(xa, "x")
    _nonconstant(ya, "y")
    return float(stats.spearmanr(xa, ya).statistic)


def partial_spearman(x, y, controls) -> float:
    """Partial Spearman correlation of x and y given `controls`.

    The ranks of x and of y are each regressed by least squares on an intercept and the
    ranks of every control; the result is the Pearson correlation of the two residuals.
    This is the partial correlation as a correlation of residuals (Yule, Proc. R. Soc.
    A 1907) applied to ranks, the usual definition of partial rank correlation (e.g.
    Conover, Practical Nonparametric Statistics, 3rd ed., 1999). SciPy has no partial
    correlation; ranks come from `scipy.stats.rankdata`, the least squares from
    `numpy.linalg.lstsq` and the correlation from `scipy.stats.pearsonr`. With one
    control it equals the closed form (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))
    on Spearman r's.

    Args: x (n,), y (n,), controls (n,) or (n, k), all finite; n >= k + 3 so that the
    residuals have at least two degrees of freedom.
    Returns: the partial rank correlation, a float in [-1, 1].
    Raises ValueError if x, y or a control is constant, or if x or y is fully explained
    by the controls.
    """
    xa = _score(x, "x")
    ya = _score(y, "y")
    n = xa.size
    if ya.size != n:
        raise ValueError(f"y has length {ya.size} but x has length {n}")
    ctrl = _real_array(controls, "controls")
    if ctrl.ndim == 1:
        ctrl = ctrl[:, None]
    if ctrl.ndim != 2:
        raise ValueError(f"controls must have shape (n,) or (n, k), got {ctrl.shape}")
    if ctrl.shape[0] != n:
        raise ValueError(f"controls has {ctrl.shape[0]} rows but x has length {n}")
    k = ctrl.shape[1]
    if n < k + 3:
        raise ValueError(f"x has length {n}; {k} control(s) need at least {k + 3} queries")
    _nonconstant(xa, "x")
    _nonconstant(ya, "y")
    for j in range(k):
        _nonconstant(ctrl[:, j], f"controls[:, {j}]")
    design = np.column_stack([np.ones(n)] + [stats.rankdata(ctrl[:, j]) for j in range(k)])
    residuals = []
    for name, v in (("x", xa), ("y", ya)):
        r = stats.rankdata(v)
        coef, *_ = np.linalg.lstsq(design, r, rcond=None)
        res = r - design @ coef
        centred = r - r.mean()
        if np.linalg.norm(res) <= 1e-10 * np.linalg.norm(centred):
            raise ValueError(f"{name} is fully explained by the controls; no residual left")
        residuals.append(res)
    return float(stats.pearsonr(*residuals).statistic)


# ----------------------------------------------------------------------------- logistic model


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 100, tol: float = 1e-10
) -> np.ndarray:
    """Newton's method with backtracking for the penalised mean log-loss.

    Minimises (1/m) sum_i [log(1 + e^{eta_i}) - y_i eta_i] + (l2 / 2) |w|^2 with
    eta = b + x w; x (m, k) has an intercept column prepended here. Returns (k + 1,).
    """
    m, k = x.shape
    design = np.column_stack([np.ones(m), x])
    penalty = np.full(k + 1, l2)
    penalty[0] = 0.0

    def objective(theta):
        eta = design @ theta
        # log(1 + e^eta) - y eta, written as log(1 + e^{-eta}) for y = 1 to avoid cancellation.
        loss = np.logaddexp(0.0, (1.0 - 2.0 * y) * eta)
        return float(np.mean(loss) + 0.5 * np.sum(penalty * theta**2))

    theta = np.zeros(k + 1)
    f = objective(theta)
    for _ in range(max_iter):
        eta = design @ theta
        p, q = special.expit(eta), special.expit(-eta)
        residual = np.where(y > 0.5, -q, p)  # p - y, computed without cancellation
        grad = design.T @ residual / m + penalty * theta
        hess = (design.T * (p * q)) @ design / m + np.diag(penalty)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as err:
            raise RuntimeError(
                "logistic_cv: the Hessian is singular (collinear features?); use l2 > 0"
            ) from err
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(theta))):
            return theta - step
        decrease = float(grad @ step)
        if decrease <= 4 * np.finfo(np.float64).eps * f:
            # The predicted decrease is below the objective's rounding: the line search can
            # no longer tell a better point from a worse one, so take the Newton step. The
            # bound is relative to f so that separable data with l2 = 0 (f -> 0, no minimum)
            # keeps iterating into the RuntimeError below instead of stopping here.
            return theta - step
        t = 1.0
        for _ in range(60):
            candidate = theta - t * step
            f_new = objective(candidate)
            if f_new <= f - 1e-4 * t * decrease:
                break
            t *= 0.5
        else:
            raise RuntimeError("logistic_cv: Newton line search made no progress")
        theta, f = candidate, f_new
    raise RuntimeError(
        f"logistic_cv: Newton's method did not converge in {max_iter} iterations"
        " (separable data with l2 = 0?)"
    )


def logistic_cv(features, correct, folds: int = 5, seed: int = 0, l2: float = 1e-3) -> np.ndarray:
    """Out-of-fold probabilities P(correct) of a logistic regression on `features`.

    Folds are stratified: the correct and the incorrect queries are each permuted by
    `numpy.random.default_rng(seed)`, laid end to end, and dealt round-robin into
    `folds` parts, so fold sizes differ by at most one and each class is spread evenly.
    In each fold the model is fitted on the other folds: every feature is standardised
    with the training part's mean and standard deviation, an intercept is added, and the
    penalised mean log-loss (1/m) sum [log(1 + e^eta) - y eta] + (l2 / 2) |w|^2 (no
    penalty on the intercept) is minimised by Newton's method (IRLS) with backtracking,
    to convergence or RuntimeError after 100 iterations; probabilities are
    `scipy.special.expit` of the linear predictor. The fit is the minimiser of
    `sklearn.linear_model.LogisticRegression(C=1 / (m l2))` on the m training queries,
    here without the scikit-learn dependency.

    Args: features (n, k) or (n,), finite; correct (n,); folds >= 2 and <= n; seed for
    the fold assignment; l2 >= 0 the penalty on the (standardised) weights.
    Returns: (n,) out-of-fold probabilities in (0, 1), a score that `auroc` and
    `risk_coverage` can take. The probabilities of different folds come from different
    fits, so metrics of the pooled vector are slightly pessimistic.
    Raises ValueError if a training part has one class or a constant feature.
    """
    x = _real_array(features, "features")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"features must have shape (n, k) or (n,), got {x.shape}")
    n = x.shape[0]
    c = _correct(correct, n, other="features")
    folds = _positive_int(folds, "folds", minimum=2)
    if folds > n:
        raise ValueError(f"folds ({folds}) exceeds the number of queries ({n})")
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not 0 <= l2 < math.inf:
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    _both_classes(c)

    rng = np.random.default_rng(seed)
    dealt = np.concatenate(
        [rng.permutation(np.flatnonzero(c)), rng.permutation(np.flatnonzero(~c))]
    )
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[dealt] = np.arange(n) % folds
    y = c.astype(np.float64)

    out = np.empty(n)
    for f in range(folds):
        test = fold_of == f
        train = ~test
        _both_classes(c[train], name=f"correct in the training part of fold {f}")
        mean = x[train].mean(axis=0)
        std = x[train].std(axis=0)
        constant = np.flatnonzero(~(std > 0))
        if constant.size:
            raise ValueError(
                f"features column {int(constant[0])} is constant in the training part of"
                f" fold {f}; it cannot be standardised"
            )
        theta = _fit_logistic((x[train] - mean) / std, y[train], float(l2))
        out[test] = special.expit(theta[0] + ((x[test] - mean) / std) @ theta[1:])
    return out


# ----------------------------------------------------------------------------- sign test


def sign_test(wins: int, n: int) -> float:
    """Exact two-sided sign test: the p-value of `wins` successes in `n` trials under
    Binomial(n, 1/2), min(1, 2 P(X <= min(wins, n - wins))) (Conover, Practical
    Nonparametric Statistics, 3rd ed., 1999, ch. 3).

    Computed by `scipy.stats.binomtest(min(wins, n - wins), n, 0.5)`, whose two-sided
    p-value (the probability of outcomes no more likely than the observed one) is that
    sum for p = 1/2; its relative error against exact rational arithmetic is below 1e-13
    up to n = 20000. Evaluating at the lower tail makes the p-value exactly symmetric,
    sign_test(w, n) == sign_test(n - w, n). Ties are the caller's business: drop them
    before counting n.

    Args: wins, n integers with 0 <= wins <= n and n >= 1.
    Returns: the p-value, a float in [0, 1]; 0 only where it underflows float64 (below
    about 5e-324, e.g. wins = 0 with n > 1075).
    """
    n = _positive_int(n, "n")
    wins = _positive_int(wins, "wins", minimum=0)
    if wins > n:
        raise ValueError(f"wins ({wins}) exceeds n ({n})")
    return float(stats.binomtest(min(wins, n - wins), n, 0.5).pvalue)


# ----------------------------------------------------------------------------- summary


def summarize(
    scores: Mapping[str, np.ndarray], correct, *, n_boot: int = 1000, seed: int = 0
) -> list[dict]:
    """One record per score: AUROC with its percentile-bootstrap interval, AURC,
    selective accuracy at coverage 0.5, overall accuracy and n.

    Every score's interval uses the same resamples (same `seed`), so intervals of
    different scores on the same queries are paired. Record keys: "score", "auroc",
    "auroc_lo", "auroc_hi", "aurc", "selective_accuracy_50", "accuracy", "n".

    Args: scores maps names to (n,) arrays; correct (n,); n_boot and seed as for
    `auroc_bootstrap_ci`. Returns: a list of records, one per score in mapping order.
    """
    if not isinstance(scores, Mapping):
        raise ValueError(f"scores must be a mapping from name to array, got {type(scores)}")
    if not scores:
        raise ValueError("scores is empty")
    records = []
    for name, score in scores.items():
        if not isinstance(name, str):
            raise ValueError(f"scores: names must be strings, got {name!r}")
        s = _score(score, f"scores[{name!r}]")
        c = _correct(correct, s.size, other=f"scores[{name!r}]")
        lo, hi = auroc_bootstrap_ci(s, c, n_boot=n_boot, seed=seed)
        curve = risk_coverage(s, c)
        records.append(
            {
                "score": name,
                "auroc": auroc(s, c),
                "auroc_lo": lo,
                "auroc_hi": hi,
                "aurc": curve.aurc,
                "selective_accuracy_50": selective_accuracy(s, c, 0.5),
                "accuracy": float(np.mean(c)),
                "n": int(s.size),
            }
        )
    return records
