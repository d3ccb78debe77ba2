"""Lean JAX kernels of the workload: the engine's step with parts left out, for timings.

Each variant draws exactly the engine's random inputs (the same key sequence as
normtheory.engine.simulate: one split per step, ids by inverse CDF, view noise from the
batch key) and runs under jit with lax.scan, recording norms every STRIDE steps:

- "sparse": sampling, gather, views, the loss and its gradient in the B anchor rows, and
            plain SGD on the B drawn rows only (a scatter-add into the table);
- "dense":  the same with SGD as optax applies it (the engine's path for optimizers other
            than plain SGD): the gradient is a dense (V, d) array (a scatter-add into
            zeros) and every row of the table is rewritten.

Both reproduce the engine's trajectory; their difference times a dense update, and the
difference of "sparse" with the engine (which also traces g2 or the norm budget of the
rows it touches and evaluates alignment and uniformity once per window) times the
engine's tracing and bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import normtheory
from normtheory.data import zipf_probabilities

from .workload import LR, STRIDE, TAU, VIEW_NOISE, ZIPF, Size

VARIANTS = ("sparse", "dense")


def _sampler(size: Size) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    """key -> (ids (B,) int32, noise (B, d)): the engine's draw for one step."""
    probs = zipf_probabilities(size.items, ZIPF).astype(jnp.float32)
    cdf = jnp.cumsum(probs)

    def sample(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        k_ids, k_view = jax.random.split(key)
        u = jax.random.uniform(k_ids, (size.batch,), dtype=cdf.dtype) * cdf[-1]
        ids = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), size.items - 1)
        noise = jax.random.normal(k_view, (size.batch, size.dim), dtype=jnp.float32)
        return ids.astype(jnp.int32), noise

    return sample


def anchor_gradient(z: jax.Array, noise: jax.Array) -> jax.Array:
    """jax.grad of the symmetric InfoNCE in the anchors z (B, d); views are constant.

    The loss takes its one-exponential form, as the engine does at this temperature.
    """

    def loss(z: jax.Array) -> jax.Array:
        u = jax.lax.stop_gradient(z)
        u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
        views = u + VIEW_NOISE * noise
        views = views / jnp.linalg.norm(views, axis=-1, keepdims=True)
        return normtheory.symmetric_infonce(z, views, TAU, shared_exp=True)  # as the engine

    return jax.grad(loss)(z)


def _program(size: Size, variant: str, rows: np.ndarray | None):
    """(init(seed_ids (S,)) -> state, run(state, n_windows) -> (state, norms (S, n, I)))."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")
    sample = _sampler(size)
    picks = None if rows is None else jnp.asarray(rows)

    def init(seed: jax.Array):
        key, k_init = jax.random.split(jax.random.key(seed))
        table = jax.random.normal(k_init, (size.items, size.dim), jnp.float32)
        return table * (1.0 / size.dim**0.5), key

    def step(state, _):
        table, key = state
        key, k_batch = jax.random.split(key)
        ids, noise = sample(k_batch)
        grad = anchor_gradient(table[ids], noise)
        if variant == "sparse":
            table = table.at[ids].add(-LR * grad)
        else:
            dense = jnp.zeros_like(table).at[ids].add(grad)
            table = table - LR * dense
        return (table, key), None

    def window(state, _):
        state, _ = jax.lax.scan(step, state, None, length=STRIDE)
        recorded = state[0] if picks is None else state[0][picks]
        return state, jnp.linalg.norm(recorded, axis=-1)

    def run(state, n_windows: int):
        return jax.lax.scan(window, state, None, length=n_windows)

    batched_run = jax.jit(lambda state, n: jax.vmap(lambda s: run(s, n))(state), static_argnums=1)
    return jax.jit(jax.vmap(init)), batched_run


def make_trainer(size: Size, variant: str, rows: np.ndarray | None = None):
    """train(steps, chunk, on_chunk) -> norms (S, W, I) for seeds 0..S-1 of `size`.

    Runs `chunk` steps per jit call (compiled on the first call) and calls
    on_chunk(chunk) after each call's results are on the host.
    """
    init, run = _program(size, variant, rows)

    def train(steps: int, chunk: int, on_chunk: Callable[[int], None] = lambda n: None):
        state = init(jnp.arange(size.seeds, dtype=jnp.uint32))
        norms = []
        for _ in range(steps // chunk):
            state, out = run(state, chunk // STRIDE)
            norms.append(np.asarray(out))
            on_chunk(chunk)
        return np.concatenate(norms, axis=1)

    return train
