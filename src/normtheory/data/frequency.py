"""Item frequencies: Zipf laws, i.i.d. draws of item ids, and direction-space views.

Law 8 of THEORY.md says an item updated in a fraction p of steps accumulates gradient energy
proportional to p T. These samplers fix p: an item with probability p_i appears in a batch of
B i.i.d. draws about B p_i times. All draws are pure functions of an explicit key; batch sizes
are Python ints, checked on the host and static inside, so each shape compiles once (the
samplers are jitted, and also work inside a caller's jit). Ids are int32.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

__all__ = [
    "direction_views",
    "sample_ids",
    "zipf_probabilities",
]


def zipf_probabilities(num_items: int, exponent: float) -> jax.Array:
    """Zipf law over ranks 1..V: p_k proportional to k^(-s); s = 0 is uniform.

    Returns (V,) probabilities in the default float dtype, sorted by rank (item 0 is the
    most frequent), so p_0 / p_(k-1) = k^s exactly up to rounding.
    """
    if int(num_items) != num_items or num_items < 1:
        raise ValueError(f"num_items must be a positive int, got {num_items!r}")
    if not math.isfinite(exponent) or exponent < 0:
        raise ValueError(f"exponent must be finite and >= 0, got {exponent!r}")
    ranks = jnp.arange(1, int(num_items) + 1, dtype=jnp.result_type(float))
    weights = ranks ** (-float(exponent))
    return weights / jnp.sum(weights)


def _check_batch(batch: int) -> None:
    if int(batch) != batch or batch < 0:
        raise ValueError(f"batch must be a nonnegative int, got {batch!r}")


@functools.partial(jax.jit, static_argnums=2)
def _inverse_cdf(key: jax.Array, probs: jax.Array, batch: int) -> jax.Array:
    cdf = jnp.cumsum(probs)
    u = jax.random.uniform(key, (batch,), dtype=cdf.dtype) * cdf[-1]
    ids = jnp.searchsorted(cdf, u, side="right")
    return jnp.minimum(ids, probs.shape[0] - 1).astype(jnp.int32)


def sample_ids(key: jax.Array, probs: jax.Array, batch: int) -> jax.Array:
    """Draw (B,) int32 item ids i.i.d. from probs (V,), with replacement.

    Inverse-CDF sampling, O(B log V): cheap for large vocabularies. Items of probability
    zero are never drawn; probs need only be nonnegative (they are normalised by their sum).
    """
    _check_batch(batch)
    return _inverse_cdf(key, jnp.asarray(probs), int(batch))


@jax.jit
def direction_views(key: jax.Array, directions: jax.Array, sigma: float) -> jax.Array:
    """Noisy views made in direction space: normalize(u + sigma * g), g ~ N(0, I).

    directions (..., d) are normalised first (u = z / ||z||), so views of z and of c z (c > 0)
    coincide: a loss on (z, view) is exactly scale-invariant in the raw embedding z. The
    noise is isotropic, so the sign of sigma does not matter; for small sigma the mean cosine
    between u and its view is about 1 - (d - 1) sigma^2 / 2. Returns (..., d) unit rows.
    """
    units = directions / jnp.linalg.norm(directions, axis=-1, keepdims=True)
    noise = jax.random.normal(key, directions.shape, dtype=directions.dtype)
    views = units + sigma * noise
    return views / jnp.linalg.norm(views, axis=-1, keepdims=True)
