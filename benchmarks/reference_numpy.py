"""NumPy reference: the workload with a hand-derived gradient and a sparse SGD update.

Gradient. For anchors z_a (B, d) with directions u_a = z_a / |z_a| and constant unit
views v_b, the cosines are C = U V^T and the symmetric InfoNCE is

    L = 1/(2B) sum_a [lse_b(C_ab / tau) - C_aa / tau]
      + 1/(2B) sum_b [lse_a(C_ab / tau) - C_bb / tau].

With P the row softmax and Q the column softmax of C / tau,

    dL/dC_ab = (P_ab + Q_ab - 2 delta_ab) / (2 B tau) =: G_ab,
    dL/du_a = (G V)_a,
    dL/dz_a = (I - u_a u_a^T) (G V)_a / |z_a|        (the tangent part, divided by the norm),

which is normtheory.laws.infonce's SymPy-derived symmetric gradient. A row drawn several
times in a batch receives the sum of its occurrences' gradients (np.add.at). Plain SGD
leaves rows absent from the batch unchanged, so only the B drawn rows are updated.

Cosines are bounded by 1, so exp((C - 1) / tau) never overflows and its smallest value
exp(-2 / tau) stays a normal float32 for tau > 2/80: one exp serves both softmaxes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

Batch = tuple[np.ndarray, np.ndarray]


def _unit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x / |x|, |x|) along the last axis; norms keep a trailing axis of 1."""
    norms = np.sqrt(np.einsum("...d,...d->...", x, x))[..., None]
    return x / norms, norms


def _softmaxes(cos: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """(row softmax, column softmax) of cos / tau; cos (..., B, B)."""
    if tau > 2.0 / 80.0:
        e = np.exp((cos - 1.0) * (1.0 / tau))
        return e / e.sum(axis=-1, keepdims=True), e / e.sum(axis=-2, keepdims=True)
    logits = cos * (1.0 / tau)  # small tau: shift each softmax by its own max
    rows = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cols = np.exp(logits - logits.max(axis=-2, keepdims=True))
    return rows / rows.sum(axis=-1, keepdims=True), cols / cols.sum(axis=-2, keepdims=True)


def anchor_gradient(z: np.ndarray, noise: np.ndarray, sigma: float, tau: float) -> np.ndarray:
    """dL/dz of the symmetric InfoNCE of anchors z against their direction views.

    z (..., B, d) anchor rows, noise (..., B, d) view noise; views are
    normalize(u + sigma * noise), constant. Returns (..., B, d); leading axes are
    independent problems (seeds).
    """
    u, norms = _unit(z)
    v, _ = _unit(u + sigma * noise)
    cos = u @ np.swapaxes(v, -1, -2)
    rows, cols = _softmaxes(cos, tau)
    g = rows + cols
    b = z.shape[-2]
    diagonal = np.einsum("...ii->...i", g)  # a writable view of the diagonal
    diagonal -= 2.0
    g *= 1.0 / (2 * b * tau)
    h = g @ v
    radial = np.einsum("...d,...d->...", u, h)[..., None]
    return (h - radial * u) / norms


def train(
    table0: np.ndarray,
    batches: Iterable[Batch],
    *,
    lr: float,
    tau: float,
    sigma: float,
    stride: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Run SGD from table0 (V, d) over batches of (ids (B,), noise (B, d)).

    Returns (W, I) norms of `rows` (default all V) after every `stride` steps.
    """
    table = np.array(table0, dtype=np.float32)
    rows = np.arange(len(table)) if rows is None else rows
    norms = []
    for t, (ids, noise) in enumerate(batches, start=1):
        grad = anchor_gradient(table[ids], noise, sigma, tau)
        np.add.at(table, ids, grad * np.float32(-lr))
        if t % stride == 0:
            norms.append(np.linalg.norm(table[rows], axis=-1))
    return np.stack(norms)


def train_batched(
    table0: np.ndarray,
    batches: Iterable[Batch],
    *,
    lr: float,
    tau: float,
    sigma: float,
    stride: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """`train` for S independent seeds at once, as one batched array program.

    table0 (S, V, d); batches of (ids (S, B), noise (S, B, d)). Returns (S, W, I).
    """
    tables = np.array(table0, dtype=np.float32)
    seeds, items, dim = tables.shape
    flat = tables.reshape(seeds * items, dim)  # a view: scatter through row offsets
    offsets = (np.arange(seeds) * items)[:, None]
    seed_axis = np.arange(seeds)[:, None]
    rows = np.arange(items) if rows is None else rows
    norms = []
    for t, (ids, noise) in enumerate(batches, start=1):
        grad = anchor_gradient(tables[seed_axis, ids], noise, sigma, tau)
        np.add.at(flat, (ids + offsets).ravel(), grad.reshape(-1, dim) * np.float32(-lr))
        if t % stride == 0:
            norms.append(np.linalg.norm(tables[:, rows], axis=-1))
    return np.stack(norms, axis=1)


def replay(ids: np.ndarray, noise: np.ndarray) -> Iterator[Batch]:
    """Batches from recorded inputs: ids (T, ...) and noise (T, ..., d), step by step."""
    return zip(ids, noise, strict=True)


def sample(
    cdf: np.ndarray, batch: int, dim: int, steps: int, seed: int, seeds: int = 0
) -> Iterator[Batch]:
    """Freshly drawn batches: Zipf ids by inverse CDF (O(B log V)) and Gaussian noise.

    The same algorithm as the engine's sampler, with NumPy's generator. seeds = 0 gives
    unbatched shapes (B,), (B, d); seeds = S gives (S, B), (S, B, d).
    """
    rng = np.random.default_rng(seed)
    lead = (seeds,) if seeds else ()
    top = len(cdf) - 1
    for _ in range(steps):
        u = rng.random((*lead, batch), dtype=np.float32) * cdf[-1]
        ids = np.minimum(np.searchsorted(cdf, u, side="right"), top)
        yield ids, rng.standard_normal((*lead, batch, dim), dtype=np.float32)


def initial_table(items: int, dim: int, seed: int, seeds: int = 0) -> np.ndarray:
    """Rows ~ N(0, 1/d) in float32: (V, d), or (S, V, d) when seeds = S > 0."""
    rng = np.random.default_rng(seed)
    lead = (seeds,) if seeds else ()
    return rng.standard_normal((*lead, items, dim), dtype=np.float32) / np.float32(np.sqrt(dim))
