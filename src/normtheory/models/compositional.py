"""Compositional encoder: a node's embedding is the sum of learned features on its path.

For a concept tree (normtheory.data.hierarchy), node i's path is `ancestors[i]` (root
first, padded with -1). Sharing the features of common ancestors is what makes the
encoder "shared": an update caused by one node moves every node below the same
ancestors. The map from features to embeddings is linear, so its first-order budget is
exact (the remainder of the norm budget vanishes up to rounding).

Initial norms grow with depth (a node at depth k sums k + 1 random features), so norm
comparisons across depths should look at the growth N^2 - N_0^2, not the level.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def init(key: jax.Array, num_nodes: int, dim: int, scale: float, dtype) -> dict[str, jax.Array]:
    """One feature vector per node, ~ N(0, scale^2 / dim)."""
    return {"features": jax.random.normal(key, (num_nodes, dim), dtype=dtype) * (scale / dim**0.5)}


def embed(params: dict[str, jax.Array], paths: jax.Array) -> jax.Array:
    """paths (B, depth + 1) ancestor ids padded with -1 -> (B, d) sums of their features."""
    feats = params["features"][jnp.maximum(paths, 0)]
    return jnp.sum(jnp.where((paths >= 0)[..., None], feats, 0.0), axis=-2)
