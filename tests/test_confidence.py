"""Confidence measures: hand-computed cases, brute-force oracles, the libraries they use
or stand in for (scipy.stats, scikit-learn), invariances, errors.

Property-based tests of every public statistic are in test_confidence_properties.py.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from normtheory import confidence as cf
from normtheory.confidence import (
    accuracy_by_bin,
    auroc,
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


@st.composite
def scored(draw, max_n=30, max_value=6, both=True):
    """Integer scores with many ties and boolean labels (both classes if `both`)."""
    n = draw(st.sampled_from(sorted({n for n in (2, 5, 12, max_n) if n <= max_n})))
    score = np.array(draw(st.lists(st.integers(0, max_value), min_size=n, max_size=n)), float)
    correct = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if both and (correct.all() or not correct.any()):
        correct[0] = not correct[0]
    return score, correct


def _brute_auroc(score, correct):
    pos, neg = score[correct], score[~correct]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (pos.size * neg.size)


def _brute_ranks(x):
    return np.array([np.sum(x < v) + (np.sum(x == v) + 1) / 2 for v in x])


# ----------------------------------------------------------------------------- AUROC


def test_auroc_perfect_reversed_constant():
    correct = np.array([False, False, True, True, True])
    score = np.array([0.1, 0.2, 0.5, 0.7, 0.9])
    assert auroc(score, correct) == 1.0
    assert auroc(-score, correct) == 0.0
    assert auroc(np.full(5, 3.0), correct) == 0.5


def test_auroc_hand_computed_with_a_tie():
    # pos {3, 1} x neg {1, 0}: (3,1) win, (3,0) win, (1,1) tie, (1,0) win -> 3.5 / 4
    assert auroc([3.0, 1.0, 1.0, 0.0], [True, True, False, False]) == 0.875
    # 0/1 integer labels are accepted and mean the same
    assert auroc([3.0, 1.0, 1.0, 0.0], [1, 1, 0, 0]) == 0.875


@given(scored())
def test_auroc_equals_brute_force_pair_count(data):
    score, correct = data
    assert auroc(score, correct) == pytest.approx(_brute_auroc(score, correct), abs=1e-12)


@given(scored(), st.sampled_from(["exp", "cube", "affine"]))
def test_auroc_invariant_under_increasing_maps(data, name):
    score, correct = data
    f = {"exp": np.exp, "cube": lambda s: (s - 2.5) ** 3, "affine": lambda s: 7 * s - 3}[name]
    assert auroc(f(score), correct) == auroc(score, correct)


def test_auroc_matches_mann_whitney_of_scipy():
    rng = np.random.default_rng(0)
    score = np.round(rng.normal(size=300), 1)  # rounding makes ties
    correct = rng.random(300) < 0.4
    u = stats.mannwhitneyu(score[correct], score[~correct]).statistic
    assert auroc(score, correct) == pytest.approx(u / (correct.sum() * (~correct).sum()), 1e-13)


@pytest.mark.parametrize(
    ("score", "correct", "match"),
    [
        ([1.0, 2.0], [True, True], "correct has only one class"),
        ([1.0, 2.0], [False, False], "correct has only one class"),
        ([1.0, 2.0, 3.0], [True, False], "correct has length 2 but score has length 3"),
        ([1.0, np.nan], [True, False], "score has 1 non-finite"),
        ([np.inf, 1.0], [True, False], "score has 1 non-finite"),
        ([1.0, 2.0], [1, 2], "correct must be boolean or 0/1"),
        ([1.0, 2.0], [1.0, np.nan], "correct must be boolean or 0/1"),
        ([1.0, 2.0], ["a", "b"], "correct must be boolean or 0/1"),
        ([], [], "score is empty"),
        ([[1.0, 2.0]], [True, False], "score must be 1-D"),
        ([1.0, 2.0], [[True, False]], "correct must be 1-D"),
        (["x", "y"], [True, False], "score must hold real numbers"),
    ],
)
def test_auroc_rejects_bad_input(score, correct, match):
    with pytest.raises(ValueError, match=match):
        auroc(score, correct)


# ----------------------------------------------------------------------------- bootstrap


def _auroc_data(n=200, seed=1):
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.5
    return rng.normal(size=n) + correct, correct


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    score, correct = _auroc_data()
    a = bootstrap_ci(auroc, score, correct, n_boot=300, seed=3)
    assert a == bootstrap_ci(auroc, score, correct, n_boot=300, seed=3)
    assert a != bootstrap_ci(auroc, score, correct, n_boot=300, seed=4)
    assert a[0] < auroc(score, correct) < a[1]


def test_bootstrap_matches_a_hand_replication():
    x = np.random.default_rng(2).normal(size=50)
    rng = np.random.default_rng(7)
    means = [np.mean(x[rng.integers(0, 50, size=50)]) for _ in range(400)]
    expected = np.quantile(means, [0.05, 0.95])
    got = bootstrap_ci(np.mean, x, n_boot=400, level=0.9, seed=7)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_bootstrap_equals_scipy_bootstrap():
    # scipy.stats.bootstrap draws its resamples as rng.integers(0, n, (batch, n)) from the
    # Generator it is given and takes percentiles with linear interpolation, as we do: on
    # data where no resample fails (so our skipping never acts) the intervals coincide.
    x = np.random.default_rng(2).normal(size=51)
    for seed, level in ((7, 0.9), (8, 0.95)):
        expected = stats.bootstrap(
            (x,),
            np.mean,
            n_resamples=500,
            batch=1,
            vectorized=False,
            method="percentile",
            confidence_level=level,
            rng=np.random.default_rng(seed),
        ).confidence_interval
        got = bootstrap_ci(np.mean, x, n_boot=500, level=level, seed=seed)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


def test_paired_bootstraps_of_auroc_equal_scipy_bootstrap():
    # n = 200 with 100 correct: a one-class resample has probability 2^-199, so neither
    # our skipping nor scipy's NaN on such a resample can occur.
    score, correct = _auroc_data()
    expected = stats.bootstrap(
        (score, correct),
        auroc,
        paired=True,
        n_resamples=400,
        batch=1,
        vectorized=False,
        method="percentile",
        rng=np.random.default_rng(3),
    ).confidence_interval
    generic = bootstrap_ci(auroc, score, correct, n_boot=400, seed=3)
    fast = cf.auroc_bootstrap_ci(score, correct, n_boot=400, seed=3)
    np.testing.assert_allclose(generic, expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(fast, expected, rtol=1e-12, atol=0)
    assert expected[1] - expected[0] > 0.05  # a real interval, not a degenerate one


def test_bootstrap_resamples_rows_jointly():
    a = np.arange(30.0)
    b = np.column_stack([a, -a])  # a second array with a second axis, rows paired with a
    assert bootstrap_ci(lambda u, v: float(np.all(v[:, 0] == u)), a, b, n_boot=50) == (1.0, 1.0)


def test_bootstrap_width_of_a_mean_is_the_normal_theory_width():
    # n = 400 standard normals: the 95% interval of the mean is about +-1.96 s / sqrt(n);
    # with 2000 resamples its width is within 10% (Monte Carlo error about 3%).
    x = np.random.default_rng(5).normal(size=400)
    lo, hi = bootstrap_ci(np.mean, x, n_boot=2000, seed=0)
    assert hi - lo == pytest.approx(2 * 1.96 * np.std(x) / 20, rel=0.1)
    assert lo < np.mean(x) < hi


def test_bootstrap_skips_up_to_ten_percent_of_failures():
    a = np.arange(100.0)

    def stat(threshold):
        def f(x):
            if x[0] < threshold:  # each resample fails with probability threshold / 100
                raise ValueError("unlucky resample")
            return float(np.mean(x))

        return f

    lo, hi = bootstrap_ci(stat(5), a, n_boot=400)
    assert 40 < lo < hi < 60
    with pytest.raises(ValueError, match=r"on \d+ of 400 resamples \(more than 10%\)"):
        bootstrap_ci(stat(20), a, n_boot=400)


def test_bootstrap_of_auroc_with_one_rare_class_raises():
    # one correct query in 20: (19/20)^20 = 36% of resamples have no correct query
    correct = np.zeros(20, bool)
    correct[0] = True
    with pytest.raises(ValueError, match="more than 10%"):
        bootstrap_ci(auroc, np.arange(20.0), correct, n_boot=200)


def test_bootstrap_propagates_other_errors():
    def broken(x):
        raise TypeError("a bug, not a bad resample")

    with pytest.raises(TypeError, match="a bug"):
        bootstrap_ci(broken, np.arange(5.0), n_boot=10)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.mean,), {}, "at least one array"),
        ((np.mean, np.arange(3.0), np.arange(4.0)), {}, "arrays\\[1\\] has 4 rows"),
        ((np.mean, np.array([])), {}, "arrays\\[0\\] is empty"),
        ((np.mean, np.float64(1.0)), {}, "arrays\\[0\\] must have at least one axis"),
        ((np.mean, np.arange(3.0)), {"n_boot": 1}, "n_boot must be at least 2"),
        ((np.mean, np.arange(3.0)), {"n_boot": 10.0}, "n_boot must be an integer"),
        ((np.mean, np.arange(3.0)), {"level": 1.0}, "level must be in"),
        ((np.mean, np.arange(3.0)), {"level": 0.0}, "level must be in"),
        (("mean", np.arange(3.0)), {}, "statistic must be callable"),
        ((lambda x: np.nan, np.arange(3.0)), {}, "statistic returned a non-finite"),
    ],
)
def test_bootstrap_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(*args, **kwargs)


# ----------------------------------------------------------------------------- bins


def test_accuracy_by_bin_hand_example():
    # min 0, max 1, so u = score. 4 bins of width 0.25, min_count 3:
    # [0, .25): 0, .1, .2 -> 1/3 correct; [.25, .5): empty; [.5, .75): .5, .6, .7 -> 2/3
    # (0.5 on an edge goes right); [.75, 1]: .95, 1.0 -> 2 queries < 3, invalid.
    score = np.array([0.0, 0.1, 0.2, 0.5, 0.6, 0.7, 1.0, 0.95])
    correct = np.array([1, 0, 0, 1, 1, 0, 1, 1], bool)
    bins = accuracy_by_bin(score, correct, n_bins=4, min_count=3)
    np.testing.assert_allclose(bins.edges, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(bins.count, [3, 0, 3, 2])
    np.testing.assert_array_equal(bins.valid, [True, False, True, False])
    np.testing.assert_allclose(bins.accuracy, [1 / 3, np.nan, 2 / 3, np.nan])
    # min-max normalisation: any affine rescaling of the score gives the same bins
    again = accuracy_by_bin(10 * score - 4, correct, n_bins=4, min_count=3)
    np.testing.assert_array_equal(again.count, bins.count)
    np.testing.assert_array_equal(again.accuracy, bins.accuracy)
    # with min_count 2 the last bin is valid: both of its queries are correct
    assert accuracy_by_bin(score, correct, n_bins=4, min_count=2).accuracy[3] == 1.0


def test_accuracy_by_bin_default_protocol():
    rng = np.random.default_rng(0)
    score = rng.normal(size=1000)
    correct = rng.random(1000) < 0.5
    bins = accuracy_by_bin(score, correct)
    np.testing.assert_allclose(np.diff(bins.edges), 0.05, atol=1e-15)
    assert bins.count.sum() == 1000  # every query, the max included, lands in a bin
    assert bins.count[-1] >= 1 and bins.count[0] >= 1
    np.testing.assert_array_equal(bins.valid, bins.count >= 10)
    assert np.all(np.isnan(bins.accuracy) == ~bins.valid)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"score": np.ones(4)}, "score is constant"),
        ({"n_bins": 0}, "n_bins must be at least 1"),
        ({"n_bins": 2.5}, "n_bins must be an integer"),
        ({"min_count": 0}, "min_count must be at least 1"),
        ({"min_count": True}, "min_count must be an integer"),
        ({"correct": [True, False]}, "correct has length 2 but score has length 4"),
    ],
)
def test_accuracy_by_bin_rejects_bad_input(kwargs, match):
    args = {"score": np.arange(4.0), "correct": np.array([1, 0, 1, 0], bool)} | kwargs
    with pytest.raises(ValueError, match=match):
        accuracy_by_bin(**args)


# ----------------------------------------------------------------------------- risk-coverage


def test_risk_coverage_known_ordering():
    score = [4.0, 3.0, 2.0, 1.0]
    correct = [True, True, False, False]
    curve = risk_coverage(score, correct)
    np.testing.assert_allclose(curve.coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve.accuracy, [1.0, 1.0, 2 / 3, 0.5])
    assert curve.aurc == pytest.approx((0 + 0 + 1 / 3 + 1 / 2) / 4, abs=1e-15)
    assert selective_accuracy(score, correct, 0.5) == 1.0
    assert selective_accuracy(score, correct, 0.75) == pytest.approx(2 / 3)
    assert selective_accuracy(score, correct, 1.0) == 0.5
    assert selective_accuracy(score, correct, 0.3) == 1.0  # ceil(1.2) = 2 queries


def test_selective_accuracy_rounds_coverage_times_n_sensibly():
    # 0.7 * 10 = 7.000000000000001 in floating point: still 7 queries, not 8
    score = np.arange(10.0, 0.0, -1.0)
    correct = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], bool)
    assert selective_accuracy(score, correct, 0.7) == 1.0
    assert selective_accuracy(score, correct, 0.71) == 7 / 8


def test_risk_coverage_ties_use_the_group_mean():
    # one tie group of 4 with 1 correct: expected accuracy 1/4 at every k
    np.testing.assert_allclose(risk_coverage(np.ones(4), [1, 0, 0, 0]).accuracy, 0.25)
    # 2 > {1, 1} > 0 with correct T, (T, F), F: k=2 keeps the top plus half of the pair
    curve = risk_coverage([2.0, 1.0, 1.0, 0.0], [True, True, False, False])
    np.testing.assert_allclose(curve.accuracy, [1.0, 1.5 / 2, 2 / 3, 0.5])


@given(scored(max_n=6, max_value=2, both=False))
def test_risk_coverage_is_the_mean_over_all_tie_breaks(data):
    score, correct = data
    curves = []
    for perm in itertools.permutations(range(score.size)):
        p = np.array(perm)
        kept = correct[p][np.argsort(-score[p], kind="stable")]
        curves.append(np.cumsum(kept) / np.arange(1, score.size + 1))
    np.testing.assert_allclose(risk_coverage(score, correct).accuracy, np.mean(curves, 0))


@given(scored(both=False), st.randoms(use_true_random=False))
def test_risk_coverage_does_not_depend_on_input_order(data, random):
    score, correct = data
    perm = np.array(random.sample(range(score.size), score.size))
    a, b = risk_coverage(score, correct), risk_coverage(score[perm], correct[perm])
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    assert a.aurc == b.aurc


def test_optimal_aurc_hand_values():
    assert optimal_aurc([True, True, False, False]) == pytest.approx(5 / 24, abs=1e-15)
    assert optimal_aurc([True, False, False]) == pytest.approx((1 / 2 + 2 / 3) / 3, abs=1e-15)
    assert optimal_aurc([True, True]) == 0.0
    assert optimal_aurc([False, False]) == 1.0


@given(scored(both=False), st.integers(0, 2**32 - 1))
def test_oracle_attains_optimal_aurc_and_any_score_is_worse(data, seed):
    score, correct = data
    best = optimal_aurc(correct)
    assert risk_coverage(correct.astype(float), correct).aurc == pytest.approx(best, abs=1e-14)
    assert risk_coverage(score, correct).aurc >= best - 1e-14
    noise = np.random.default_rng(seed).normal(size=score.size)
    assert risk_coverage(noise, correct).aurc >= best - 1e-14


@pytest.mark.parametrize("coverage", [0.0, -0.1, 1.5, math.nan, True, "half"])
def test_selective_accuracy_rejects_bad_coverage(coverage):
    with pytest.raises(ValueError, match="coverage must be in"):
        selective_accuracy([1.0, 2.0], [True, False], coverage)


def test_risk_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="correct has length 1 but score has length 2"):
        risk_coverage([1.0, 2.0], [True])
    with pytest.raises(ValueError, match="score has 1 non-finite"):
        risk_coverage([1.0, np.nan], [True, False])
    with pytest.raises(ValueError, match="correct is empty"):
        optimal_aurc([])
    with pytest.raises(ValueError, match="correct must be boolean or 0/1"):
        optimal_aurc([0.5, 1.0])


# ----------------------------------------------------------------------------- rank correlation


@given(scored(both=False), scored(both=False))
def test_spearman_is_pearson_of_average_ranks(a, b):
    x, y = a[0], b[0]
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    assume(not np.all(x == x[0]) and not np.all(y == y[0]))
    expected = np.corrcoef(_brute_ranks(x), _brute_ranks(y))[0, 1]
    assert spearman(x, y) == pytest.approx(expected, abs=1e-12)


def test_spearman_monotone_maps_and_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=100)
    assert spearman(x, np.exp(3 * x)) == pytest.approx(1.0, abs=1e-15)
    assert spearman(x, -(x**3)) == pytest.approx(-1.0, abs=1e-15)
    y = np.round(x + rng.normal(size=100), 1)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-13)


def test_partial_spearman_removes_a_shared_confound():
    # x and y are both the confound plus small noise: strongly rank-correlated, but given
    # the confound they are independent. n = 500: the null standard error is ~0.045.
    rng = np.random.default_rng(0)
    c = rng.normal(size=500)
    x = c + 0.1 * rng.normal(size=500)
    y = c + 0.1 * rng.normal(size=500)
    assert spearman(x, y) > 0.95
    assert abs(partial_spearman(x, y, c)) < 0.15
    # a monotone transform of the control is the same control for ranks
    assert partial_spearman(x, y, np.exp(c)) == pytest.approx(partial_spearman(x, y, c), 1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_partial_spearman_one_control_matches_the_closed_form(ties):
    # r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)) on Spearman r's from
    # scipy.stats.spearmanr (Conover 1999); ties: every variable rounded to one decimal.
    rng = np.random.default_rng(1)
    z = rng.normal(size=200)
    x = z + rng.normal(size=200)
    y = 0.5 * z + 0.3 * x + rng.normal(size=200)
    if ties:
        x, y, z = np.round(x, 1), np.round(y, 1), np.round(z, 1)
    rxy, rxz, ryz = (stats.spearmanr(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    expected = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    got = partial_spearman(x, y, z)
    assert got == pytest.approx(expected, abs=1e-12)
    assert abs(got - rxy) > 0.1  # the control matters here, so the check has teeth
    assert partial_spearman(x, y, z[:, None]) == got


def test_partial_spearman_two_controls_match_the_precision_matrix():
    # partial correlation = -P_xy / sqrt(P_xx P_yy), P the inverse correlation matrix
    rng = np.random.default_rng(2)
    z = rng.normal(size=(300, 2))
    x = z @ [1.0, -0.5] + rng.normal(size=300)
    y = z @ [0.3, 0.8] + 0.4 * x + rng.normal(size=300)
    ranks = np.column_stack([_brute_ranks(v) for v in (x, y, z[:, 0], z[:, 1])])
    p = np.linalg.inv(np.corrcoef(ranks.T))
    expected = -p[0, 1] / math.sqrt(p[0, 0] * p[1, 1])
    assert partial_spearman(x, y, z) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("x", "y", "controls", "match"),
    [
        (np.ones(6), np.arange(6.0), np.arange(6.0) % 2, "x is constant"),
        (np.arange(6.0), np.ones(6), np.arange(6.0) % 2, "y is constant"),
        (np.arange(6.0), np.arange(5.0), np.arange(6.0) % 2, "y has length 5 but x"),
        (np.arange(6.0), np.arange(6.0) ** 2, np.ones(6), r"controls\[:, 0\] is constant"),
        (np.arange(6.0), np.arange(6.0) % 3, np.arange(5.0), "controls has 5 rows"),
        (np.arange(6.0), np.arange(6.0) % 3, np.ones((6, 2, 1)), "controls must have shape"),
        (np.arange(6.0), np.arange(6.0) % 3, np.ones((6, 0)), "controls is empty"),
        (np.arange(6.0), np.arange(6.0) % 3, np.arange(6.0) ** 3, "x is fully explained"),
        (np.arange(4.0), np.arange(4.0) % 2, np.ones((4, 2)), "need at least 5 queries"),
        (np.arange(6.0), np.arange(6.0) % 3, [0, 1, 2, 3, 4, np.nan], "controls has 1 non"),
    ],
)
def test_partial_spearman_rejects_bad_input(x, y, controls, match):
    with pytest.raises(ValueError, match=match):
        partial_spearman(x, y, controls)


def test_spearman_rejects_bad_input():
    with pytest.raises(ValueError, match="x is constant"):
        spearman(np.ones(4), np.arange(4.0))
    with pytest.raises(ValueError, match="y has length 3 but x has length 4"):
        spearman(np.arange(4.0), np.arange(3.0))
    with pytest.raises(ValueError, match="y has 1 non-finite"):
        spearman(np.arange(3.0), [0.0, np.nan, 1.0])


# ----------------------------------------------------------------------------- logistic model


def test_logistic_cv_separates_informative_from_noise_features():
    # n = 400: under the null the AUROC has standard error sqrt((n+1)/(12 n+ n-)) ~ 0.03,
    # so noise must stay within 0.1 of 0.5; the signal feature alone gives AUROC ~ 0.9.
    rng = np.random.default_rng(0)
    signal = rng.normal(size=400)
    correct = signal + 0.5 * rng.normal(size=400) > 0
    noise = rng.normal(size=(400, 3))
    p = logistic_cv(np.column_stack([signal, noise]), correct)
    assert p.shape == (400,) and np.all((p > 0) & (p < 1))
    assert auroc(p, correct) > 0.85
    assert abs(auroc(logistic_cv(noise, correct), correct) - 0.5) < 0.1
    np.testing.assert_array_equal(p, logistic_cv(np.column_stack([signal, noise]), correct))
    assert not np.array_equal(p, logistic_cv(np.column_stack([signal, noise]), correct, seed=1))


def test_fit_logistic_reaches_the_stationary_point():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    y = (x @ [1.0, -2.0] + rng.normal(size=200) > 0).astype(float)
    l2 = 0.05
    theta = cf._fit_logistic(x, y, l2)
    design = np.column_stack([np.ones(200), x])
    p = 1 / (1 + np.exp(-design @ theta))
    grad = design.T @ (p - y) / 200 + l2 * np.array([0.0, *theta[1:]])
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)


def _folds_as_documented(correct, folds, seed):
    """logistic_cv's fold assignment, from its docstring: each class permuted, laid end to
    end (correct first), dealt round-robin."""
    rng = np.random.default_rng(seed)
    dealt = np.concatenate(
        [rng.permutation(np.flatnonzero(correct)), rng.permutation(np.flatnonzero(~correct))]
    )
    fold_of = np.empty(correct.size, dtype=np.int64)
    fold_of[dealt] = np.arange(correct.size) % folds
    return fold_of


@pytest.mark.parametrize("l2", [1e-3, 0.1])
def test_logistic_cv_matches_scikit_learn(l2):
    # Our mean log-loss + (l2 / 2)|w|^2 on m training queries is scikit-learn's
    # C sum(log-loss) + |w|^2 / 2 with C = 1 / (m l2), intercept unpenalised in both.
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    n, folds = 300, 4
    x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]
    correct = x @ [1.0, -0.05, 0.0] + rng.normal(size=n) > -0.5
    got = logistic_cv(x, correct, folds=folds, seed=2, l2=l2)
    fold_of = _folds_as_documented(correct, folds, seed=2)
    expected = np.empty(n)
    for f in range(folds):
        train = fold_of != f
        mean, std = x[train].mean(axis=0), x[train].std(axis=0)
        model = linear_model.LogisticRegression(
            C=1 / (train.sum() * l2), solver="newton-cholesky", tol=1e-12, max_iter=1000
        )
        model.fit((x[train] - mean) / std, correct[train])
        expected[~train] = model.predict_proba((x[~train] - mean) / std)[:, 1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    assert np.ptp(expected) > 0.5  # informative features: a wrong fit would show


def test_logistic_cv_with_a_huge_penalty_predicts_the_base_rate():
    # l2 -> inf forces the weights to 0: each fold predicts its training part's mean.
    rng = np.random.default_rng(4)
    correct = rng.random(100) < 0.3
    p = logistic_cv(rng.normal(size=(100, 2)), correct, l2=1e8)
    assert np.ptp(p) < 0.02 and abs(np.mean(p) - np.mean(correct)) < 0.02


def test_logistic_cv_without_penalty_on_separable_data_does_not_converge():
    x = np.arange(40.0)
    with pytest.raises(RuntimeError, match="did not converge"):
        logistic_cv(x, x >= 20, l2=0.0)
    # the default l2 copes; the pooled AUROC is just under 1 because the points next to
    # the boundary are scored by different folds' models
    assert auroc(logistic_cv(x, x >= 20), x >= 20) > 0.99


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": np.full((10, 1), np.nan)}, "features has 10 non-finite"),
        ({"features": np.ones((10, 0))}, "features is empty"),
        ({"features": np.ones((10, 1, 1))}, "features must have shape"),
        ({"correct": np.ones(9, bool)}, "correct has length 9 but features has length 10"),
        ({"correct": np.ones(10, bool)}, "correct has only one class"),
        ({"folds": 1}, "folds must be at least 2"),
        ({"folds": 11}, "folds \\(11\\) exceeds the number of queries \\(10\\)"),
        ({"l2": -1.0}, "l2 must be a finite number >= 0"),
        ({"l2": math.inf}, "l2 must be a finite number >= 0"),
        ({"correct": np.arange(10) == 0}, "training part of fold 0 has only one class"),
        ({"features": np.arange(10.0) == 9}, "column 0 is constant in the training part"),
    ],
)
def test_logistic_cv_rejects_bad_input(kwargs, match):
    args = {"features": np.arange(10.0), "correct": np.arange(10) % 2 == 0} | kwargs
    with pytest.raises(ValueError, match=match):
        logistic_cv(**args)


# ----------------------------------------------------------------------------- sign test


def _exact_sign_test(wins, n):
    """min(1, 2 P(X <= min(wins, n - wins))), X ~ Binomial(n, 1/2), in exact rationals,
    rounded once to float."""
    tail = min(wins, n - wins)
    term = count = 1  # comb(n, i), stepped by comb(n, i + 1) = comb(n, i) (n - i) / (i + 1)
    for i in range(tail):
        term = term * (n - i) // (i + 1)
        count += term
    return float(min(Fraction(1), Fraction(2 * count, 2**n)))


def test_sign_test_known_values():
    assert sign_test(10, 10) == 2 / 1024
    assert sign_test(0, 10) == 2 / 1024
    assert sign_test(5, 10) == 1.0
    assert sign_test(8, 10) == 2 * (1 + 10 + 45) / 1024
    assert sign_test(1, 1) == 1.0
    assert sign_test(7, 13) == 1.0  # the middle of an odd n: 2 P(X <= 6) = 1
    # against math.comb, at a size where summing float terms would lose digits
    exact = Fraction(2 * sum(math.comb(200, i) for i in range(81)), 2**200)
    assert sign_test(80, 200) == pytest.approx(float(exact), rel=1e-14, abs=0)


@given(st.integers(1, 300), st.data())
def test_sign_test_is_exact_and_symmetric(n, data):
    wins = data.draw(st.integers(0, n))
    p = sign_test(wins, n)
    assert p == sign_test(n - wins, n)
    assert p == pytest.approx(_exact_sign_test(wins, n), rel=1e-13, abs=0)


@pytest.mark.parametrize("n", [4999, 5000, 5001, 20000])
def test_sign_test_is_exact_at_large_n(n):
    # scipy.stats.binomtest stays within ~1e-13 of the exact p-value here, where a sum
    # of lgamma terms in log space would be off by ~1e-16 n ln n (1e-11 at n = 20000).
    root = math.isqrt(n)
    for wins in (0, n // 2 - 4 * root, n // 2 - root, n // 2 - 30, (n - 1) // 2):
        expected = _exact_sign_test(wins, n)
        if expected == 0.0:  # 2^(1 - n) underflows for n > 1075
            assert sign_test(wins, n) == 0.0
            continue
        assert sign_test(wins, n) == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("wins", "n", "match"),
    [
        (11, 10, r"wins \(11\) exceeds n \(10\)"),
        (-1, 10, "wins must be at least 0"),
        (0, 0, "n must be at least 1"),
        (3, 10.0, "n must be an integer"),
        (True, 10, "wins must be an integer"),
    ],
)
def test_sign_test_rejects_bad_input(wins, n, match):
    with pytest.raises(ValueError, match=match):
        sign_test(wins, n)


# ----------------------------------------------------------------------------- summary


def test_summarize_records():
    score, correct = _auroc_data(n=150)
    noise = np.random.default_rng(9).normal(size=150)
    records = summarize({"good": score, "noise": noise}, correct, n_boot=200, seed=1)
    assert [r["score"] for r in records] == ["good", "noise"]
    for r, s in zip(records, (score, noise), strict=True):
        assert set(r) == {
            "score",
            "auroc",
            "auroc_lo",
            "auroc_hi",
            "aurc",
            "selective_accuracy_50",
            "accuracy",
            "n",
        }
        assert r["auroc"] == auroc(s, correct)
        assert (r["auroc_lo"], r["auroc_hi"]) == bootstrap_ci(auroc, s, correct, n_boot=200, seed=1)
        assert r["auroc_lo"] < r["auroc"] < r["auroc_hi"]
        assert r["aurc"] == risk_coverage(s, correct).aurc
        assert r["selective_accuracy_50"] == selective_accuracy(s, correct, 0.5)
        assert r["accuracy"] == np.mean(correct) and r["n"] == 150
    assert records[0]["auroc_lo"] > records[1]["auroc_hi"]


def test_summarize_rejects_bad_input():
    with pytest.raises(ValueError, match="scores is empty"):
        summarize({}, [True, False])
    with pytest.raises(ValueError, match="scores must be a mapping"):
        summarize([np.arange(2.0)], [True, False])
    with pytest.raises(ValueError, match="names must be strings"):
        summarize({1: np.arange(2.0)}, [True, False])
    with pytest.raises(ValueError, match=r"correct has length 2 but scores\['a'\] has length 3"):
        summarize({"a": np.arange(3.0)}, [True, False])


@pytest.mark.parametrize("ties", [False, True])
def test_fast_auroc_bootstrap_equals_the_generic_bootstrap(ties):
    rng = np.random.default_rng(7)
    n = 300
    correct = rng.random(n) < 0.3
    score = rng.normal(size=n) + correct
    if ties:
        score = np.round(score, 1)  # many tied values across both classes
    generic = cf.bootstrap_ci(cf.auroc, score, correct, n_boot=200, seed=3)
    fast = cf.auroc_bootstrap_ci(score, correct, n_boot=200, seed=3)
    np.testing.assert_allclose(fast, generic, rtol=0, atol=1e-12)


def test_fast_auroc_bootstrap_skips_one_class_resamples_like_the_generic_one():
    correct = np.zeros(40, bool)
    correct[:3] = True  # about 4% of resamples draw no positive and are skipped
    score = np.arange(40.0)
    generic = cf.bootstrap_ci(cf.auroc, score, correct, n_boot=500, seed=1)
    fast = cf.auroc_bootstrap_ci(score, correct, n_boot=500, seed=1)
    np.testing.assert_allclose(fast, generic, atol=1e-12)
    with pytest.raises(ValueError, match="more than 10%"):
        cf.auroc_bootstrap_ci(score, np.arange(40) == 0, n_boot=200)
