"""MLP encoder for continuous inputs: `layers` hidden layers of `width`, linear output.

Weights are initialised with variance 2 / fan_in (He) for ReLU-like activations and
1 / fan_in otherwise; biases at zero.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu}


def init(
    key: jax.Array, sizes: tuple[int, ...], activation: str, dtype
) -> list[dict[str, jax.Array]]:
    """sizes = (input, hidden..., output)."""
    gain = 2.0 if activation in ("relu", "gelu") else 1.0
    params = []
    keys = jax.random.split(key, len(sizes) - 1)
    for k, (fan_in, fan_out) in zip(keys, itertools.pairwise(sizes), strict=True):
        w = jax.random.normal(k, (fan_in, fan_out), dtype=dtype) * (gain / fan_in) ** 0.5
        params.append({"w": w, "b": jnp.zeros((fan_out,), dtype=dtype)})
    return params


def embed(params: list[dict[str, jax.Array]], x: jax.Array, activation: str) -> jax.Array:
    """(B, input) -> (B, output)."""
    act = ACTIVATIONS[activation]
    for layer in params[:-1]:
        x = act(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]
