"""The roofline floor of one step: counted FLOPs and bytes, measured machine rates.

Counts per step and seed (B batch, d dims, V items, I recorded rows, s = STRIDE):

- matmul FLOPs 4 B^2 d: the cosine logits U V^T (2 B^2 d) and the gradient G V in the
  anchor directions (2 B^2 d); no gradient flows into the constant views;
- elementwise FLOPs 8 B^2 (scale, exp, two sums, two divisions, the sum P + Q and
  the diagonal) and 30 B d (normalising anchors and views, projecting the gradient),
  charged at the matmul rate, so the floor stays a lower bound;
- bytes, sparse (what the workload needs): read and write the B drawn rows,
  2 * 4 B d, and read the recorded rows for their norms every s steps, 4 I (d + 1) / s;
  the B x B logits are assumed to stay in cache and the noise to be drawn in registers;
- bytes, dense (what a dense optimizer update needs, as optax applies it): read and
  write the whole table, 2 * 4 V d, plus the norms.

floor = max(FLOPs / matmul rate, bytes / bandwidth); the rates are the best of NumPy and
JAX on matmuls of the workload's shapes and on large copies and sums, measured in the
same run with the same thread settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .workload import STRIDE, Size

BYTES = 4  # float32


def counts(size: Size) -> dict[str, float]:
    """FLOPs and bytes of one step of all `size.seeds` seeds."""
    b, d, s = size.batch, size.dim, size.seeds
    norms = BYTES * size.recorded * (d + 1) / STRIDE
    return {
        "matmul_flops": s * 4.0 * b * b * d,
        "other_flops": s * (8.0 * b * b + 30.0 * b * d),
        "bytes_sparse": s * (2.0 * BYTES * b * d + norms),
        "bytes_dense": s * (2.0 * BYTES * size.items * d + norms),
    }


def floor_seconds(size: Size, rates: dict[str, float]) -> dict[str, float]:
    """Per-step floors (seconds): compute, sparse and dense memory, and the two maxima."""
    c = counts(size)
    compute = (c["matmul_flops"] + c["other_flops"]) / rates[f"matmul_{size.batch}x{size.dim}"]
    sparse = c["bytes_sparse"] / rates["bandwidth"]
    dense = c["bytes_dense"] / rates["bandwidth"]
    return {
        "compute": compute,
        "memory_sparse": sparse,
        "memory_dense": dense,
        "floor": max(compute, sparse),
        "floor_dense": max(compute, dense),
    }


def _best_seconds(fn: Callable[[], object], repeats: int, min_time: float) -> float:
    """Best time of one call over `repeats` timing loops of at least `min_time` seconds."""
    fn()
    best = np.inf
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / calls)
    return best


def matmul_rate(batch: int, dim: int, repeats: int, min_time: float) -> dict[str, float]:
    """FLOP/s of the step's two matmul shapes, (B, d) @ (d, B) and (B, B) @ (B, d)."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, dim), dtype=np.float32)
    g = rng.standard_normal((batch, batch), dtype=np.float32)
    flops = 4.0 * batch * batch * dim
    numpy_s = _best_seconds(lambda: a @ a.T, repeats, min_time) + _best_seconds(
        lambda: g @ a, repeats, min_time
    )
    logits = jax.jit(lambda x: x @ x.T)
    back = jax.jit(lambda m, x: m @ x)
    ja, jg = jnp.asarray(a), jnp.asarray(g)
    jax_s = _best_seconds(
        lambda: logits(ja).block_until_ready(), repeats, min_time
    ) + _best_seconds(lambda: back(jg, ja).block_until_ready(), repeats, min_time)
    return {"numpy": flops / numpy_s, "jax": flops / jax_s}


def bandwidth(megabytes: int, repeats: int, min_time: float) -> dict[str, float]:
    """Bytes/s of a large float32 copy (read + write) and sum (read), NumPy and JAX."""
    import jax
    import jax.numpy as jnp

    n = megabytes * 2**20 // BYTES
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    nbytes = float(src.nbytes)
    out = {
        "numpy_copy": 2 * nbytes / _best_seconds(lambda: np.copyto(dst, src), repeats, min_time),
        "numpy_sum": nbytes / _best_seconds(src.sum, repeats, min_time),
    }
    x = jnp.asarray(src)
    scale = jax.jit(lambda v: v * 2.0)
    total = jax.jit(jnp.sum)
    out["jax_scale"] = (
        2 * nbytes / _best_seconds(lambda: scale(x).block_until_ready(), repeats, min_time)
    )
    out["jax_sum"] = nbytes / _best_seconds(lambda: total(x).block_until_ready(), repeats, min_time)
    return out


def measure(shapes: list[tuple[int, int]], tiny: bool = False) -> dict[str, float | dict]:
    """Machine rates for the floors: best matmul FLOP/s per (B, d) and best bandwidth.

    Best of 5 timing loops of >= 0.2 s each, bandwidth on a 256 MiB array (`tiny`: one
    loop of >= 0.02 s, 32 MiB, for the smoke test).
    """
    repeats, min_time, megabytes = (1, 0.02, 32) if tiny else (5, 0.2, 256)
    rates: dict[str, float | dict] = {"detail": {}}
    for batch, dim in sorted(set(shapes)):
        detail = matmul_rate(batch, dim, repeats, min_time)
        rates["detail"][f"matmul_{batch}x{dim}"] = detail
        rates[f"matmul_{batch}x{dim}"] = max(detail.values())
    detail = bandwidth(megabytes, repeats, min_time)
    rates["detail"]["bandwidth"] = detail
    rates["bandwidth"] = max(detail.values())
    return rates
