"""The testing kit finds the bugs people write in contrastive losses and their gradients.

Each test plants one bug in a reference loss or its hand-derived gradient (SupCon,
Khosla et al. 2020; NT-Xent / InfoNCE with a temperature, Chen et al. 2020; a Siamese
margin loss, Hadsell et al. 2006), runs a hypothesis test built from the kit's
strategies and checkers under its "fast" profile, and asserts that the kit reports the
bug, within 60 s (typically a second or two). The correct versions pass the same
hypothesis tests, so the kit does not simply fail everything.
"""

import json
import re
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, reproduce_failure
from hypothesis import strategies as st

from normtheory import losses, testing

FAST = testing.settings_profile("fast")
LIMIT_S = 60.0  # the kit must report a planted bug within a minute on 2 cores


# ------------------------------------------------------------------ reference losses


def unit_rows(z):
    """(z / |z|, |z|) for rows z (n, d): unit rows (n, d) and norms (n, 1)."""
    n = jnp.linalg.norm(z, axis=-1, keepdims=True)
    return z / n, n


def rows_from_cosine_gradient(z, g_cos):
    """dL/dz (n, d) from dL/dC (n, n), for C = U U^T the cosines of the rows of z.

    dC_ab/dz_i = (I - u_i u_i^T)(delta_ai u_b + delta_bi u_a) / |z_i|, so
    dL/dz_i = (I - u_i u_i^T) h_i / |z_i| with h = (G + G^T) U.
    """
    u, n = unit_rows(z)
    h = (g_cos + g_cos.T) @ u
    return (h - jnp.sum(h * u, axis=-1, keepdims=True) * u) / n


def softmax_off_diagonal(c, tau):
    """Row softmax of c / tau over b != a: (n, n), zero on the diagonal."""
    off = ~jnp.eye(c.shape[0], dtype=bool)
    return jax.nn.softmax(jnp.where(off, c / tau, -jnp.inf), axis=1), off


def supcon_from_cosines(c, labels, tau):
    """SupCon L_out from the cosine matrix c (n, n): mean over the anchors that have a
    positive of -mean_p log softmax_{b != a}(c_ab / tau)_p; labels (n,) int, tau > 0.
    An anchor whose label occurs once has no positive and is left out of the mean."""
    off = ~jnp.eye(c.shape[0], dtype=bool)
    log_p = jax.nn.log_softmax(jnp.where(off, c / tau, -jnp.inf), axis=1)
    pos = (labels[:, None] == labels[None, :]) & off
    count = jnp.sum(pos, axis=1).astype(c.dtype)
    has = count > 0
    per_anchor = -jnp.sum(jnp.where(pos, log_p, 0.0), axis=1) / jnp.maximum(count, 1.0)
    return jnp.sum(jnp.where(has, per_anchor, 0.0)) / jnp.sum(has).astype(c.dtype)


def supcon(z, labels, tau):
    """SupCon (Khosla et al. 2020, L_out) of the rows z (n, d)."""
    u, _ = unit_rows(z)
    return supcon_from_cosines(u @ u.T, labels, tau)


def supcon_cosine_gradient(z, labels, tau, all_anchors=False):
    """dL/dC of `supcon`: (P_ab - Y_ab) / (|A| tau) on anchors a in A (with a positive).

    Y_ab = 1 / |P(a)| for each positive b of a. With all_anchors, |A| is replaced by the
    batch size: the planted bug.
    """
    u, _ = unit_rows(z)
    p, off = softmax_off_diagonal(u @ u.T, tau)
    pos = (labels[:, None] == labels[None, :]) & off
    count = jnp.sum(pos, axis=1, keepdims=True).astype(z.dtype)
    has = count > 0
    y = jnp.where(pos, 1.0 / jnp.maximum(count, 1.0), 0.0)
    anchors = z.shape[0] if all_anchors else jnp.sum(has).astype(z.dtype)
    return jnp.where(has, p - y, 0.0) / (anchors * tau)


