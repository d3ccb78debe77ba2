"""THEORY.md's class-imbalance reference setup: skewed class frequencies, lifted Gaussians.

Four classes sampled with weights 1:2:4:8, centres uniform on the unit sphere of R^10,
samples = centre + Gaussian noise, lifted to R^64 by a fixed random linear map. Trained
with an MLP 64-64-10 and supervised InfoNCE, frequent classes should end with longer
embeddings (law 8 through a shared encoder).

The noise std defaults to 0.1 per coordinate (THEORY.md gives none): the noise vector then
has norm about 0.1 sqrt(10) ~= 0.32, against a typical centre separation of sqrt(2), so the
classes are separable but not trivially so.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from normtheory.data._shared import check_int, check_nonnegative, class_geometry
from normtheory.data.frequency import sample_ids

__all__ = ["ImbalanceProblem", "make_imbalance_problem", "sample_imbalance_batch"]


@dataclasses.dataclass(frozen=True, eq=False)
class ImbalanceProblem:
    """One drawn problem (a pytree of arrays).

    centers (C, latent) unit rows, lift (latent, input_dim) with N(0, 1) entries, class_probs
    (C,) = weights / sum(weights), noise () the per-coordinate std in latent space.
    """

    centers: jax.Array
    lift: jax.Array
    class_probs: jax.Array
    noise: jax.Array


jax.tree_util.register_dataclass(
    ImbalanceProblem, data_fields=["centers", "lift", "class_probs", "noise"], meta_fields=[]
)


def make_imbalance_problem(
    key: jax.Array,
    weights: Sequence[float] = (1.0, 2.0, 4.0, 8.0),
    latent_dim: int = 10,
    input_dim: int = 64,
    noise: float = 0.1,
) -> ImbalanceProblem:
    """Draw centres on the unit sphere of R^latent_dim and the fixed lift to R^input_dim.

    One class per weight; weights must be positive and finite. Lift entries are i.i.d.
    N(0, 1), so each input coordinate has about unit variance.
    """
    if len(weights) == 0 or not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"weights must be a nonempty sequence of positive numbers: {weights!r}")
    check_int("latent_dim", latent_dim, 1)
    check_int("input_dim", input_dim, 1)
    check_nonnegative("noise", noise)
    centers, lift = class_geometry(key, len(weights), int(latent_dim), int(input_dim))
    probs = np.asarray([float(w) for w in weights])
    class_probs = jnp.asarray(probs / probs.sum(), dtype=centers.dtype)
    return ImbalanceProblem(centers, lift, class_probs, jnp.asarray(noise, dtype=centers.dtype))


def sample_imbalance_batch(
    key: jax.Array, problem: ImbalanceProblem, batch: int
) -> tuple[jax.Array, jax.Array]:
    """Draw B labelled samples: (inputs (B, input_dim), labels (B,) int32).

    labels ~ class_probs i.i.d.; inputs = (centers[label] + noise * g) @ lift, g ~ N(0, I).
    Jit-compatible with `batch` static.
    """
    if int(batch) != batch or batch < 0:
        raise ValueError(f"batch must be a nonnegative int, got {batch!r}")
    return _sample(key, problem, int(batch))


@functools.partial(jax.jit, static_argnums=2)
def _sample(key: jax.Array, problem: ImbalanceProblem, batch: int) -> tuple[jax.Array, jax.Array]:
    label_key, noise_key = jax.random.split(key)
    labels = sample_ids(label_key, problem.class_probs, batch)
    centers = problem.centers[labels]
    gauss = jax.random.normal(noise_key, centers.shape, dtype=centers.dtype)
    return (centers + problem.noise * gauss) @ problem.lift, labels
