"""Properties of every public statistic in normtheory.confidence on hypothesis-drawn data:
symmetries, invariances, identities and monotonicity facts that a wrong implementation
breaks. Profiles ("ci", "thorough") are registered in conftest.py.

Scores are small integers, so ties are common and every invariance below holds exactly
in exact arithmetic; tolerances only absorb floating-point rounding.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from normtheory.confidence import (
    accuracy_by_bin,
    auroc,
    auroc_bootstrap_ci,
    bootstrap_ci,
    logistic_cv,
    optimal_aurc,
    partial_spearman,
    risk_coverage,
    selective_accuracy,
    sign_test,
    spearman,
    summarize,
)

SIZES = (2, 5, 12, 30)
INCREASING = {
    "exp": np.exp,
    "cube": lambda v: (v - 2.5) ** 3,
    "affine": lambda v: 4 * v + 3,  # exact on small integers
}


@st.composite
def scored(draw, sizes=SIZES, max_value=6, both=True):
    """(score, correct): integer scores with many ties, boolean labels; both classes
    present if `both`."""
    n = draw(st.sampled_from(sizes))
    score = np.array(draw(st.lists(st.integers(0, max_value), min_size=n, max_size=n)), float)
    correct = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if both and (correct.all() or not correct.any()):
        correct[0] = not correct[0]
    return score, correct


@st.composite
def paired(draw, sizes=(5, 12, 30), max_value=6):
    """(x, y): two integer vectors of one drawn length, neither constant."""
    n = draw(st.sampled_from(sizes))
    vec = st.lists(st.integers(0, max_value), min_size=n, max_size=n)
    x, y = np.array(draw(vec), float), np.array(draw(vec), float)
    assume(np.ptp(x) > 0 and np.ptp(y) > 0)
    return x, y


# ----------------------------------------------------------------------------- AUROC


@given(scored())
def test_auroc_of_the_negated_score_is_the_complement(data):
    score, correct = data
    assert auroc(score, correct) + auroc(-score, correct) == pytest.approx(1.0, abs=1e-14)


@given(scored())
def test_auroc_with_flipped_labels_is_the_complement(data):
    score, correct = data
    assert auroc(score, ~correct) == pytest.approx(1.0 - auroc(score, correct), abs=1e-14)


@given(scored(), st.sampled_from(sorted(INCREASING)), st.randoms(use_true_random=False))
def test_auroc_ignores_increasing_maps_and_order(data, name, random):
    score, correct = data
    perm = np.array(random.sample(range(score.size), score.size))
    value = auroc(score, correct)
    assert auroc(INCREASING[name](score), correct) == value
    assert auroc(score[perm], correct[perm]) == value
    assert 0.0 <= value <= 1.0


# ----------------------------------------------------------------------------- bootstrap


@given(
    st.sampled_from((5, 12, 30)),
    st.integers(0, 2**32 - 1),
    st.sampled_from((-3.0, 0.5, 1000.0)),
    st.sampled_from((-7.0, 0.0, 2.5)),
)
def test_bootstrap_of_the_mean_is_affine_equivariant(n, seed, scale, shift):
    # Same seed, same resamples: the interval of mean(a x + b) is a * interval + b, with
    # the ends swapped for a < 0 (linear interpolation between order statistics is
    # equivariant), and it lies within the data's range.
    x = np.random.default_rng(seed).normal(size=n)
    lo, hi = bootstrap_ci(np.mean, x, n_boot=60, seed=seed)
    assert x.min() <= lo <= hi <= x.max()
    got = bootstrap_ci(np.mean, scale * x + shift, n_boot=60, seed=seed)
    expected = sorted((scale * lo + shift, scale * hi + shift))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * abs(scale))


@given(st.sampled_from((5, 12, 30)), st.integers(0, 2**32 - 1))
def test_bootstrap_intervals_are_nested_in_the_level(n, seed):
    x = np.random.default_rng(seed).normal(size=n)
    intervals = [bootstrap_ci(np.median, x, n_boot=80, level=lv, seed=1) for lv in (0.5, 0.8, 0.99)]
    for (lo_in, hi_in), (lo_out, hi_out) in itertools.pairwise(intervals):
        assert lo_out <= lo_in <= hi_in <= hi_out
    assert intervals[-1][1] - intervals[-1][0] > intervals[0][1] - intervals[0][0]


@given(scored(sizes=(12, 30)), st.integers(0, 2**16))
def test_fast_auroc_bootstrap_equals_the_generic_one(data, seed):
    score, correct = data
    try:
        generic = bootstrap_ci(auroc, score, correct, n_boot=50, seed=seed)
    except ValueError as error:  # too many one-class resamples: both must refuse
        with pytest.raises(ValueError, match="more than 10%"):
            auroc_bootstrap_ci(score, correct, n_boot=50, seed=seed)
        assert "more than 10%" in str(error)
        return
    fast = auroc_bootstrap_ci(score, correct, n_boot=50, seed=seed)
    np.testing.assert_allclose(fast, generic, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- bins


@given(scored(both=False, sizes=(5, 12, 30)), st.sampled_from((1, 3, 7)), st.integers(1, 4))
def test_bins_match_a_brute_force_assignment(data, n_bins, min_count):
    score, correct = data
    assume(np.ptp(score) > 0)
    bins = accuracy_by_bin(score, correct, n_bins=n_bins, min_count=min_count)
    u = (score - score.min()) / np.ptp(score)
    e = bins.edges
    member = [
        (e[i] <= u) & ((u < e[i + 1]) | ((i == n_bins - 1) & (u == 1.0))) for i in range(n_bins)
    ]
    np.testing.assert_array_equal(bins.count, [m.sum() for m in member])
    assert bins.count.sum() == score.size
    np.testing.assert_array_equal(bins.valid, bins.count >= min_count)
    for i, m in enumerate(member):
        if bins.valid[i]:
            assert bins.accuracy[i] == pytest.approx(np.mean(correct[m]), abs=1e-15)
        else:
            assert math.isnan(bins.accuracy[i])
    # min-max normalisation: 4 s + 3 gives bit-identical u on integer scores
    again = accuracy_by_bin(4 * score + 3, correct, n_bins=n_bins, min_count=min_count)
    np.testing.assert_array_equal(again.count, bins.count)


# ----------------------------------------------------------------------------- selective prediction


@given(scored(both=False))
def test_risk_coverage_identities_and_monotone_counts(data):
    score, correct = data
    n = score.size
    curve = risk_coverage(score, correct)
    k = np.arange(1, n + 1)
    np.testing.assert_allclose(curve.coverage, k / n, rtol=0, atol=1e-15)
    assert curve.accuracy[-1] == pytest.approx(np.mean(correct), abs=1e-14)
    assert curve.aurc == pytest.approx(np.mean(1 - curve.accuracy), abs=1e-14)
    # keeping one more query adds between 0 and 1 expected correct, and 0 to 1 errors
    kept_correct = np.concatenate(([0.0], k * curve.accuracy))
    step = np.diff(kept_correct)
    assert np.all(step >= -1e-12) and np.all(step <= 1 + 1e-12)
    # the oracle's risk never falls as coverage grows; the anti-oracle's never rises
    oracle = risk_coverage(correct.astype(float), correct).accuracy
    assert np.all(np.diff(oracle) <= 1e-12)
    assert np.all(np.diff(risk_coverage(-correct.astype(float), correct).accuracy) >= -1e-12)
    # a constant score keeps a random subset: accuracy is the base rate at every k
    np.testing.assert_allclose(risk_coverage(np.zeros(n), correct).accuracy, np.mean(correct))


@given(scored(both=False), st.sampled_from(sorted(INCREASING)))
def test_risk_coverage_ignores_increasing_maps(data, name):
    score, correct = data
    a, b = risk_coverage(score, correct), risk_coverage(INCREASING[name](score), correct)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)


@given(scored(both=False), st.data())
def test_selective_accuracy_keeps_ceil_coverage_n(data, draw):
    score, correct = data
    n = score.size
    curve = risk_coverage(score, correct)
    assert selective_accuracy(score, correct, 1.0) == pytest.approx(np.mean(correct), abs=1e-14)
    k = draw.draw(st.integers(1, n))
    assert selective_accuracy(score, correct, k / n) == curve.accuracy[k - 1]
    if k < n:  # a hair above k / n keeps one more query
        assert selective_accuracy(score, correct, k / n + 1e-6) == curve.accuracy[k]


@given(scored(both=False, sizes=(2, 5, 6)))
def test_optimal_aurc_is_the_best_ordering(data):
    _, correct = data
    n = correct.size
    k = np.arange(1, n + 1)
    best = min(
        float(np.mean(1 - np.cumsum(order) / k))
        for order in set(itertools.permutations(correct.tolist()))
    )
    assert optimal_aurc(correct) == pytest.approx(best, abs=1e-14)
    assert optimal_aurc(correct) == pytest.approx(
        risk_coverage(correct.astype(float), correct).aurc, abs=1e-14
    )


# ----------------------------------------------------------------------------- rank correlation


@given(paired(), st.sampled_from(sorted(INCREASING)), st.sampled_from(sorted(INCREASING)))
def test_spearman_is_invariant_under_strictly_monotone_maps(xy, f, g):
    x, y = xy
    rho = spearman(x, y)
    assert spearman(INCREASING[f](x), INCREASING[g](y)) == pytest.approx(rho, abs=1e-14)
    assert spearman(x, -INCREASING[g](y)) == pytest.approx(-rho, abs=1e-14)
    assert spearman(y, x) == pytest.approx(rho, abs=1e-14)
    assert -1.0 <= rho <= 1.0
    assert spearman(x, INCREASING[f](x)) == pytest.approx(1.0, abs=1e-14)


@st.composite
def with_control(draw):
    x, y = draw(paired(sizes=(12, 30)))
    z = np.array(draw(st.lists(st.integers(0, 6), min_size=x.size, max_size=x.size)), float)
    assume(np.ptp(z) > 0)
    rxz, ryz = stats.spearmanr(x, z).statistic, stats.spearmanr(y, z).statistic
    assume(max(abs(rxz), abs(ryz)) < 0.99)  # else x or y is (nearly) explained by z
    return x, y, z


@given(with_control(), st.sampled_from(sorted(INCREASING)))
def test_partial_spearman_symmetries_and_the_closed_form(xyz, name):
    x, y, z = xyz
    f = INCREASING[name]
    r = partial_spearman(x, y, z)
    assert partial_spearman(y, x, z) == pytest.approx(r, abs=1e-12)
    assert partial_spearman(x, -y, z) == pytest.approx(-r, abs=1e-12)
    assert partial_spearman(f(x), f(y), f(z)) == pytest.approx(r, abs=1e-12)
    rxy, rxz, ryz = (stats.spearmanr(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    closed = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    assert r == pytest.approx(closed, abs=1e-11)
    assert -1.0 <= r <= 1.0


# ----------------------------------------------------------------------------- logistic model


@given(
    st.sampled_from((40, 80)),
    st.sampled_from((1, 3)),
    st.integers(0, 2**32 - 1),
    st.sampled_from((-1000.0, -1.0, 0.01, 3.0)),
    st.sampled_from((-5.0, 0.0, 100.0)),
)
def test_logistic_cv_ignores_affine_maps_of_a_feature(n, k, seed, scale, shift):
    # Each feature is standardised on the training part and the penalty is symmetric in
    # the weights' signs, so a x + b (a < 0 included) gives the same probabilities.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    correct = x[:, 0] + rng.normal(size=n) > 0
    assume(min(correct.sum(), (~correct).sum()) >= 2)
    p = logistic_cv(x, correct, folds=4, seed=seed)
    assert np.all((p > 0) & (p < 1))
    moved = x.copy()
    moved[:, 0] = scale * x[:, 0] + shift
    np.testing.assert_allclose(logistic_cv(moved, correct, folds=4, seed=seed), p, atol=1e-9)
    reordered = x[:, ::-1]
    np.testing.assert_allclose(logistic_cv(reordered, correct, folds=4, seed=seed), p, atol=1e-9)


# ----------------------------------------------------------------------------- sign test


@given(st.integers(1, 1000), st.data())
def test_sign_test_is_symmetric_and_grows_toward_the_middle(n, data):
    wins = data.draw(st.integers(0, n))
    p = sign_test(wins, n)
    assert p == sign_test(n - wins, n)
    assert 0 < p <= 1
    if abs(2 * wins - n) <= 1:
        assert p == 1.0
    if 2 * wins != n:  # one step toward n / 2 never lowers the p-value
        assert sign_test(wins + 1 if 2 * wins < n else wins - 1, n) >= p
    assert sign_test(0, n) == pytest.approx(min(1.0, 2.0 ** (1 - n)), rel=1e-13)


# ----------------------------------------------------------------------------- summary


@given(scored(sizes=(30,)), st.integers(0, 2**16))
def test_summarize_is_the_individual_measures_and_pairs_resamples(data, seed):
    score, correct = data
    correct[:8], correct[8:16] = True, False  # at least 8 per class: no resample fails often
    records = summarize({"s": score, "neg": -score}, correct, n_boot=60, seed=seed)
    s, neg = records
    assert s["auroc"] == auroc(score, correct) and s["n"] == 30
    assert (s["auroc_lo"], s["auroc_hi"]) == auroc_bootstrap_ci(
        score, correct, n_boot=60, seed=seed
    )
    assert s["aurc"] == risk_coverage(score, correct).aurc
    assert s["selective_accuracy_50"] == selective_accuracy(score, correct, 0.5)
    assert s["accuracy"] == neg["accuracy"] == pytest.approx(np.mean(correct), abs=1e-15)
    # the same resamples for every score: AUROC(-s) = 1 - AUROC(s) on each, so the
    # negated score's interval is the mirror image
    assert neg["auroc"] == pytest.approx(1 - s["auroc"], abs=1e-14)
    assert neg["auroc_lo"] == pytest.approx(1 - s["auroc_hi"], abs=1e-12)
    assert neg["auroc_hi"] == pytest.approx(1 - s["auroc_lo"], abs=1e-12)
    assert s["auroc_lo"] <= s["auroc_hi"]