@jax.jit
def supcon_gradient(z, labels, tau):
    """The hand-derived SupCon gradient dL/dz (n, d)."""
    return rows_from_cosine_gradient(z, supcon_cosine_gradient(z, labels, tau))


@jax.jit
def supcon_gradient_over_all_anchors(z, labels, tau):
    """Bug: the mean over all anchors, not over the anchors that have a positive."""
    return rows_from_cosine_gradient(z, supcon_cosine_gradient(z, labels, tau, True))


@jax.jit
def supcon_gradient_not_projected(z, labels, tau):
    """Bug: d cos(z_a, z_b) / dz_a taken as u_b / |z_a|, without -cos u_a / |z_a|."""
    u, n = unit_rows(z)
    g = supcon_cosine_gradient(z, labels, tau)
    return (g + g.T) @ u / n


@jax.jit
def supcon_with_eps(z, labels, tau):
    """Bug: rows normalised as z / (|z| + 1e-8), not exactly scale-invariant."""
    u = z / (jnp.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)
    return supcon_from_cosines(u @ u.T, labels, tau)


def ntxent(z, w, tau):
    """NT-Xent on two views z, w (B, d): the 2B rows [z; w], row a's positive its other
    view, its candidates all other rows; mean over the 2B anchors."""
    e = jnp.concatenate([z, w])
    b = z.shape[0]
    u, _ = unit_rows(e)
    off = ~jnp.eye(2 * b, dtype=bool)
    log_p = jax.nn.log_softmax(jnp.where(off, u @ u.T / tau, -jnp.inf), axis=1)
    partner = jnp.concatenate([jnp.arange(b, 2 * b), jnp.arange(b)])
    return -jnp.mean(log_p[jnp.arange(2 * b), partner])


def ntxent_gradient_with(power, name):
    """The hand-derived NT-Xent gradient (dL/dz, dL/dw, dL/dtau), with the logit
    gradient (P - Y) / (2B) divided by tau**power (power 1 is right)."""

    def gradient(z, w, tau):
        e = jnp.concatenate([z, w])
        b = z.shape[0]
        u, _ = unit_rows(e)
        c = u @ u.T
        p, _ = softmax_off_diagonal(c, tau)
        y = jnp.roll(jnp.eye(2 * b), b, axis=1)  # row a's positive: a + B mod 2B
        s = (p - y) / (2 * b)
        g = rows_from_cosine_gradient(e, s / tau**power)
        return g[:b], g[b:], -jnp.sum(s * c) / tau**2

    gradient.__name__ = name
    return jax.jit(gradient)


ntxent_gradient = ntxent_gradient_with(1, "ntxent_gradient")
WRONG_TEMPERATURE = {
    "tau_missing": ntxent_gradient_with(0, "ntxent_gradient_without_tau"),
    "tau_twice": ntxent_gradient_with(2, "ntxent_gradient_with_tau_twice"),
}


def ntxent_raw_dot(z, w, tau):
    """Bug: NT-Xent on dot products z_a . w_b (no normalisation)."""
    e = jnp.concatenate([z, w])
    b = z.shape[0]
    off = ~jnp.eye(2 * b, dtype=bool)
    log_p = jax.nn.log_softmax(jnp.where(off, e @ e.T / tau, -jnp.inf), axis=1)
    partner = jnp.concatenate([jnp.arange(b, 2 * b), jnp.arange(b)])
    return -jnp.mean(log_p[jnp.arange(2 * b), partner])


MARGIN = 0.5


def siamese_margin(z, v, same):
    """Hadsell et al. (2006) contrastive loss on unit rows, d = |u - v| (rows):
    mean of same d^2 + (1 - same) max(0, m - d)^2. Bug: d = jnp.linalg.norm(u - v),
    whose gradient at a duplicated pair (d = 0) is NaN."""
    d = jnp.linalg.norm(unit_rows(z)[0] - unit_rows(v)[0], axis=-1)
    return jnp.mean(same * d**2 + (1 - same) * jnp.maximum(MARGIN - d, 0.0) ** 2)


