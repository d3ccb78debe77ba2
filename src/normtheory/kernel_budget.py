"""Item 12's drift and heat, computed from the items' gradients through the kernel (item 15).

For an encoder whose embeddings are linear in the parameters with a constant kernel,
the free table (K_ij = delta_ij I) and the compositional encoder (K_ij = m_ij I, m_ij the
number of path features nodes i and j share), and an optimizer whose step is a fixed
linear filter of the gradient with L2 added to it (SGD, heavy ball, Nesterov), one step
moves every embedding by

    u_i(t) = sum_j m_ij g_j(t) + lam z_i(t)                 (g_j = dL/dz_j)
    SGD: dz_i = -eta u_i;  heavy ball: V_i(t) = u_i(t) + alpha V_i(t-1), dz_i = -eta V_i;
    Nesterov: dz_i = -eta (u_i + alpha V_i),

since the features' velocities add up along the path exactly as the features do. The
norm budget of item 12 is then a function of the embeddings and the items' gradients
alone: with the engine's booking (the decay is the step's own shrink dz_dec = -eta lam
z_i; the kick is the rest, the velocity's past decay included),

    decay = dz_dec . (2 z_i + dz_dec),  drift = 2 (z_i + dz_dec) . kick,  heat = |kick|^2,

split as item 15 splits them: the self kick -eta c m_ii g_i, the cross kick -eta c
sum_{j != i} m_ij g_j (c = 1, or 1 + alpha for Nesterov: the weight of the step's own
gradient) and the rest (the velocity's past gradients and past decay).

`kernel_budget` replays a run (`simulate`'s steps and keys, float64), records z_i and
g_j per step, and computes these terms through the kernel, never from the engine's
traced budget; the remainder (the measured change of N^2 minus the three terms) closes
to rounding when the kernel is right (tested), and is far from 0 with a wrong one.
verify.drift_heat takes the compositional encoder's item-12 rates from it.

The replay makes `simulate`'s steps; its trajectory agrees with `simulate`'s to rounding,
which a long chaotic run amplifies (the heavy-ball table of regimes.HEAVY_BALL: 2e-14
relative after 1000 steps, 2e-5 after 4000), so the kernel budget is judged against the
replay's own norms. Memory: the replay keeps z and g for every step, 2 T I d float64
numbers (20 MB for the compositional tree of depth 3 over 4000 steps).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.signal import lfilter

from normtheory import cache
from normtheory._replay import replay
from normtheory.config import ConfigError, SimConfig
from normtheory.data.hierarchy import make_tree
from normtheory.parameter_budget import path_membership
from normtheory.problems import tracked_items

__all__ = [
    "KernelBudget",
    "feature_kernel",
    "kernel_budget",
    "kernel_budget_cached",
    "kernel_refusal",
]

OPTIMIZERS = ("sgd", "momentum", "nesterov")
TERMS = (
    "decay", "drift", "heat", "remainder", "g2",
    *(f"{kind}_{part}" for kind in ("drift", "heat") for part in ("self", "cross", "rest")),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class KernelBudget:
    """Item 12's budget of one run, per window of `stride` steps, from the kernel.

    norm0 (1, I): the initial norms; norm (1, W, I): the norm at each window's end;
    decay, drift, heat (1, W, I): window sums of the terms the kernel gives; remainder
    (1, W, I): the measured change of N^2 over the window minus those three (rounding
    when the kernel is the encoder's); g2 (1, W, I): window sums of the gradient energy
    N^2 |g_i|^2; rate (I,): the probability that the item is in a batch. The leading
    axis of one seed matches `Trajectory`, so verify's statistics read both alike.
    """

    norm0: np.ndarray
    norm: np.ndarray
    decay: np.ndarray
    drift: np.ndarray
    heat: np.ndarray
    remainder: np.ndarray
    g2: np.ndarray
    drift_self: np.ndarray
    drift_cross: np.ndarray
    drift_rest: np.ndarray
    heat_self: np.ndarray
    heat_cross: np.ndarray
    heat_rest: np.ndarray
    rate: np.ndarray


def kernel_refusal(config: SimConfig) -> str:
    """Why `kernel_budget` cannot compute `config` from a constant kernel ("" if it can)."""
    if config.model not in ("table", "compositional"):
        return (
            f"model={config.model!r}: the kernel is constant only for sums of features "
            "(table, compositional); an MLP's empirical kernel moves with its parameters"
        )
    if config.optimizer not in OPTIMIZERS:
        return (
            f"optimizer={config.optimizer!r}: its preconditioner changes every step, so the "
            f"kernel is not the structural m_ij (use one of {', '.join(OPTIMIZERS)})"
        )
    if config.data not in ("hierarchy", "frequency"):
        return f"data={config.data!r}: the kernel is built for the concept tree or a free table"
    if config.model == "compositional" and config.tracked not in (0, config.num_tracked_max):
        return (
            f"tracked={config.tracked}: every node moves every node below it, so the "
            "kernel budget needs all nodes tracked (tracked=0)"
        )
    return ""


def feature_kernel(config: SimConfig) -> np.ndarray:
    """(I, I) the structural kernel m_ij of `config`'s tracked items (K_ij = m_ij I).

    The identity for a free table; for the compositional encoder the number of features
    on both root-to-node paths (depth of the lowest common ancestor + 1).
    """
    reason = kernel_refusal(config)
    if reason:
        raise ConfigError(f"feature_kernel: {reason}")
    if config.model == "table":
        return np.eye(len(tracked_items(config)))
    member = path_membership(make_tree(config.depth, config.branching).ancestors)
    return member @ member.T


def _filtered(config: SimConfig, u: np.ndarray) -> np.ndarray:
    """The optimizer's step direction (per unit -eta) from u (T, I, d), filtered in time."""
    if config.optimizer == "sgd":
        return u
    alpha = config.momentum
    velocity = lfilter([1.0], [1.0, -alpha], u, axis=0)  # V(t) = u(t) + alpha V(t-1)
    return velocity if config.optimizer == "momentum" else u + alpha * velocity


def kernel_budget(
    config: SimConfig, seed: int | None = None, kernel: np.ndarray | None = None
) -> KernelBudget:
    """Item 12's budget of a run of `config`, computed from the gradients through a kernel.

    Args:
        config: a sum-of-features encoder under SGD, heavy ball or Nesterov
            (`kernel_refusal` says why another is refused); float64 replay.
        seed: the seed (default `config.seed`); the steps are `simulate`'s.
        kernel: (I, I) m_ij to use instead of `feature_kernel(config)` (a wrong kernel
            shows in the remainder).

    Returns:
        A `KernelBudget` over the run's `steps // stride` windows.
    """
    reason = kernel_refusal(config)
    if reason:
        raise ConfigError(f"kernel_budget: {reason}")
    m = feature_kernel(config) if kernel is None else np.asarray(kernel, np.float64)

    def record(problem, step):
        g = problem.item_grads(step.grads, step.cot, step.batch)
        return problem.probe(step.params), g

    problem, _, final, (z, g) = replay(config, seed, record)
    z, g = np.asarray(z), np.asarray(g)
    if m.shape != (z.shape[1], z.shape[1]):
        raise ConfigError(f"kernel: expected shape {(z.shape[1],) * 2}, got {m.shape}")
    z_end = np.concatenate([z[1:], np.asarray(problem.probe(final))[None]])
    eta, lam = config.lr, config.weight_decay
    u = np.einsum("ij,tjd->tid", m, g) + lam * z
    dz = -eta * _filtered(config, u)
    dz_dec = -eta * lam * z
    kick = dz - dz_dec
    terms = {
        "decay": np.sum(dz_dec * (2 * z + dz_dec), -1),
        "drift": 2 * np.sum((z + dz_dec) * kick, -1),
        "heat": np.sum(kick * kick, -1),
    }
    change = np.sum(z_end**2, -1) - np.sum(z**2, -1)
    terms["remainder"] = change - terms["decay"] - terms["drift"] - terms["heat"]
    terms["g2"] = np.sum(z * z, -1) * np.sum(g * g, -1)
    own = 1 + config.momentum if config.optimizer == "nesterov" else 1.0
    kick_self = -eta * own * np.diagonal(m)[None, :, None] * g
    kick_cross = -eta * own * np.einsum("ij,tjd->tid", m - np.diag(np.diagonal(m)), g)
    kicks = {"self": kick_self, "cross": kick_cross, "rest": kick - kick_self - kick_cross}
    kernel_part = kick_self + kick_cross
    for part, k in kicks.items():
        terms[f"drift_{part}"] = 2 * np.sum((z + dz_dec) * k, -1)
    terms["heat_self"] = np.sum(kick_self**2, -1)
    terms["heat_cross"] = np.sum(kernel_part**2, -1) - terms["heat_self"]
    terms["heat_rest"] = terms["heat"] - np.sum(kernel_part**2, -1)
    windows = config.steps // config.stride

    def per_window(x):  # (T, I) -> (1, W, I) window sums
        return x[: windows * config.stride].reshape(windows, config.stride, -1).sum(1)[None]

    ends = np.linalg.norm(z_end, axis=-1)[config.stride - 1 :: config.stride][:windows]
    return KernelBudget(
        norm0=np.linalg.norm(z[0], axis=-1)[None],
        norm=ends[None],
        **{name: per_window(terms[name]) for name in TERMS},
        rate=np.asarray(problem.rate, np.float64),
    )


def kernel_budget_cached(config: SimConfig, seed: int | None = None) -> KernelBudget:
    """`kernel_budget` with the structural kernel, through the results cache (keyed by the
    config, the seed and the code), so a rerun of verify does not replay the run."""
    seed = config.seed if seed is None else int(seed)
    spec = {"computation": "kernel_budget", "config": dataclasses.asdict(config), "seed": seed}

    arrays = cache.cached_arrays(
        spec, lambda: dataclasses.asdict(kernel_budget(config, seed)), "kernel_budget.py"
    )
    return KernelBudget(**{f.name: arrays[f.name] for f in dataclasses.fields(KernelBudget)})
