"""The mean field of the imprint signs: predicted norm growth from the configuration.

THEORY.md items 16 and 18. normtheory.laws.imprint_sign derives the expected heat of
every item per step through the kernel (`kernel_mean_heat`; the self closure
`self_mean_heat`), the noise floor of a soft label (`soft_label_gini`) and Adam's
displacement per draw (`adam_draw_displacement`). This module takes the expectation of
that heat over the data's sampling, with three ingredients:

(a) the kernel of the model family. Free table: K_ij = delta_ij I. Compositional encoder:
    K_ij = sum over the features f shared by i's and j's paths of P_f I (m_ij I under
    SGD). MLP: the empirical NTK blocks J_i P J_j^T at initialisation (lazy regime).
(b) the data. Per step, item j occurs n_j times in a batch and each occurrence carries a
    gradient whose energy (in the direction space, in units of 1 / (tau B)^2) starts at
    the misalignment energy of a random direction and relaxes to the *irreducible* noise
    of its positives: the Gini impurity of its targets (`soft_label_gini`) for the soft
    labels of the ambiguity data; 1 - 1/L for a tree node anchored to a uniform leaf of
    its L leaves; for a leaf drawn as a positive, the variance of the pulls toward the
    anchors that drew it (`leaf_positive_noise`).
(c) the optimizer, through P: SGD 1; heavy ball and Nesterov 1 / (1 - beta); Adam and
    AdamW per coordinate, through its second moment (`adam_draw_displacement`).

The expected heat of item i per step is then

    heat_i = eta^2 sum_j (w_j / d) |K_ij|_F^2,    w_j = n_j e_j(t) / (tau B N_j)^2,

the gradients of different occurrences being independent, isotropic and zero-mean at the
soft-label optimum (their mean, which rotates the items during the transient, moves no
norm at first order). Weight decay shrinks N^2 by (1 - eta lam)^2 per step (for an MLP,
to the power of its depth in weights). Integrating N_i^2(t + 1) = (1 - eta lam)^2 N_i^2(t)
+ heat_i(t) from the model's initial norms gives the predicted growth log(N_T / N_0) of
every item (`predicted_growth`), and its Spearman correlation with depth or entropy is
the prediction (`predicted_sign`).

Approximations, all stated: target directions orthonormal (exact for K <= d classes,
about right for many leaves in d dimensions); softmax negatives neglected (their weight
is exp(-(1 - cos) / tau)); gradient noise isotropic in the tangent plane and independent
between occurrences; the transient energy relaxes as exp(-t / t_align), with t_align the
time in which the consistent pull at initialisation turns the item by one radian; no
first-order drift in expectation (in particular the inward cross drift through shared
features that figure 11 measures is not modelled, so the kernel's cross heat is kept in
full); the MLP's kernel is frozen at initialisation; Adam's first-moment bias correction
is neglected, its second-moment correction is kept. Nothing is fitted: every number comes
from the config, the data's distribution and the model at initialisation.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from normtheory import _step
from normtheory.confidence import spearman
from normtheory.data.hierarchy import anchor_probabilities, make_tree
from normtheory.laws.imprint_sign import gini
from normtheory.problems import make_problem

MARGIN_SE = 2.0  # a predicted |rho| below two standard errors is "no correlation"


# --- (b) the data: occurrences, noise floors and initial energies per item ----------------


@dataclasses.dataclass(frozen=True)
class ItemStats:
    """What the data give each of the I items, per step (NumPy arrays).

    occurrences (2, I): expected occurrences per step as anchor and as positive;
    floor (2, I): irreducible energy per occurrence of each kind (the impurity of its
    targets); start (2, I): energy per occurrence of a random initial direction;
    feature (I,): depth or soft-label entropy; incidence (I, F): which parameter blocks
    (table rows, path features) sum into each item, None for the MLP; block_rate (F,):
    probability that a block receives a gradient in a step.
    """

    occurrences: np.ndarray
    floor: np.ndarray
    start: np.ndarray
    feature: np.ndarray
    incidence: np.ndarray | None
    block_rate: np.ndarray


def leaf_positive_noise(path_leaves: np.ndarray, weights: np.ndarray) -> float:
    """Noise energy of a leaf drawn as the positive of the anchors on its path.

    path_leaves (k,): leaf counts L_a of the anchors a on the leaf's root-to-leaf path
    (the leaf itself last, L = 1); weights (k,): how often each draws it (p_a / L_a).
    With orthonormal leaf directions and u_a the normalised mean of a's leaves, the pull
    P_l u_a of anchor a on leaf l has Gram (min(L_a, L_b) - 1) / sqrt(L_a L_b) (nested
    subtrees); the noise is the weighted variance of the pulls (the leaf itself, as its
    own positive, pulls with 0).
    """
    size = np.asarray(path_leaves, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    gram = (np.minimum.outer(size, size) - 1) / np.sqrt(np.outer(size, size))
    return float(w @ np.diag(gram) - w @ gram @ w)


def _hierarchy_stats(config) -> ItemStats:
    tree = make_tree(config.depth, config.branching)
    p = np.asarray(anchor_probabilities(tree, config.frequency_mode), dtype=np.float64)
    leaves = np.asarray(tree.leaf_count, dtype=np.float64)
    n = tree.num_nodes
    paths = [[int(a) for a in row if a >= 0] for row in tree.ancestors]
    occ, floor, start = np.zeros((2, n)), np.zeros((2, n)), np.zeros((2, n))
    occ[0] = config.batch * p
    floor[0] = 1 - 1 / leaves
    start[0] = (leaves > 1).astype(np.float64)
    for node in np.flatnonzero(tree.is_leaf):
        path = np.array(paths[node])
        draw = p[path] / leaves[path]
        occ[1, node] = config.batch * draw.sum()
        floor[1, node] = leaf_positive_noise(leaves[path], draw)
        start[1, node] = draw[:-1].sum() / draw.sum()
    member = np.zeros((n, n))
    for node, path in enumerate(paths):
        member[node, path] = 1.0
    if config.model == "table":
        incidence = np.eye(n)
        per_draw = p.copy()
        per_draw[tree.is_leaf] = occ[1, tree.is_leaf] / config.batch
    else:
        incidence = member
        below = member.T @ p  # anchor in the feature's subtree
        above = np.array(
            [sum(p[a] * leaves[f] / leaves[a] for a in paths[f][:-1]) for f in range(n)]
        )
        per_draw = below + above
    rate = 1 - (1 - np.minimum(per_draw, 1.0)) ** config.batch
    return ItemStats(occ, floor, start, np.asarray(tree.depth, np.float64), incidence, rate)


def _ambiguity_stats(config, problem) -> ItemStats:
    n = len(problem.items)
    per_draw = 1.0 / config.num_items
    occ = np.stack([np.full(n, config.batch * per_draw), np.zeros(n)])
    floor = np.stack([gini(problem.info["ambiguity"], config.num_classes), np.zeros(n)])
    start = np.stack([np.full(n, (config.num_classes - 1) / config.num_classes), np.zeros(n)])
    rate = np.full(n, 1 - (1 - per_draw) ** config.batch)
    incidence = np.eye(n) if config.model == "table" else None
    return ItemStats(occ, floor, start, np.asarray(problem.info["entropy"]), incidence, rate)


# --- (a) the model at initialisation ------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _initial_model(config, seeds: int):
    """(problem, initial norms (S, I), MLP Jacobians [(I, d, P)] or None) of the run's seeds.

    The parameters are the engine's (`_step.initial_params`). Cached per
    (config, seeds): a map cell asks for it once per closure. The arrays are read-only.
    """
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    problem = make_problem(config, dtype)
    # One compiled Jacobian of the probe in the encoder's parameters for every seed.
    jacobian = jax.jit(jax.jacobian(lambda enc, p: problem.probe({**p, "inputs": enc})))
    norms, jacobians = [], []
    for seed in range(config.seed, config.seed + seeds):
        params = _step.initial_params(problem, seed)
        norms.append(np.linalg.norm(np.asarray(problem.probe(params), np.float64), axis=-1))
        if config.model == "mlp":
            leaves = [
                np.asarray(x, np.float64)
                for x in jax.tree.leaves(jacobian(params["inputs"], params))
            ]
            n, d = leaves[0].shape[:2]
            jac = np.concatenate([x.reshape(n, d, -1) for x in leaves], axis=-1)
            jac.flags.writeable = False
            jacobians.append(jac)
    norm0 = np.stack(norms)
    norm0.flags.writeable = False
    return problem, norm0, (jacobians or None)


def _momentum_gain(config) -> float:
    """Displacement per unit kick summed down the velocity: 1 / (1 - beta), else 1."""
    return 1 / (1 - config.momentum) if config.optimizer in ("momentum", "nesterov") else 1.0


def _is_adam(config) -> bool:
    return config.optimizer in ("adam", "adamw")


# --- the mean-field integration -------------------------------------------------------------


def predicted_growth(
    config, seeds: int = 2, chunks: int = 200, closure: str = "kernel"
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted log(N_T / N_0) per item, averaged over seeds (I,), the feature (I,)).

    Integrates N_i^2(t + 1) = (1 - eta lam)^(2 h) N_i^2(t) + heat_i(t) (module docstring;
    h = 1 for linear encoders, the weight depth for an MLP) over `chunks` equal spans of
    the run, from the initial norms of the run's seeds.

    closure "kernel" (item 16): the whole expected kernel heat, self and cross; refuted
    for shared encoders under Adam, kept for comparison.
    closure "self" (item 18, the prediction verify judges by): only the item's own
    gradient through its own block, eta^2 (w_i / d) |K_ii|_F^2, as if every cross kick
    were undone by the restoring pull of the item that caused it (first-order linear
    response returns every item to its ray).
    """
    if closure not in ("kernel", "self"):
        raise ValueError(f"closure must be 'kernel' or 'self', got {closure!r}")
    problem, norm0, jacobians = _initial_model(config, seeds)
    if config.data == "hierarchy":
        stats = _hierarchy_stats(config)
    elif config.data == "ambiguity":
        stats = _ambiguity_stats(config, problem)
    else:
        raise ValueError(f"no imprint prediction for data={config.data!r}")
    growth = [
        _integrate(config, stats, n0, None if jacobians is None else jacobians[k], chunks, closure)
        for k, n0 in enumerate(norm0)
    ]
    return np.mean(growth, axis=0), stats.feature