def siamese_margin_safe(z, v, same):
    """`siamese_margin` with d = sqrt(d^2) only where d^2 > 0, else 0 (the square root
    never sees 0, so its gradient is finite at duplicated pairs)."""
    d2 = jnp.sum((unit_rows(z)[0] - unit_rows(v)[0]) ** 2, axis=-1)
    positive = d2 > 0
    d = jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)
    return jnp.mean(same * d**2 + (1 - same) * jnp.maximum(MARGIN - d, 0.0) ** 2)


SUPCON = jax.jit(supcon)
NTXENT = jax.jit(ntxent)
SIAMESE = jax.jit(siamese_margin)
SIAMESE_SAFE = jax.jit(siamese_margin_safe)
SIAMESE_PAIRS = st.tuples(testing.embedding_pairs(batch=True), st.integers(0, 1)).map(
    lambda p: (*p[0], np.full(p[0][0].shape[0], float(p[1])))
)


# ----------------------------------------------------------------------- harness


def kit_reports(test, match):
    """Run a hypothesis test; assert it fails with a message matching `match` in time.

    Returns the AssertionError, for further checks of the report.
    """
    start = time.perf_counter()
    with pytest.raises(AssertionError, match=match) as info:
        test()
    elapsed = time.perf_counter() - start
    assert elapsed < LIMIT_S, f"the kit took {elapsed:.1f} s to report the bug"
    return info.value


def supcon_batches(**kwargs):
    return st.tuples(testing.labelled_batches(**kwargs), testing.temperatures())


# ------------------------------------------------------------- the oracles agree


def test_reference_losses_agree_with_independent_implementations():
    rng = np.random.default_rng(0)
    z, w = rng.standard_normal((2, 4, 3)) * np.array([[0.01], [1.0], [30.0], [2.0]])
    labels = np.array([0, 0, 1, 1, 2, 3])
    e = np.concatenate([z, w])
    pair_labels = jnp.asarray(np.tile(np.arange(4), 2))
    for tau in (0.05, 1.0, 7.0):
        with jax.numpy_dtype_promotion("standard"):  # optax mixes bool and int masks
            oracle = optax.losses.ntxent(jnp.asarray(e), pair_labels, tau)
        np.testing.assert_allclose(NTXENT(z, w, tau), oracle, rtol=1e-6)
        supervised = losses.supervised_infonce(e[:6], labels, tau)
        np.testing.assert_allclose(SUPCON(e[:6], labels, tau), supervised, rtol=1e-12)


# ------------------------------------------------- the correct versions pass the kit


def test_correct_supcon_gradient_passes_the_kit():
    @FAST
    @given(supcon_batches())
    def kit(data):
        (z, labels), tau = data
        args = (z, labels, tau)
        testing.check_scale_invariant(SUPCON, *args, argnums=0)
        testing.check_gradient_matches(SUPCON, supcon_gradient, *args, atol=1e-12 / tau)
        testing.check_tangent_gradient(SUPCON, *args, argnums=0, gradient=supcon_gradient)

    kit()


def test_correct_ntxent_gradient_passes_the_kit():
    @FAST
    @given(testing.embedding_pairs(batch=True), testing.temperatures())
    def kit(pairs, tau):
        args = (*pairs, tau)
        testing.check_scale_invariant(NTXENT, *args, argnums=(0, 1))
        testing.check_gradient_matches(
            NTXENT, ntxent_gradient, *args, argnums=(0, 1, 2), atol=1e-12 / tau**2
        )

    kit()


def test_safe_siamese_margin_passes_the_kit():
    @FAST
    @given(SIAMESE_PAIRS)
    def kit(args):
        testing.check_scale_invariant(SIAMESE_SAFE, *args, argnums=(0, 1))
        testing.check_tangent_gradient(SIAMESE_SAFE, *args, argnums=(0, 1))

    kit()


