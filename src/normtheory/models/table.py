"""Free per-item table: item i's embedding is row i, a parameter of its own."""

from __future__ import annotations

import jax


def init(key: jax.Array, num_items: int, dim: int, scale: float, dtype) -> dict[str, jax.Array]:
    """Rows ~ N(0, scale^2 / dim), so initial norms are about `scale`."""
    return {"table": jax.random.normal(key, (num_items, dim), dtype=dtype) * (scale / dim**0.5)}


def embed(params: dict[str, jax.Array], ids: jax.Array) -> jax.Array:
    """(B,) ids -> (B, d) rows."""
    return params["table"][ids]