def _self_scale(config, stats: ItemStats, jac) -> np.ndarray:
    """tr(K_ii)/d under SGD: 1 (table), depth + 1 (compositional), the NTK's mean eigenvalue."""
    if jac is None:
        return stats.incidence.sum(axis=1)
    return np.einsum("iap,iap->i", jac, jac) / jac.shape[1]


def _align_time(config, stats, n0, jac) -> np.ndarray:
    """Steps in which the consistent pull at initialisation turns each item by one radian."""
    c = 1 / (config.tau * config.batch)
    pulls = np.sum(stats.occurrences * (stats.start > 0), axis=0)
    if _is_adam(config):
        if jac is None:
            own = stats.incidence * stats.block_rate
            speed = config.lr * np.sqrt(config.dim * own.max(axis=1)) / n0
        else:
            speed = config.lr * np.sqrt(np.einsum("iap,iap->i", jac, jac)) / n0
    else:
        gain = _momentum_gain(config)
        speed = config.lr * gain * c * pulls * _self_scale(config, stats, jac) / n0**2
    return 1 / np.maximum(speed, 1 / config.steps)


def _energy(stats: ItemStats, relax: np.ndarray) -> np.ndarray:
    """Energy per step of every item's gradient (units 1/(tau B)^2), relax = exp(-t/t_align)."""
    per = stats.floor + (stats.start - stats.floor) * relax
    return np.sum(stats.occurrences * per, axis=0)


