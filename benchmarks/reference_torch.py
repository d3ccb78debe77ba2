"""PyTorch reference: the workload as an idiomatic eager loop with autograd and SGD.

The table is an nn.Parameter; each step gathers the batch's rows, builds the direction
views under no_grad, takes F.cross_entropy over the rows and the columns of the cosine
logits (the symmetric InfoNCE), and steps torch.optim.SGD. Autograd's gradient of the
gather is a dense (V, d) tensor and SGD updates the whole table, as optax does in the
engine. A leading seed axis runs S independent seeds as one batched program ("many"). `device`
("cpu", "cuda", ...) places the table, the inputs and the loop on one torch device
(benchmarks/gpu.py); the CPU benchmarks use the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

Batch = tuple[torch.Tensor, torch.Tensor]


def symmetric_infonce(anchors: torch.Tensor, views: torch.Tensor, tau: float) -> torch.Tensor:
    """Sum over seeds of the mean symmetric InfoNCE; anchors, views (S, B, d), views unit."""
    seeds, batch, _ = anchors.shape
    logits = F.normalize(anchors, dim=-1) @ views.transpose(-1, -2) / tau
    labels = torch.arange(batch, device=anchors.device).repeat(seeds)
    rows = F.cross_entropy(logits.reshape(-1, batch), labels, reduction="sum")
    cols = F.cross_entropy(logits.transpose(-1, -2).reshape(-1, batch), labels, reduction="sum")
    return (rows + cols) / (2 * batch)


def train(
    table0: np.ndarray,
    batches: Iterable[Batch],
    *,
    lr: float,
    tau: float,
    sigma: float,
    stride: int,
    rows: np.ndarray | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Run SGD from table0 (V, d) or (S, V, d) over batches of (ids, noise) tensors.

    ids (B,) or (S, B) int64, noise (B, d) or (S, B, d) float32, on `device`. Returns the
    norms of `rows` (default all V) after every `stride` steps: (W, I), or (S, W, I) when
    seeded.
    """
    single = table0.ndim == 2
    table = torch.nn.Parameter(torch.tensor(table0[None] if single else table0, device=device))
    optimizer = torch.optim.SGD([table], lr=lr)
    seed_axis = torch.arange(table.shape[0], device=device)[:, None]
    rows_t = None if rows is None else torch.as_tensor(rows, device=device)
    norms = []
    for t, (ids, noise) in enumerate(batches, start=1):
        ids, noise = (ids[None], noise[None]) if single else (ids, noise)
        anchors = table[seed_axis, ids]
        with torch.no_grad():
            views = F.normalize(F.normalize(anchors, dim=-1) + sigma * noise, dim=-1)
        loss = symmetric_infonce(anchors, views, tau)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if t % stride == 0:
            with torch.no_grad():
                recorded = table if rows_t is None else table[:, rows_t]
                norms.append(torch.linalg.vector_norm(recorded, dim=-1))
    out = torch.stack(norms, dim=1).cpu().numpy()
    return out[0] if single else out


def replay(ids: np.ndarray, noise: np.ndarray, device: str = "cpu") -> Iterator[Batch]:
    """Batches from recorded inputs: ids (T, ...) and noise (T, ..., d), as tensors."""
    ids_t = torch.as_tensor(ids.astype(np.int64), device=device)
    noise_t = torch.as_tensor(noise, device=device)
    return zip(ids_t, noise_t, strict=True)


def sample(
    cdf: np.ndarray,
    batch: int,
    dim: int,
    steps: int,
    seed: int,
    seeds: int = 0,
    device: str = "cpu",
) -> Iterator[Batch]:
    """Freshly drawn batches with torch's generator: inverse-CDF Zipf ids and noise.

    seeds = 0 gives unbatched shapes (B,), (B, d); seeds = S gives (S, B), (S, B, d).
    The generator and the batches live on `device`.
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    cdf_t = torch.tensor(np.array(cdf), device=device)  # a writable copy
    lead = (seeds,) if seeds else ()
    top = len(cdf) - 1
    for _ in range(steps):
        u = torch.rand((*lead, batch), generator=gen, device=device) * cdf_t[-1]
        ids = torch.searchsorted(cdf_t, u, right=True).clamp_(max=top)
        yield ids, torch.randn((*lead, batch, dim), generator=gen, device=device)


def initial_table(items: int, dim: int, seed: int, seeds: int = 0) -> np.ndarray:
    """Rows ~ N(0, 1/d) in float32 from torch's generator: (V, d) or (S, V, d)."""
    gen = torch.Generator().manual_seed(seed)
    lead = (seeds,) if seeds else ()
    return (torch.randn((*lead, items, dim), generator=gen) / dim**0.5).numpy()
