"""Shared helpers of the verification modules: runs, regimes, per-step traces."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import cache, losses
from normtheory.config import SimConfig
from normtheory.engine import Trajectory, replay_inputs
from normtheory.runs import run


def regime(config: SimConfig) -> str:
    """One line naming the model, optimizer and the parameters a law depends on."""
    parts = [f"{config.data}/{config.model}", config.optimizer, f"lr={config.lr:g}"]
    if config.weight_decay:
        parts.append(f"wd={config.weight_decay:g}")
    if config.optimizer in ("momentum", "nesterov"):
        parts.append(f"momentum={config.momentum:g}")
    if config.optimizer in ("adam", "adamw"):
        parts.append(f"b1={config.b1:g}")
    parts += [f"tau={config.tau:g}", f"d={config.dim}", f"B={config.batch}"]
    parts.append(f"T={config.steps}")
    if config.data == "frequency":
        parts.append(f"V={config.num_items}, zipf={config.zipf:g}")
    elif config.data == "hierarchy":
        parts.append(
            f"depth={config.depth}, branching={config.branching}, {config.frequency_mode} "
            f"frequency, {config.towers} tower(s)"
        )
    elif config.data == "ambiguity":
        parts.append(f"{config.num_items} inputs, {config.num_classes} classes")
    parts.append(config.dtype)
    return ", ".join(parts)


def simulate_cached(config: SimConfig, seeds: int) -> Trajectory:
    """Run through the results cache, quietly."""
    traj, _, _ = run(config, seeds, progress=False, log=lambda message: None)
    return traj


def cached(name: str, config: SimConfig, compute: Callable[[], dict]) -> dict[str, np.ndarray]:
    """Arrays of a computation other than `simulate` (an independent loop), cached like runs."""
    spec = {"computation": name, "config": dataclasses.asdict(config)}
    entry = cache.load_or_compute(
        cache.cache_dir(),
        cache.config_key(spec),
        lambda: (compute(), {"config": spec}),
        log=lambda message: None,
        expected_config=spec,
    )
    return entry.arrays


def norms_before(traj: Trajectory) -> np.ndarray:
    """Norm at the start of each window: (..., W, I), the first from norm0."""
    return np.concatenate([traj.norm0[..., None, :], traj.norm[..., :-1, :]], axis=-2)


def first_batch(config: SimConfig) -> tuple[jax.Array, jax.Array]:
    """(anchors, positives) of the run's first batch, built from replay_inputs."""
    table, ids, noise = replay_inputs(config.replace(steps=config.stride, chunk=config.stride))
    anchors = jnp.asarray(table[ids[0]])
    u = anchors / jnp.linalg.norm(anchors, axis=-1, keepdims=True)
    views = u + config.view_noise * jnp.asarray(noise[0])
    return anchors, views / jnp.linalg.norm(views, axis=-1, keepdims=True)


def pair_loss(config: SimConfig):
    return losses.symmetric_infonce if config.loss == "symmetric" else losses.batch_infonce


def is_plain_sgd(config: SimConfig) -> bool:
    return config.optimizer == "sgd" and config.weight_decay == 0


def fit_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xc = x - x.mean()
    slope = float(np.sum(xc * (y - y.mean())) / np.sum(xc * xc))
    resid = y - y.mean() - slope * xc
    se = float(np.sqrt(np.sum(resid**2) / max(len(x) - 2, 1) / np.sum(xc * xc)))
    return slope, se