def _integrate(
    config,
    stats: ItemStats,
    n0: np.ndarray,
    jac,
    chunks: int,
    closure: str = "kernel",
    record: bool = False,
):
    """Predicted log(N_T / N_0) of every item from initial norms n0 (I,); jac the MLP's
    Jacobians (I, d, P) or None for the linear encoders (whose blocks are `incidence`).
    With `record`, also the predicted heat per step relative to N^2, averaged over the
    run: (growth (I,), heat / N^2 (I,)).

    Adam keeps one second moment per block (per parameter for the MLP, there summarised by
    its total, the parameters all being drawn every step); its coupled L2 is treated as
    decoupled decay.
    """
    steps = config.steps
    span = steps / chunks
    c2 = 1 / (config.tau * config.batch) ** 2
    d = config.dim
    eta, b1, b2 = config.lr, config.b1, config.b2
    decay_power = config.layers + 1 if config.model == "mlp" else 1
    shrink = (1 - config.eta_lam) ** (2 * decay_power * span)
    align = _align_time(config, stats, n0, jac)
    tail2 = ((1 - b1) / (1 - b1 / np.sqrt(b2))) ** 2
    gain2 = _momentum_gain(config) ** 2
    n2 = n0**2
    adam = _is_adam(config)
    frob = None
    if jac is not None and not adam:
        flat = jac.reshape(-1, jac.shape[-1])
        k = (flat @ flat.T).reshape(jac.shape[0], d, jac.shape[0], d)
        frob = np.einsum("iajb,iajb->ij", k, k)
        if closure == "self":
            frob = np.diag(np.diag(frob))
    if jac is not None and adam:
        mean_w = (
            np.mean([_energy(stats, np.exp(-t / align)) for t in np.linspace(0, steps, 16)], axis=0)
            * c2
            / n2
        )
        coord = np.einsum("iap,i->p", jac**2, mean_w) / d
        live = coord > 0  # a parameter no item moves gets no step (dead units)
        scaled = np.where(live, jac / np.sqrt(np.where(live, coord, 1.0)), 0.0)
        flat = scaled.reshape(-1, jac.shape[-1])
        kp = (flat @ jac.reshape(-1, jac.shape[-1]).T).reshape(jac.shape[0], d, jac.shape[0], d)
        frob = np.einsum("iajb,iajb->ij", kp, kp)
        if closure == "self":
            frob = np.diag(np.diag(frob))
        ref = mean_w.sum()
    v = np.zeros(stats.block_rate.shape if jac is None else ())
    table = jac is None and np.array_equal(stats.incidence, np.eye(len(n0)))
    relative = np.zeros_like(n2)
    for step in range(chunks):
        t = step * span
        w = c2 * _energy(stats, np.exp(-t / align)) / n2  # per step, all d coordinates
        if jac is None:
            inc = stats.incidence
            if adam:
                per_coord = inc.T @ w / d  # (F,) energy per step per coordinate
                per_draw = per_coord / stats.block_rate
                memory = v / (1 - b2**t) if t > 0 else per_draw
                precond = tail2 / ((1 - b2) * per_draw + b2 * memory)
                v = b2**span * v + (1 - b2**span) * per_coord
            else:
                precond = np.full(inc.shape[1], gain2)
            if table:  # K_ij = delta_ij P_i
                heat = eta**2 * precond * w
            elif closure == "self":
                heat = eta**2 * (inc @ np.sqrt(precond)) ** 2 * w
            else:
                kern = (inc * np.sqrt(precond)) @ inc.T
                heat = eta**2 * (kern**2 @ w)
        else:
            if adam:
                total = w.sum()
                memory = v / (1 - b2**t) if t > 0 else total
                scale = tail2 * ref / ((1 - b2) * total + b2 * memory)
                v = b2**span * v + (1 - b2**span) * total
                heat = eta**2 * scale * (frob @ w) / d
            else:
                heat = eta**2 * gain2 * (frob @ w) / d
        relative = relative + heat / n2 / chunks
        n2 = shrink * n2 + span * heat
    growth = 0.5 * np.log(n2 / n0**2)
    return (growth, relative) if record else growth