# ---------------------------------------------------------- planted bugs, reported


def test_supcon_normalised_by_all_anchors_is_reported():
    def kit_with(**kwargs):
        @FAST
        @given(supcon_batches(**kwargs))
        def kit(data):
            (z, labels), tau = data
            testing.check_gradient_matches(
                SUPCON, supcon_gradient_over_all_anchors, z, labels, tau, atol=1e-12 / tau
            )

        return kit

    # Only an anchor without a positive separates the two normalisations.
    kit_with(singletons=False)()
    err = kit_reports(kit_with(), "differs from supcon_gradient_over_all_anchors")
    labels = json.loads(re.search(r"labels = array\((\[[^\]]*\])\)", str(err)).group(1))
    assert np.min(np.unique(labels, return_counts=True)[1]) == 1


@pytest.mark.parametrize("bug", sorted(WRONG_TEMPERATURE))
def test_ntxent_gradient_with_a_wrong_temperature_factor_is_reported(bug):
    wrong = WRONG_TEMPERATURE[bug]

    @FAST
    @given(testing.embedding_pairs(batch=True), testing.temperatures())
    def kit(pairs, tau):
        testing.check_gradient_matches(NTXENT, wrong, *pairs, tau, argnums=(0, 1, 2))

    kit_reports(kit, f"differs from {wrong.__name__}")


def test_gradient_not_projected_to_the_tangent_space_is_reported():
    @FAST
    @given(supcon_batches())
    def kit(data):
        (z, labels), tau = data
        testing.check_tangent_gradient(
            SUPCON, z, labels, tau, argnums=0, gradient=supcon_gradient_not_projected
        )

    kit_reports(kit, "is not tangent")


@pytest.mark.parametrize(
    ("loss", "strategy"),
    [
        (supcon_with_eps, supcon_batches().map(lambda d: (*d[0], d[1]))),
        (
            ntxent_raw_dot,
            st.tuples(testing.embedding_pairs(batch=True), testing.temperatures()).map(
                lambda d: (*d[0], d[1])
            ),
        ),
    ],
    ids=["eps_in_the_normalisation", "unnormalised_dot_products"],
)
def test_loss_that_is_not_scale_invariant_is_reported(loss, strategy):
    @FAST
    @given(strategy)
    def kit(args):
        testing.check_scale_invariant(loss, *args, argnums=0)

    kit_reports(kit, "not scale-invariant in argument 'z'")


def test_nan_gradient_at_duplicated_rows_is_reported():
    @FAST
    @given(SIAMESE_PAIRS)
    def kit(args):
        testing.check_tangent_gradient(SIAMESE, *args, argnums=(0, 1))

    # Near-duplicates (1e-6 rad apart) do not reach d = 0; exact duplicates do.
    near = st.tuples(
        testing.embedding_pairs(batch=True, kinds=("generic", "parallel", "antiparallel")),
        st.integers(0, 1),
    ).map(lambda p: (*p[0], np.full(p[0][0].shape[0], float(p[1]))))
    FAST(given(near)(lambda args: testing.check_tangent_gradient(SIAMESE, *args, argnums=(0, 1))))()
    kit_reports(kit, "jax.grad w.r.t. argument 'z' is not finite")


# ------------------------------------------------------- a report can be replayed


def test_a_reported_failure_replays_from_its_blob():
    def kit():
        @given(supcon_batches())
        def check(data):
            (z, labels), tau = data
            testing.check_gradient_matches(
                SUPCON, supcon_gradient_over_all_anchors, z, labels, tau, atol=1e-12 / tau
            )

        return check

    err = kit_reports(FAST(kit()), "differs")
    notes = "\n".join(getattr(err, "__notes__", []))
    found = re.search(r"@reproduce_failure\('([^']+)', (b'[^']*')\)", notes)
    assert found, notes
    version, blob = found.group(1), eval(found.group(2))
    replay = reproduce_failure(version, blob)(FAST(kit()))
    with pytest.raises(AssertionError) as again:
        replay()
    first = str(err).split("inputs:")[1]
    assert str(again.value).split("inputs:")[1] == first


