"""The step laws on real InfoNCE optimisation steps, in float64.

These use the losses of `normtheory.losses` and optax optimizers, not the symbolic
recurrences, so they check the laws against the dynamics they describe.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

from normtheory import laws, losses


def _table(seed, rows=6, dim=5, scale=1.0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    z = scale * jax.random.normal(k1, (rows, dim), dtype=jnp.float64)
    w = jax.random.normal(k2, (rows, dim), dtype=jnp.float64)
    return z, w


def _loss(z, w, tau=0.3):
    return losses.symmetric_infonce(z, w, tau)


_grad = jax.jit(jax.grad(_loss))


def _row_g2(z, grad):
    """Tangential energy G^2 = N^2 |grad_z|^2 per row (homogeneity, item 2)."""
    return jnp.sum(z * z, -1) * jnp.sum(grad * grad, -1)


@given(st.integers(0, 2**16), st.floats(0.05, 2.0), st.floats(1e-3, 0.2))
def test_li_arora_trajectories_coincide(seed, eta, lam):
    z, w = _table(seed)
    decayed, plain = z, z
    rates = laws.get("li_arora_learning_rate")(eta=eta, lam=lam, t=jnp.arange(30.0))
    for t in range(30):
        decayed = (1 - eta * lam) * decayed - eta * _grad(decayed, w)
        plain = plain - rates[t] * _grad(plain, w)
    rescaled = decayed / laws.get("li_arora_scale")(eta=eta, lam=lam, t=30.0)
    np.testing.assert_allclose(rescaled, plain, rtol=1e-9, atol=1e-9 * float(jnp.abs(plain).max()))


@given(st.integers(0, 2**16), st.floats(0.01, 3.0), st.sampled_from([0.1, 1.0, 10.0]))
def test_gd_step_identities_and_accumulation(seed, eta, scale):
    z, w = _table(seed, scale=scale)
    grad = _grad
    n0 = jnp.linalg.norm(z, axis=-1)
    energy, quartic = jnp.zeros(z.shape[0]), jnp.zeros(z.shape[0])
    step_law, angle_law = laws.get("gd_norm_step"), laws.get("gd_angle_per_step")
    for _ in range(10):
        g = grad(z, w)
        norm, g2 = jnp.linalg.norm(z, axis=-1), _row_g2(z, g)
        z_next = z - eta * g
        n_next = jnp.linalg.norm(z_next, axis=-1)
        step = step_law(N=norm, eta=eta, G2=g2)
        np.testing.assert_allclose(n_next**2, step, rtol=1e-12)
        # Angle from the orthogonal part of z' (arccos of the cosine loses precision near 0).
        along = jnp.sum(z * z_next, -1) / norm
        across = jnp.linalg.norm(z_next - (along / norm)[:, None] * z, axis=-1)
        angle = jnp.arctan2(across, along)
        expected = angle_law(N=norm, eta=eta, G2=g2)
        np.testing.assert_allclose(angle, expected, rtol=1e-9)
        energy += g2
        quartic += g2**2 / norm**4
        z = z_next
    n_t = jnp.linalg.norm(z, axis=-1)
    predicted = laws.get("accumulation")(N0=n0, eta=eta, S=energy)
    # The law drops eta^4 sum G^4/N^4 >= 0: it is a lower bound, off by exactly that term.
    assert bool(jnp.all(n_t**4 >= predicted * (1 - 1e-12)))
    # Both sides of the difference are O(N^4); float64 rounding of N^4 sets the floor.
    rounding = 1e-13 * float(jnp.max(n_t**4))
    np.testing.assert_allclose(n_t**4 - predicted, eta**4 * quartic, rtol=1e-7, atol=rounding)


def test_modified_flow_rate_error_is_the_neglected_order():
    z, w = _table(3)
    eta = 0.05
    g = jax.grad(_loss)(z, w)
    g2, n = _row_g2(z, g), jnp.linalg.norm(z, axis=-1)
    per_step = (jnp.linalg.norm(z - eta * g, axis=-1) ** 4 - n**4) / eta
    rate = laws.get("modified_flow_quartic_rate")(eta=eta, G2=g2)
    # Rounding floor: N'^4 - N^4 loses eps * N^4 / (eta * rate) of relative precision.
    floor = float(jnp.max(1e-15 * n**4 / (eta * rate)))
    np.testing.assert_allclose(
        per_step / rate - 1, eta**2 * g2 / (2 * n**4), rtol=1e-6, atol=10 * floor
    )


OPTIMIZERS = {
    "sgd": lambda: (optax.sgd(0.5), 0.0),
    "sgd_l2": lambda: (optax.chain(optax.add_decayed_weights(0.05), optax.sgd(0.5)), 0.5 * 0.05),
    "heavy_ball_l2": lambda: (
        optax.chain(optax.add_decayed_weights(0.05), optax.sgd(0.5, momentum=0.9)),
        None,
    ),
    "nesterov": lambda: (optax.sgd(0.5, momentum=0.9, nesterov=True), 0.0),
    "adam": lambda: (optax.adam(0.01), 0.0),
    "adamw": lambda: (optax.adamw(0.01, weight_decay=0.1), 0.01 * 0.1),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_norm_budget_closes_for_every_optimizer(name):
    optimizer, eta_lam = OPTIMIZERS[name]()
    # Heavy ball puts decay inside the velocity; its decay term is then part of the drift.
    eta_lam = 0.0 if eta_lam is None else eta_lam
    z, w = _table(7)
    state = optimizer.init(z)
    budget = laws.get("norm_budget")
    for _ in range(15):
        # optax's Adam bias correction mixes its int32 step count with Python floats.
        with jax.numpy_dtype_promotion("standard"):
            updates, state = optimizer.update(_grad(z, w), state, z)
        z_next = optax.apply_updates(z, updates)
        terms = budget(z_now=z, z_next=z_next, eta_lam=eta_lam)
        change = jnp.sum(z_next**2, -1) - jnp.sum(z**2, -1)
        total = terms["decay"] + terms["drift"] + terms["heat"]
        scale = jnp.sum(z**2, -1)
        np.testing.assert_allclose(total, change, rtol=0, atol=1e-13 * float(scale.max()))
        if name == "sgd":
            # Plain SGD is tangent: no drift, the heat is eta^2 G^2 / N^2.
            assert float(jnp.max(jnp.abs(terms["drift"]) / terms["heat"])) < 1e-10
        z = z_next


@given(st.floats(-1.0, 1.0), st.floats(1e-2, 1e2))
def test_cosine_gradient_norm_is_sine_over_norm(c, N):
    s = math.sqrt(max(0.0, 1 - c * c))
    z = jnp.array([N, 0.0, 0.0])
    v = jnp.array([c, s, 0.0])
    grad = jax.grad(lambda x: losses.cosine_matrix(x[None], v[None])[0, 0])(z)
    np.testing.assert_allclose(
        jnp.linalg.norm(grad), laws.get("cosine_gradient_norm")(c=c, N=N), rtol=1e-9, atol=1e-15
    )


_supervised = jax.jit(losses.supervised_infonce)


@jax.jit
def _ntxent(z, labels, tau):
    with jax.numpy_dtype_promotion("standard"):  # optax subtracts an int eye from bools
        return optax.losses.ntxent(z, labels, tau)


@given(st.integers(0, 2**16), st.sampled_from([2, 3, 4]), st.floats(0.01, 10.0))
def test_supervised_loss_equals_optax_ntxent_on_pairs(seed, pairs, tau):
    """With two views per label both are SimCLR's NT-Xent; optax is an independent oracle."""
    z = jax.random.normal(jax.random.key(seed), (2 * pairs, 4), dtype=jnp.float64)
    labels = jnp.repeat(jnp.arange(pairs), 2)
    ours = _supervised(z, labels, tau)
    oracle = _ntxent(z, labels, tau)
    np.testing.assert_allclose(ours, oracle, rtol=1e-10)


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2, 2, 2]])
def test_supervised_loss_is_the_mean_of_one_sided_anchor_terms(labels):
    """Each anchor term is the soft-target InfoNCE with uniform weight on its positives."""
    labels = jnp.array(labels)
    pairs = labels.shape[0] // 2
    tau = 0.4
    z = jax.random.normal(jax.random.key(pairs), (labels.shape[0], 4), dtype=jnp.float64)
    ours = losses.supervised_infonce(z, labels, tau)
    anchors = []
    for i in range(labels.shape[0]):
        others = jnp.delete(z, i, axis=0)
        target = (jnp.delete(labels, i) == labels[i]).astype(z.dtype)
        target = target / jnp.sum(target)
        anchors.append(losses.infonce(z[i], others, target, tau))
    np.testing.assert_allclose(jnp.mean(jnp.stack(anchors)), ours, rtol=1e-10)
