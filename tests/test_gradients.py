"""The derived (SymPy) InfoNCE gradients against autodiff and finite differences.

Inputs come from `normtheory.testing`: dimensions, batch sizes and candidate counts from
small fixed sets, norms 1e-3..1e3, temperatures 0.01..10, nearly parallel and
antiparallel pairs. Losses and law twins are jitted once per shape.
"""

import functools
import importlib
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from normtheory import laws, losses, testing


def cosine(z, v):
    """cos(z, v) for z, v (d,)."""
    return losses.cosine_matrix(z[None], v[None])[0, 0]


COSINE = jax.jit(cosine)
INFONCE = jax.jit(losses.infonce)
SYMMETRIC = jax.jit(losses.symmetric_infonce)
SHARED = jax.jit(functools.partial(losses.symmetric_infonce, shared_exp=True))
SUPERVISED = jax.jit(losses.supervised_infonce)
# The same argnums as the checkers use, so that the compiled gradients are shared.
GRAD_INFONCE = jax.grad(INFONCE, argnums=0)
GRAD_SYMMETRIC = jax.grad(SYMMETRIC, argnums=(0, 1))

LEARNING_RATES = testing.norms(1e-4, 1e2)  # log-uniform
SCALES = testing.norms()
# Batch losses compile loss, gradient and law twin once per (B, d): keep the extremes only.
BATCH_SHAPES = {"dim": (2, 8), "count": (2, 6)}
PAIR_BATCHES = testing.embedding_pairs(dim=BATCH_SHAPES["dim"], batch=BATCH_SHAPES["count"])
# The derived law needs a positive for every anchor: no singleton labels.
LABELLED_BATCHES = testing.labelled_batches(**BATCH_SHAPES, singletons=False)


@functools.cache
def twin(name):
    """The jitted JAX twin of a law (validation is exercised in its own test)."""
    return jax.jit(laws.get(name).fn)


def cosine_gradients(z, v):
    """(grad_z, grad_v) of cos(z, v) from the derived law (cos is symmetric)."""
    fn = twin("cosine_gradient")
    return fn(z, v), fn(v, z)


def fd_eps(tau):
    """Finite-difference step relative to the norm: truncation error grows like 1/tau^3."""
    return 1e-4 * min(tau, 1.0)


# ---------------------------------------------------------------- derived == jax.grad


@given(testing.embedding_pairs())
def test_cosine_gradient_matches_autodiff(pair):
    testing.check_gradient_matches(COSINE, cosine_gradients, *pair, argnums=(0, 1))


@pytest.mark.parametrize("soft", [False, True], ids=["one_hot", "soft"])
@given(data=st.data(), tau=testing.temperatures())
def test_infonce_gradient_matches_autodiff(soft, data, tau):
    z, candidates, targets = data.draw(testing.candidate_sets(soft=soft))
    fn = twin("infonce_gradient")
    testing.check_gradient_matches(INFONCE, fn, z, candidates, targets, tau, atol=1e-12 / tau)


@given(PAIR_BATCHES, testing.temperatures())
def test_symmetric_infonce_gradient_matches_autodiff(pairs, tau):
    fn = twin("symmetric_infonce_gradient")
    testing.check_gradient_matches(SYMMETRIC, fn, *pairs, tau, argnums=(0, 1), atol=1e-12 / tau)


@given(PAIR_BATCHES, testing.temperatures())
def test_shared_exp_symmetric_infonce_gradient_matches_derived_law(pairs, tau):
    # The custom VJP (one shared exponential) against the law derived in SymPy.
    fn = twin("symmetric_infonce_gradient")
    testing.check_gradient_matches(SHARED, fn, *pairs, tau, argnums=(0, 1), atol=1e-12 / tau)