# ------------------------------------------------------ the strategies' hard cases


def test_strategies_draw_the_hard_cases():
    seen = {"singleton": 0, "duplicate": 0, "antipodal": 0, "ends": set()}

    @FAST
    @given(supcon_batches())
    def collect(data):
        (z, labels), tau = data
        seen["singleton"] += bool(np.min(np.unique(labels, return_counts=True)[1]) == 1)
        same = [(a, b) for a in range(len(z)) for b in range(a)]
        seen["duplicate"] += any(np.array_equal(z[a], z[b]) for a, b in same)
        seen["antipodal"] += any(np.array_equal(z[a], -z[b]) for a, b in same)
        seen["ends"] |= {tau} & {0.01, 10.0}

    collect()
    assert seen["singleton"] >= 3, seen
    assert seen["duplicate"] >= 3, seen
    assert seen["antipodal"] >= 3, seen
    assert seen["ends"] == {0.01, 10.0}, seen


@pytest.mark.parametrize("singletons", [True, False])
def test_singletons_option_is_honoured(singletons):
    @FAST
    @given(testing.labelled_batches(count=(3, 4, 6), singletons=singletons))
    def check(batch):
        counts = np.unique(batch[1], return_counts=True)[1]
        assert bool(counts.min() == 1) == singletons
        assert counts.max() >= 2  # some anchor always has a positive

    check()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: testing.settings_profile("slow"), "unknown settings profile 'slow'; known"),
        (lambda: testing.temperatures(ends=1.5), "ends is a probability"),
        (lambda: testing.temperatures(0.0, 1.0), "need 0 < min_value"),
    ],
)
def test_bad_options_are_refused_at_once(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("strategy", "match"),
    [
        (testing.labelled_batches(count=2, singletons=True), "singletons=True needs"),
        (testing.embedding_pairs(kinds=("paralel",)), "kinds must be a non-empty subset"),
    ],
)
def test_bad_strategy_arguments_are_refused_when_drawn(strategy, match):
    @FAST
    @given(strategy)
    def draw(value):
        pass

    with pytest.raises(ValueError, match=match):
        draw()


# --------------------------------------------------- compiled once, eager if it must


def test_a_loss_that_cannot_be_traced_is_checked_eagerly():
    calls = []

    def branchy(z, w, tau):  # Python control flow on a value: jit cannot trace it
        calls.append(tau)
        scale = 2.0 if float(tau) > 1 else 1.0
        return scale * ntxent(z, w, tau)

    z, w = np.eye(3)[:2] * 5.0, np.eye(3)[1:] * 0.1
    testing.check_scale_invariant(branchy, z, w, 2.0, argnums=(0, 1))
    with pytest.raises(AssertionError, match="not scale-invariant"):
        testing.check_scale_invariant(lambda z, w, tau: branchy(z, w, tau) * z[0, 0], z, w, 2.0)
    assert len(calls) > 2


def test_an_error_raised_by_the_loss_is_not_swallowed():
    def refuses(z, w, tau):
        raise ValueError("tau must be positive")

    with pytest.raises(ValueError, match="tau must be positive"):
        testing.check_scale_invariant(refuses, np.eye(2), np.eye(2), -1.0)


def test_the_loss_is_compiled_once_per_shape():
    traces = []

    def counted(z, w, tau):
        traces.append(z.shape)
        return ntxent(z, w, tau)

    rng = np.random.default_rng(3)
    for _ in range(5):
        z, w = rng.standard_normal((2, 4, 3))
        testing.check_scale_invariant(counted, z, w, 0.5, argnums=(0, 1))
        testing.check_tangent_gradient(counted, z, w, 0.5, argnums=(0, 1))
    # one trace for the loss, one for its gradient: not one per call or per example
    assert len(traces) == 2, traces
