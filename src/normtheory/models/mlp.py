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


def kernel_vector(
    params: list[dict[str, jax.Array]],
    x: jax.Array,
    c: jax.Array,
    diag: list[dict[str, jax.Array]],
    activation: str,
) -> jax.Array:
    """J diag J^T c for one input: the NTK block of x, preconditioned, applied to c.

    x (input,), c (output,), diag: a pytree like `params` (a diagonal preconditioner,
    signed scale included) -> (output,). Equal to pushing forward diag * (pulling c back
    to the parameters), without forming the parameter-sized pullback: for a dense layer
    with input h and back-propagated delta, the pullback is outer(h, delta), and its
    preconditioned push-forward into the layer's pre-activation is
    delta * (h^2 @ diag_w + diag_b); one forward tangent pass carries every layer's
    injection to the output. Hand-written for that saving (the kernel split calls it for
    every tracked item and step); tested against jax.linearize and its transpose.
    """
    act = ACTIVATIONS[activation]
    inputs, slopes = [], []
    h = x
    for layer in params[:-1]:
        pre = h @ layer["w"] + layer["b"]
        inputs.append(h)
        h, slope = jax.jvp(act, (pre,), (jnp.ones_like(pre),))
        slopes.append(slope)
    inputs.append(h)
    deltas = [c]
    for layer, slope in zip(reversed(params[1:]), reversed(slopes), strict=True):
        deltas.append((deltas[-1] @ layer["w"].T) * slope)
    deltas.reverse()
    tangent = jnp.zeros_like(x)
    for k, (layer, scale) in enumerate(zip(params, diag, strict=True)):
        injected = deltas[k] * (inputs[k] ** 2 @ scale["w"] + scale["b"])
        tangent = tangent @ layer["w"] + injected
        if k < len(slopes):
            tangent = tangent * slopes[k]
    return tangent
