"""Ambiguous inputs: soft labels of controlled entropy, and the features an MLP sees.

THEORY.md law 14: inputs whose positives spread over several classes (like a human
annotation entropy) should end shorter in a shared encoder. Input i has a soft label
y_i = (1 - a_i) onehot(c_i) + a_i * uniform over the K classes, with a primary class c_i
drawn uniformly. The spread is uniform (not Dirichlet) so that the label entropy is a
strictly increasing function of a for K >= 2: 0 at a = 0, log K at a = 1.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

from normtheory.data._shared import check_int, check_nonnegative, class_geometry

__all__ = [
    "AmbiguityData",
    "continuous_inputs",
    "label_entropy",
    "make_ambiguity_data",
    "sample_positive_classes",
    "soft_labels",
]


def _normalize(x: jax.Array) -> jax.Array:
    norm = jnp.linalg.norm(x, axis=-1, keepdims=True)
    return x / jnp.maximum(norm, jnp.finfo(x.dtype).tiny)


def soft_labels(
    key: jax.Array, num_inputs: int, num_classes: int, ambiguity: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Soft labels mixing a one-hot primary class with the uniform distribution.

    ambiguity (N,) in [0, 1]. Returns (labels (N, K) rows summing to 1, primary (N,) int32).
    The primary class keeps the largest weight, 1 - a + a / K. Arguments are validated on
    the host (ambiguity must be concrete).
    """
    check_int("num_inputs", num_inputs, 1)
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    levels = np.asarray(ambiguity)
    if levels.shape != (num_inputs,):
        raise ValueError(f"ambiguity must have shape ({num_inputs},), got {levels.shape}")
    if not np.all((levels >= 0) & (levels <= 1)):
        raise ValueError("ambiguity must lie in [0, 1]")
    return _soft_labels(key, jnp.asarray(ambiguity).astype(jnp.result_type(float)), num_classes)


@functools.partial(jax.jit, static_argnums=2)
def _soft_labels(
    key: jax.Array, ambiguity: jax.Array, num_classes: int
) -> tuple[jax.Array, jax.Array]:
    primary = jax.random.randint(key, ambiguity.shape, 0, num_classes, dtype=jnp.int32)
    onehot = jax.nn.one_hot(primary, num_classes, dtype=ambiguity.dtype)
    a = ambiguity[:, None]
    return (1.0 - a) * onehot + a / num_classes, primary


@jax.jit
def label_entropy(labels: jax.Array) -> jax.Array:
    """Shannon entropy in nats of each row of labels (..., K) -> (...); 0 log 0 = 0."""
    return -jnp.sum(xlogy(labels, labels), axis=-1)


@jax.jit
def sample_positive_classes(key: jax.Array, labels: jax.Array, ids: jax.Array) -> jax.Array:
    """For each input id in ids (B,), draw a class from its soft label labels[id]: (B,) int32.

    Inverse-CDF sampling per row; classes of probability zero are never drawn.
    """
    cdf = jnp.cumsum(labels[ids], axis=-1)
    u = jax.random.uniform(key, ids.shape, dtype=cdf.dtype) * cdf[:, -1]
    classes = jnp.sum(cdf <= u[:, None], axis=-1)
    return jnp.minimum(classes, labels.shape[1] - 1).astype(jnp.int32)


@jax.jit
def continuous_inputs(
    key: jax.Array, labels: jax.Array, centers: jax.Array, noise: float, lift: jax.Array
) -> jax.Array:
    """Features x_i = normalize(labels_i @ centers + noise * g_i) @ lift, g_i ~ N(0, I).

    Shapes: labels (N, K), centers (K, latent) unit rows, lift (latent, input_dim) -> x
    (N, input_dim). An ambiguous input sits between its classes' centres, so after the
    projection to the sphere its direction is set more by noise than by any one class. Each
    call draws fresh noise (a new augmentation of the same inputs).
    """
    latent = labels @ centers
    gauss = jax.random.normal(key, latent.shape, dtype=latent.dtype)
    return _normalize(latent + noise * gauss) @ lift


@dataclasses.dataclass(frozen=True, eq=False)
class AmbiguityData:
    """A fixed ambiguity data set (a pytree of arrays).

    labels (N, K), primary (N,) int32, ambiguity (N,), entropy (N,) nats, centers (K, latent)
    unit rows, lift (latent, input_dim) with N(0, 1) entries, inputs (N, input_dim) one draw
    of `continuous_inputs`, noise () the std used for it.
    """

    labels: jax.Array
    primary: jax.Array
    ambiguity: jax.Array
    entropy: jax.Array
    centers: jax.Array
    lift: jax.Array
    inputs: jax.Array
    noise: jax.Array


jax.tree_util.register_dataclass(
    AmbiguityData,
    data_fields=["labels", "primary", "ambiguity", "entropy", "centers", "lift", "inputs", "noise"],
    meta_fields=[],
)


def make_ambiguity_data(
    key: jax.Array,
    num_inputs: int,
    num_classes: int,
    latent_dim: int,
    input_dim: int,
    noise: float,
    ambiguity_levels: Sequence[float],
) -> AmbiguityData:
    """Draw centres, lift, soft labels and one set of inputs.

    Input i gets ambiguity ambiguity_levels[i % len(ambiguity_levels)] (cyclic, so every
    level is equally represented). Centres are uniform on the unit sphere of R^latent_dim;
    lift entries are i.i.d. N(0, 1), so each input coordinate has unit variance.
    """
    check_int("num_inputs", num_inputs, 1)
    if len(ambiguity_levels) == 0:
        raise ValueError("ambiguity_levels must be nonempty")
    check_int("latent_dim", latent_dim, 1)
    check_int("input_dim", input_dim, 1)
    check_nonnegative("noise", noise)
    levels = np.resize(np.asarray(ambiguity_levels, dtype=np.float64), int(num_inputs))
    label_key, geometry_key, input_key = jax.random.split(key, 3)
    labels, primary = soft_labels(label_key, num_inputs, num_classes, levels)
    centers, lift = class_geometry(geometry_key, int(num_classes), int(latent_dim), int(input_dim))
    return AmbiguityData(
        labels=labels,
        primary=primary,
        ambiguity=jnp.asarray(levels, dtype=labels.dtype),
        entropy=label_entropy(labels),
        centers=centers,
        lift=lift,
        inputs=continuous_inputs(input_key, labels, centers, noise, lift),
        noise=jnp.asarray(noise, dtype=labels.dtype),
    )