def predicted_heat(config, seeds: int = 2, chunks: int = 200) -> dict[str, np.ndarray]:
    """Item 16's mean-field heat per step relative to N^2, averaged over the run and seeds.

    Returns {"self": eta^2 (w_i / d) |K_ii|_F^2 / N_i^2 (the item's own rows),
    "kernel": the whole expected kernel heat / N_i^2, "growth_self", "growth_kernel":
    `predicted_growth` of either closure, "feature": depth or entropy}, each (I,), and
    "gain2", the squared momentum gain 1 / (1 - beta)^2 (1 without momentum)
    that both heats include (a kick summed down the velocity): dividing by it gives the
    gradient-linear part of one step. "kernel" - "self" is the predicted cross heat (the
    mean field has no cross drift: independent zero-mean kicks).
    """
    problem, norm0, jacobians = _initial_model(config, seeds)
    stats = _hierarchy_stats(config) if config.data == "hierarchy" else None
    if stats is None and config.data == "ambiguity":
        stats = _ambiguity_stats(config, problem)
    if stats is None:
        raise ValueError(f"no imprint prediction for data={config.data!r}")
    out = {}
    for closure in ("self", "kernel"):
        runs = [
            _integrate(config, stats, n0, None if jacobians is None else jacobians[k], chunks,
                       closure, record=True)
            for k, n0 in enumerate(norm0)
        ]  # fmt: skip
        out[f"growth_{closure}"] = np.mean([growth for growth, _ in runs], axis=0)
        out[closure] = np.mean([heat for _, heat in runs], axis=0)
    return out | {"feature": stats.feature, "gain2": np.asarray(_momentum_gain(config) ** 2)}


def predicted_sign(config, seeds: int = 2, closure: str = "self") -> tuple[int, float]:
    """(sign in {-1, 0, +1}, predicted Spearman rho) of growth against depth or entropy.

    closure "self" (THEORY.md item 18, the prediction verify judges by) or "kernel"
    (item 16's whole kernel heat, refuted for shared encoders under Adam); see
    `predicted_growth`. The sign is 0 when |rho| < MARGIN_SE standard errors of a
    Spearman correlation over the I items, 1 / sqrt(I - 1): a predicted correlation the
    sign test could not see.
    """
    growth, feature = predicted_growth(config, seeds, closure=closure)
    rho = float(spearman(growth, feature))
    margin = MARGIN_SE / math.sqrt(len(growth) - 1)
    return (0 if abs(rho) < margin else int(np.sign(rho))), rho