@given(PAIR_BATCHES, testing.temperatures())
def test_shared_exp_symmetric_infonce_equals_log_sum_exp_form(pairs, tau):
    z, w = pairs
    expected = SYMMETRIC(z, w, tau)
    np.testing.assert_allclose(SHARED(z, w, tau), expected, rtol=1e-12, atol=1e-12 / tau)
    d_tau = jax.grad(SHARED, argnums=2)(z, w, tau)
    np.testing.assert_allclose(
        d_tau, jax.grad(SYMMETRIC, argnums=2)(z, w, tau), rtol=1e-9, atol=1e-12 / tau**2
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_shared_exp_is_finite_and_exact_down_to_its_temperature_limit(dtype):
    # Every cosine -1 (the worst case): each entry is exp(-2 / tau), just above the
    # smallest normal number at the limit; 10 % below it, the float32 entries vanish.
    limit = losses.shared_exp_min_tau(dtype)
    u = jnp.ones((4, 3), dtype) / jnp.sqrt(3)
    for tau, finite in ((limit, True), (0.9 * limit, False)):
        e = jnp.exp((jnp.asarray(-1.0, dtype) - 1) / jnp.asarray(tau, dtype))
        assert bool(e >= jnp.finfo(dtype).tiny) is finite
    # Each direction's cross-entropy is log B - 1/tau + 1/tau = log 4; both forms cancel
    # terms of size 1/tau, so compare at that scale.
    atol = 8 * float(jnp.finfo(dtype).eps) / limit
    shared = jax.jit(functools.partial(losses.symmetric_infonce, shared_exp=True))(u, -u, limit)
    np.testing.assert_allclose(shared, np.log(4.0), rtol=0, atol=atol)
    np.testing.assert_allclose(shared, SYMMETRIC(u, -u, limit), rtol=0, atol=atol)


def test_shared_exp_below_its_limit_is_refused():
    z = jnp.eye(3)
    tau = 0.5 * losses.shared_exp_min_tau(z.dtype)
    with pytest.raises(ValueError, match="shared_exp needs tau >="):
        losses.symmetric_infonce(z, z, tau, shared_exp=True)
    # traced: NaN loss and gradient (the engine never takes this form below the limit)
    assert np.isnan(SHARED(z, z, tau))
    assert np.all(np.isnan(jax.grad(SHARED)(z + 0.1, z, tau)))


@given(LABELLED_BATCHES, testing.temperatures())
def test_supervised_infonce_gradient_matches_autodiff(batch, tau):
    fn = twin("supervised_infonce_gradient")
    testing.check_gradient_matches(SUPERVISED, fn, *batch, tau, atol=1e-12 / tau)


# ------------------------------------------------------------- finite differences


@given(testing.embedding_pairs())
def test_cosine_gradient_matches_finite_differences(pair):
    testing.check_gradient_finite_differences(COSINE, *pair, argnums=(0, 1))
    testing.check_gradient_finite_differences(
        COSINE, *pair, argnums=(0, 1), gradient=cosine_gradients
    )


@given(testing.candidate_sets(), testing.temperatures())
def test_infonce_gradient_matches_finite_differences(data, tau):
    args, eps = (*data, tau), fd_eps(tau)
    testing.check_gradient_finite_differences(INFONCE, *args, eps=eps)
    fn = twin("infonce_gradient")
    testing.check_gradient_finite_differences(INFONCE, *args, gradient=fn, eps=eps)


@given(PAIR_BATCHES, testing.temperatures())
def test_symmetric_infonce_gradient_matches_finite_differences(pairs, tau):
    args, eps = (*pairs, tau), fd_eps(tau)
    fn = twin("symmetric_infonce_gradient")
    testing.check_gradient_finite_differences(SYMMETRIC, *args, argnums=(0, 1), eps=eps)
    testing.check_gradient_finite_differences(
        SYMMETRIC, *args, argnums=(0, 1), gradient=fn, eps=eps
    )


@given(LABELLED_BATCHES, testing.temperatures())
def test_supervised_infonce_gradient_matches_finite_differences(batch, tau):
    args, eps = (*batch, tau), fd_eps(tau)
    fn = twin("supervised_infonce_gradient")
    testing.check_gradient_finite_differences(SUPERVISED, *args, eps=eps)
    testing.check_gradient_finite_differences(SUPERVISED, *args, gradient=fn, eps=eps)


# ------------------------------------------------- Euler identity and homogeneity


def check_scale_identities(loss, args, argnums, formula, scale):
    """Scale invariance of the loss; Euler and homogeneity of jax.grad and of the law."""
    testing.check_scale_invariant(loss, *args, argnums=argnums)
    for gradient in (None, formula):
        testing.check_tangent_gradient(loss, *args, argnums=argnums, gradient=gradient)
        testing.check_homogeneous_gradient(
            loss, *args, argnums=argnums, gradient=gradient, scale=scale
        )


@given(testing.embedding_pairs(), SCALES)
def test_cosine_gradient_is_tangent_and_homogeneous(pair, scale):
    check_scale_identities(COSINE, pair, (0, 1), cosine_gradients, scale)


@given(testing.candidate_sets(), testing.temperatures(), SCALES)
def test_infonce_gradient_is_tangent_and_homogeneous(data, tau, scale):
    fn = twin("infonce_gradient")
    check_scale_identities(INFONCE, (*data, tau), 0, fn, scale)
    testing.check_scale_invariant(INFONCE, *data, tau, argnums=1)


@given(PAIR_BATCHES, testing.temperatures(), SCALES)
def test_symmetric_infonce_gradient_is_tangent_and_homogeneous(pairs, tau, scale):
    fn = twin("symmetric_infonce_gradient")
    check_scale_identities(SYMMETRIC, (*pairs, tau), (0, 1), fn, scale)


@given(LABELLED_BATCHES, testing.temperatures(), SCALES)
def test_supervised_infonce_gradient_is_tangent_and_homogeneous(batch, tau, scale):
    fn = twin("supervised_infonce_gradient")
    check_scale_identities(SUPERVISED, (*batch, tau), 0, fn, scale)


# ------------------------------------------------------- GD norm identity per step


def assert_gd_step_laws(z, g, eta):
    """|z - eta g|^2 and ^4 (rows) equal the GD laws with G2 = N^2 |g|^2 (homogeneity)."""
    n = np.linalg.norm(z, axis=-1)
    g2 = n**2 * np.sum(g * g, axis=-1)
    stepped = np.sum((z - eta * g) ** 2, axis=-1)
    square = np.asarray(laws.get("gd_norm_step")(N=n, eta=eta, G2=g2))
    quartic = np.asarray(laws.get("gd_norm_step_quartic")(N=n, eta=eta, G2=g2))
    context = f"N={n!r}, eta={eta!r}, G2={g2!r}"
    np.testing.assert_allclose(stepped, square, rtol=1e-10, err_msg=context)
    np.testing.assert_allclose(stepped**2, quartic, rtol=1e-10, err_msg=context)


@given(testing.candidate_sets(), testing.temperatures(), LEARNING_RATES)
def test_gd_norm_step_on_infonce_steps(data, tau, eta):
    z = data[0]
    assert_gd_step_laws(z, np.asarray(GRAD_INFONCE(*data, tau)), eta)


@given(PAIR_BATCHES, testing.temperatures(), LEARNING_RATES)
def test_gd_norm_step_on_symmetric_infonce_steps(pairs, tau, eta):
    for x, g in zip(pairs, GRAD_SYMMETRIC(*pairs, tau), strict=True):
        assert_gd_step_laws(x, np.asarray(g), eta)


# ------------------------------------------------------- the checkers catch errors

Z = np.array([0.3, -1.7, 2.9])
V = np.array([1.1, 0.4, -0.6])
CANDIDATES = np.array([[1.0, 0.2, -0.3], [-0.5, 2.0, 0.1], [0.0, -1.0, 4.0]])
TARGETS = np.array([0.0, 1.0, 0.0])


def raw_dot(z, v):
    """Not scale-invariant: a raw dot product."""
    return jnp.dot(z, v)


@pytest.mark.parametrize(
    "check",
    [
        testing.check_scale_invariant,
        testing.check_tangent_gradient,
        testing.check_homogeneous_gradient,
    ],
)
def test_checkers_reject_a_loss_that_is_not_scale_invariant(check):
    with pytest.raises(AssertionError) as info:
        check(raw_dot, Z, V)
    message = str(info.value)
    assert "raw_dot" in message
    assert "argument 'z'" in message
    with np.printoptions(precision=17):
        assert f"z = {Z!r}" in message


def radial_error(size):
    """The true InfoNCE gradient plus a radial term of relative size `size`."""
    fn = twin("infonce_gradient")

    @jax.jit
    def wrong_infonce_gradient(z, candidates, targets, tau):
        g = fn(z, candidates, targets, tau)
        return g + size * jnp.linalg.norm(g) * z / jnp.linalg.norm(z)

    return wrong_infonce_gradient


def batch_normalised(z, w):
    """Invariant under scaling a whole batch, not under scaling its rows separately."""
    return jnp.sum(z * w) / (jnp.linalg.norm(z) * jnp.linalg.norm(w))


def test_scale_invariance_check_scales_rows_separately():
    # Uniform scalings are tried first and pass; the failure comes from the per-row ones.
    with pytest.raises(AssertionError, match="per-row scales"):
        testing.check_scale_invariant(batch_normalised, np.stack([Z, V]), np.stack([V, -Z]))


@pytest.mark.parametrize("tau", [0.05, 1.0])
def test_checkers_accept_the_true_gradient_at_fixed_inputs(tau):
    args = (Z, CANDIDATES, TARGETS, tau)
    fn = twin("infonce_gradient")
    testing.check_gradient_matches(INFONCE, fn, *args)
    testing.check_tangent_gradient(INFONCE, *args, argnums=0, gradient=fn)
    testing.check_gradient_finite_differences(INFONCE, *args, gradient=fn, eps=fd_eps(tau))


@pytest.mark.parametrize("tau", [0.05, 1.0])
def test_checkers_reject_a_gradient_with_a_radial_error(tau):
    args = (Z, CANDIDATES, TARGETS, tau)
    with pytest.raises(AssertionError, match="argument 'z'") as info:
        testing.check_gradient_matches(INFONCE, radial_error(1e-6), *args)
    assert "wrong_infonce_gradient" in str(info.value)
    assert "tau = " in str(info.value)
    with pytest.raises(AssertionError, match="not tangent"):
        testing.check_tangent_gradient(INFONCE, *args, argnums=0, gradient=radial_error(1e-6))
    with pytest.raises(AssertionError, match="finite differences") as info:
        testing.check_gradient_finite_differences(
            INFONCE, *args, gradient=radial_error(1e-3), eps=fd_eps(tau)
        )
    assert "candidates = array(" in str(info.value)


# ------------------------------------------------------------------ odds and ends


def test_infonce_gradient_law_rejects_negative_temperature():
    with pytest.raises(ValueError, match="tau"):
        laws.get("infonce_gradient")(Z, CANDIDATES, TARGETS, tau=-1.0)


def test_module_docstring_example_runs():
    code = textwrap.dedent(testing.__doc__.split("Example::")[1].split("\n\nSpeed:")[0])
    namespace = {}
    exec(code, namespace)
    namespace["test_margin_loss"]()


def test_import_without_hypothesis_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "normtheory.testing")
    with pytest.raises(ImportError, match=r'pip install "normtheory\[test\]"'):
        importlib.import_module("normtheory.testing")
