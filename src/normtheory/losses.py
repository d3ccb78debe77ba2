"""InfoNCE losses on cosine similarity, written directly in JAX.

These are the losses the simulations differentiate with `jax.grad`. They define the
same quantities as the symbolic derivations in `normtheory.laws.infonce`; the tests
check that the derived gradients equal `jax.grad` of these functions, and that the
supervised loss equals `optax.losses.ntxent` where both are defined.

All losses are scale-invariant in every embedding: they see only directions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = [
    "alignment",
    "batch_infonce",
    "cosine_matrix",
    "infonce",
    "prototype_infonce",
    "shared_exp_min_tau",
    "supervised_infonce",
    "symmetric_infonce",
    "uniformity",
]


def _normalize(x: jax.Array) -> jax.Array:
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def cosine_matrix(x: jax.Array, y: jax.Array) -> jax.Array:
    """Cosines between rows: x (..., n, d), y (..., m, d) -> (..., n, m)."""
    return jnp.einsum("...nd,...md->...nm", _normalize(x), _normalize(y))


def infonce(z: jax.Array, candidates: jax.Array, targets: jax.Array, tau: float) -> jax.Array:
    """Soft-target InfoNCE for one anchor: -sum_k y_k log softmax(cos(z, v_k) / tau)_k.

    Shapes: z (d,), candidates (K, d), targets (K,) summing to 1. A one-hot target is
    the classic InfoNCE (Oord et al., 2018); uniform weight on a positive set is the
    anchor term of the supervised multi-positive loss.
    """
    logits = cosine_matrix(z[None], candidates)[0] / tau
    return -jnp.sum(targets * jax.nn.log_softmax(logits))


def symmetric_infonce(
    z: jax.Array, w: jax.Array, tau: float, *, shared_exp: bool = False
) -> jax.Array:
    """CLIP-style loss for B pairs (z_a, w_a): mean of the two directions' cross-entropies.

    `shared_exp=True` computes the same loss and gradient from one B x B exponential
    (see `_shared_exp_loss`) instead of the two log-sum-exps and their two softmaxes; it
    is exact only for tau >= `shared_exp_min_tau(dtype)`, and below it the loss and its
    gradient are NaN (a concrete tau below it raises ValueError).
    """
    if shared_exp:
        if isinstance(tau, int | float):
            limit = shared_exp_min_tau(jnp.result_type(z, w))
            if not tau >= limit:
                raise ValueError(f"shared_exp needs tau >= {limit:.4g} in this dtype, got {tau}")
        return _shared_exp_loss(cosine_matrix(z, w), jnp.asarray(tau, jnp.result_type(z, w)))
    logits = cosine_matrix(z, w) / tau
    diagonal = jnp.diagonal(logits)
    rows = jax.nn.logsumexp(logits, axis=1) - diagonal
    cols = jax.nn.logsumexp(logits, axis=0) - diagonal
    return 0.5 * (jnp.mean(rows) + jnp.mean(cols))


def shared_exp_min_tau(dtype) -> float:
    """Smallest tau at which one exponential exp((C - 1) / tau) serves both softmaxes.

    Cosines lie in [-1, 1], so the entries lie in [exp(-2 / tau), 1]: none overflows, and
    none leaves the normal range (nor does a row or column sum lose precision) while
    exp(-2 / tau) >= the dtype's smallest normal number. One unit of margin in the
    exponent covers cosines that round slightly below -1. float32: 0.0232; float64: 0.00283.
    """
    return 2.0 / (-math.log(float(jnp.finfo(dtype).tiny)) - 1.0)


@jax.custom_vjp
def _shared_exp_loss(cos: jax.Array, tau: jax.Array) -> jax.Array:
    """The symmetric InfoNCE of a cosine matrix C (B, B), from E = exp((C - 1) / tau).

    With row sums r and column sums c of E, the row and column log-sum-exps of C / tau
    are log r + 1 / tau and log c + 1 / tau, so

        F = 1/(2B) sum_a (log r_a + log c_a) + (1 - mean_a C_aa) / tau,

    and the derived gradient (normtheory.laws.infonce, symmetric form) is

        dF/dC_ab = (E_ab / r_a + E_ab / c_b - 2 delta_ab) / (2 B tau),

    the row softmax P = E / r and the column softmax Q = E / c sharing E. The backward
    pass reuses E, where autodiff of the log-sum-exps recomputes both softmaxes.
    """
    return _shared_exp_forward(cos, tau)[0]


def _shared_exp_forward(cos, tau):
    e = jnp.exp((cos - 1) / tau)
    rows, cols = jnp.sum(e, axis=1), jnp.sum(e, axis=0)
    loss = 0.5 * jnp.mean(jnp.log(rows) + jnp.log(cols)) + (1 - jnp.mean(jnp.diagonal(cos))) / tau
    safe = tau >= shared_exp_min_tau(cos.dtype)
    return jnp.where(safe, loss, jnp.nan), (e, rows, cols, cos, tau)


def _shared_exp_backward(residuals, cotangent):
    e, rows, cols, cos, tau = residuals
    n = cos.shape[0]
    # Below the limit the gradient is NaN too, like the loss: never a silently wrong number.
    safe = tau >= shared_exp_min_tau(cos.dtype)
    scale = jnp.where(safe, cotangent / (2 * n * tau), jnp.nan)
    eye = jnp.eye(n, dtype=cos.dtype)
    d_cos = e * (scale / rows)[:, None] + e * (scale / cols)[None, :] - eye * (2 * scale)
    d_tau = -jnp.sum(d_cos * cos) / tau
    return d_cos, d_tau


_shared_exp_loss.defvjp(_shared_exp_forward, _shared_exp_backward)


def supervised_infonce(z: jax.Array, labels: jax.Array, tau: float) -> jax.Array:
    """Supervised multi-positive InfoNCE, "L_out" of Khosla et al. (NeurIPS 2020).

    Each row is an anchor; its positives are the other rows with its label (averaged in
    the numerator), its candidates are all other rows. An anchor whose label occurs only
    once in the batch has no positive and is left out of the mean (at least one label
    must occur twice).
    """
    n = z.shape[0]
    mask = ~jnp.eye(n, dtype=bool)
    positives = (labels[:, None] == labels[None, :]) & mask
    logits = jnp.where(mask, cosine_matrix(z, z) / tau, -jnp.inf)
    log_probs = jax.nn.log_softmax(logits, axis=1)
    count = jnp.sum(positives, axis=1).astype(log_probs.dtype)
    has = count > 0
    per_anchor = -jnp.sum(jnp.where(positives, log_probs, 0.0), axis=1) / jnp.where(has, count, 1)
    return jnp.sum(jnp.where(has, per_anchor, 0.0)) / jnp.sum(has).astype(log_probs.dtype)


def prototype_infonce(
    z: jax.Array, prototypes: jax.Array, labels: jax.Array, tau: float
) -> jax.Array:
    """Softmax over all class prototypes: mean_a -log softmax(cos(z_a, p_k) / tau)_{label_a}.

    z (B, d), prototypes (K, d), labels (B,) int. The prototypes are learned embeddings
    (a second tower); the loss is scale-invariant in every row of z and of prototypes.
    """
    log_probs = jax.nn.log_softmax(cosine_matrix(z, prototypes) / tau, axis=1)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))


def batch_infonce(z: jax.Array, w: jax.Array, tau: float) -> jax.Array:
    """One-sided in-batch InfoNCE: anchor z_a, positive w_a, candidates all w_b; mean over a."""
    logits = cosine_matrix(z, w) / tau
    return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.diagonal(logits))


def alignment(z: jax.Array, w: jax.Array) -> jax.Array:
    """Mean squared distance of matched unit vectors (Wang and Isola, ICML 2020)."""
    return jnp.mean(jnp.sum((_normalize(z) - _normalize(w)) ** 2, axis=-1))


def uniformity(z: jax.Array, t: float = 2.0) -> jax.Array:
    """log mean_{a != b} exp(-t |u_a - u_b|^2) over a batch (Wang and Isola, ICML 2020)."""
    u = _normalize(z)
    n = u.shape[0]
    sq = jnp.maximum(2.0 - 2.0 * (u @ u.T), 0.0)
    off = ~jnp.eye(n, dtype=bool)
    return jax.nn.logsumexp(jnp.where(off, -t * sq, -jnp.inf)) - math.log(n * (n - 1))
