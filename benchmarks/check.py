"""Correctness: every implementation, fed the engine's own inputs, lands on its norms.

The engine (normtheory.simulate) runs the first `size.prefix` steps; the NumPy and
PyTorch references replay the same initial table, ids and view noise
(normtheory.engine.replay_inputs), and the lean JAX kernels draw them from the same
keys. The recorded norms after the last window must agree within RTOL (float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import normtheory

from . import lean_jax, reference_numpy
from .workload import LR, STRIDE, TAU, VIEW_NOISE, Size, recorded_rows, reference_inputs, sim_config

RTOL = 1e-3
# Replaying inputs compiles once per seed (about a second each): batched sizes are
# checked on their first CHECK_SEEDS seeds, taken from the engine's vmapped run of all.
CHECK_SEEDS = 8

HYPER = {"lr": LR, "tau": TAU, "sigma": VIEW_NOISE, "stride": STRIDE}


def torch_available() -> bool:
    """Whether PyTorch (the optional 'bench' extra) can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def replayed_inputs(size: Size, seeds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs of seeds 0..seeds-1: table0 (S, V, d), ids (T, S, B), noise (T, S, B, d)."""
    parts = [reference_inputs(size, s) for s in range(seeds)]
    tables, ids, noise = (np.stack(p, axis=0) for p in zip(*parts, strict=True))
    return tables, np.swapaxes(ids, 0, 1), np.swapaxes(noise, 0, 1)


def _numpy_norms(size: Size, inputs, rows) -> np.ndarray:
    tables, ids, noise = inputs
    if size.seeds == 1:
        batches = reference_numpy.replay(ids[:, 0], noise[:, 0])
        return reference_numpy.train(tables[0], batches, rows=rows, **HYPER)[None]
    batches = reference_numpy.replay(ids, noise)
    return reference_numpy.train_batched(tables, batches, rows=rows, **HYPER)


def _torch_norms(size: Size, inputs, rows) -> np.ndarray:
    from . import reference_torch

    tables, ids, noise = inputs
    if size.seeds == 1:
        batches = reference_torch.replay(ids[:, 0], noise[:, 0])
        return reference_torch.train(tables[0], batches, rows=rows, **HYPER)[None]
    batches = reference_torch.replay(ids, noise)
    return reference_torch.train(tables, batches, rows=rows, **HYPER)


def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """Largest relative differences of recorded norms (S, W, I): last window and all."""
    rel = np.abs(other - reference) / np.abs(reference)
    final = float(np.max(rel[:, -1]))
    return {"final_rel": final, "max_rel": float(np.max(rel)), "ok": bool(final <= RTOL)}


def check_size(size: Size, with_torch: bool, with_lean: bool = True) -> dict[str, Any]:
    """Compare numpy, torch and the lean JAX kernels (if asked) with the engine on `size`."""
    config = sim_config(size, size.prefix)
    engine = normtheory.simulate(config, seeds=size.seeds, trace_budget=False, progress=False)
    seeds = min(size.seeds, CHECK_SEEDS)
    reference = engine.norm.reshape(size.seeds, *engine.norm.shape[-2:])[:seeds]
    rows = recorded_rows(size) if size.tracked else None
    inputs = replayed_inputs(size, seeds)
    results = {"numpy": agreement(reference, _numpy_norms(size, inputs, rows))}
    if with_torch:
        results["torch"] = agreement(reference, _torch_norms(size, inputs, rows))
    for variant in ("sparse", "dense") if with_lean else ():
        lean = lean_jax.make_trainer(size, variant, rows)(size.prefix, size.prefix)
        results[f"jax-lean-{variant}"] = agreement(reference, lean[:seeds])
    return {"steps": size.prefix, "seeds": seeds, "rows": reference.shape[-1], "vs": results}
