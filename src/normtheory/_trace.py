"""The traced terms of one step: pure functions of a `normtheory._step` record.

Per tracked item, the tangential gradient energy G^2 = N^2 |grad_z|^2 and the three
budget terms of THEORY.md item 12 (decay + drift + heat, with the remainder beyond first
order), and the kernel split of heat and drift of item 15 (self, cross, rest). The
engine's windows add them up; a step that traces nothing pays for none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from normtheory._step import SparseRecord, StepRecord, tracked_slots
from normtheory.config import SimConfig
from normtheory.laws.budget import budget_fn
from normtheory.problems import Problem

BUDGET_FIELDS = ("heat", "drift", "decay", "remainder")
# The kernel split of heat and drift (THEORY.md item 15): the part of the kick from the
# item's own loss rows (self), from the other rows of the batch through shared
# parameters (cross), and the rest (momentum, Adam's first moment, coupled decay through
# a preconditioner). self + cross + rest = the total, by construction.
SPLIT_FIELDS = (
    "heat_self",
    "heat_cross",
    "heat_rest",
    "drift_self",
    "drift_cross",
    "drift_rest",
)
TRACE_FIELDS = ("norm", "g2", *BUDGET_FIELDS, *SPLIT_FIELDS)


def _sq(x: jax.Array) -> jax.Array:
    return jnp.sum(x * x, axis=-1)


def _with_remainder(terms: dict[str, jax.Array], z0: jax.Array, z1: jax.Array) -> dict:
    """`terms` with the remainder: the change of N^2 beyond decay + drift + heat."""
    change = _sq(z1) - _sq(z0)
    terms["remainder"] = change - (terms["decay"] + terms["drift"] + terms["heat"])
    return terms


def _encoder_budget(push, params, updates, eta_lam, z0, z1):
    """Budget of a probe through an encoder: first-order terms plus the remainder.

    push: the probe linearised at `params` (tangent pytree -> (I, d)).

    dz_dec = J(-eta lam theta) is the part of the first-order change caused by the decay
    step, k = J(d theta) - dz_dec the rest; then decay = 2 z.dz_dec + |dz_dec|^2,
    drift = 2 (z + dz_dec).k, heat = |k|^2 (the free-table definitions when J is the
    identity), and the remainder is whatever the change of N^2 has beyond them.
    """
    shrink = jax.tree.map(lambda p: -eta_lam * p, params)
    dz_lin, dz_dec = push(updates), push(shrink)
    kick = dz_lin - dz_dec
    terms = {
        "decay": jnp.sum(dz_dec * (2 * z0 + dz_dec), axis=-1),
        "drift": 2 * jnp.sum((z0 + dz_dec) * kick, axis=-1),
        "heat": jnp.sum(kick * kick, axis=-1),
    }
    return _with_remainder(terms, z0, z1), kick, z0 + dz_dec


def explicit_shrink(config: SimConfig) -> Callable[[Mapping[str, jax.Array]], jax.Array]:
    """eta * lam of the step's explicit shrink (1 - eta lam) z.

    Coupled L2 under SGD, heavy ball and Nesterov, and decoupled decay under AdamW, all
    shrink z by lr * weight_decay in the step itself. Under Adam + L2 the decay passes
    through the preconditioner, so there is no explicit shrink: it is counted as drift.
    """
    if config.optimizer == "adam":
        return lambda hp: jnp.zeros((), hp["lr"].dtype)
    return lambda hp: hp["lr"] * hp["weight_decay"]


def gradient_step(config: SimConfig) -> Callable[..., Any]:
    """step(g, opt_state, hp) -> the part of the parameter update made by gradient `g`.

    The optimizer's update is linear in the current loss gradient g plus terms that do
    not depend on it; this returns the g-linear part, -eta c P g, with the optimizer's
    scale c and diagonal preconditioner P at this step (`opt_state` is the state after
    the update): SGD and heavy ball c = 1, P = I; Nesterov c = 1 + momentum; Adam and
    AdamW c = (1 - b1) / (1 - b1^t), P = diag(1 / (sqrt(v_hat) + eps)). Everything
    else in the update (momentum buffers, Adam's first moment, coupled L2 through a
    preconditioner) is the "rest" of the kernel split.
    """
    kind = config.optimizer
    if kind in ("sgd", "momentum", "nesterov"):

        def step(g, opt_state, hp):
            scale = -hp["lr"] * (1 + hp["momentum"] if kind == "nesterov" else 1)
            return jax.tree.map(lambda x: scale * x, g)

        return step

    def adam_step(g, opt_state, hp):
        nu = optax.tree_utils.tree_get(opt_state, "nu")
        t = optax.tree_utils.tree_get(opt_state, "count").astype(hp["lr"].dtype)
        c = -hp["lr"] * (1 - hp["b1"]) / (1 - hp["b1"] ** t)
        bias = 1 - hp["b2"] ** t
        return jax.tree.map(lambda x, v: c * x / (jnp.sqrt(v / bias) + config.eps), g, nu)

    return adam_step


def _own_cotangents(problem, cot, own) -> jax.Array:
    """(I, d): per tracked item, the sum of the cotangents of the rows it owns."""
    n = len(problem.items)
    total = 0.0
    for c, o in zip(cot, own, strict=True):
        if c is not None and o is not None:
            total = total + jax.ops.segment_sum(c, jnp.where(o < 0, n, o), num_segments=n + 1)[:n]
    return total


def _self_kicks(problem: Problem, rec: StepRecord, hp, step) -> jax.Array:
    """(I, d): k_self_i = J_i u(g from item i's own rows), three ways by what is known.

    - `problem.self_kernel` (the model's structure): J_i D J_i^T c_i with c_i the summed
      cotangent of the item's rows and D = u(1), the update being diagonal in g;
    - `problem.rows_share_probe`: the item's own probe row linearised, pulled back with
      c_i and pushed forward (one row per item, vmapped);
    - otherwise: the whole batch pulled back with only the item's rows' cotangents, the
      result pushed forward through the item's probe row.
    """
    params, opt_state = rec.params, rec.opt_state
    slots = jnp.arange(len(problem.items), dtype=jnp.int32)
    probe_one = problem.probe_one or (lambda p, slot: problem.probe(p)[slot])
    if problem.rows_share_probe:
        own_cot = _own_cotangents(problem, rec.cot, problem.own_rows(rec.batch))
        if problem.self_kernel is not None:
            diag = step(jax.tree.map(jnp.ones_like, params), opt_state, hp)
            return jax.vmap(lambda slot, c: problem.self_kernel(params, slot, c, diag))(
                slots, own_cot
            )

        def from_own_row(slot, c):
            _, forward = jax.linearize(lambda p: probe_one(p, slot), params)
            (g_own,) = jax.linear_transpose(forward, params)(c)
            return forward(step(g_own, opt_state, hp))

        return jax.vmap(from_own_row)(slots, own_cot)
    own = problem.own_rows(rec.batch)

    def from_batch(slot):
        masked = jax.tree.map(
            lambda c, o: jnp.where((o == slot)[:, None], c, jnp.zeros_like(c)), rec.cot, own
        )
        (g_own,) = rec.pullback(masked)
        _, dz = jax.jvp(lambda p: probe_one(p, slot), (params,), (step(g_own, opt_state, hp),))
        return dz

    return jax.vmap(from_batch)(slots)


def _split_terms(problem: Problem, rec: StepRecord, hp, step, kick, base, push=None):
    """Kernel split of one step's heat and drift for every tracked item (item 15).

    With the g-linear part of the update u(g) = `step(g)`, the item's first-order kick
    splits as k = k_self + k_cross + k_rest: k_self = J_i u(g from the item's own rows),
    k_self + k_cross = J_i u(g), k_rest = k - J_i u(g). Then drift_x = 2 base . k_x and
    heat_self = |k_self|^2, heat_cross = |k_self + k_cross|^2 - |k_self|^2,
    heat_rest = |k|^2 - |k_self + k_cross|^2. For a free table J_i reads row i only, so
    k_cross = 0 exactly and no per-item work is needed; otherwise `_self_kicks`. `push`:
    the probe linearised at the step's parameters, if the budget already has it.
    """
    u_all = step(rec.grads, rec.opt_state, hp)
    k_grad = jax.jvp(problem.probe, (rec.params,), (u_all,))[1] if push is None else push(u_all)
    k_self = k_grad if problem.linear else _self_kicks(problem, rec, hp, step)
    k_cross, k_rest = k_grad - k_self, kick - k_grad
    return {
        "heat_self": _sq(k_self),
        "heat_cross": _sq(k_grad) - _sq(k_self),
        "heat_rest": _sq(kick) - _sq(k_grad),
        "drift_self": 2 * jnp.sum(base * k_self, axis=-1),
        "drift_cross": 2 * jnp.sum(base * k_cross, axis=-1),
        "drift_rest": 2 * jnp.sum(base * k_rest, axis=-1),
    }


def dense_terms(
    problem: Problem,
    fields: tuple[str, ...],
    eta_lam_of: Callable[[Mapping[str, jax.Array]], jax.Array],
    step_of: Callable[..., Any] | None,
) -> Callable[[StepRecord, Mapping[str, jax.Array]], jax.Array]:
    """terms(record, hp) -> (I, len(fields)): one dense step's traced terms per item.

    `fields` is ("g2",), ("g2", *BUDGET_FIELDS) or ("g2", *BUDGET_FIELDS, *SPLIT_FIELDS)
    (the split needs `step_of`, the optimizer's g-linear update: `gradient_step`).
    """
    trace_budget = "heat" in fields

    def terms(rec: StepRecord, hp) -> jax.Array:
        push = None
        if trace_budget and not problem.linear:  # one linearisation for every tangent
            z0, push = jax.linearize(problem.probe, rec.params)
        else:
            z0 = problem.probe(rec.params)
        z1 = problem.probe(rec.new)
        g = problem.item_grads(rec.grads, rec.cot, rec.batch)
        traced = {"g2": _sq(z0) * _sq(g)}
        if trace_budget:
            eta_lam = eta_lam_of(hp)
            if problem.linear:
                budget = _with_remainder(budget_fn(z0, z1, eta_lam), z0, z1)
                base = (1 - eta_lam) * z0
                kick = z1 - base
            else:
                budget, kick, base = _encoder_budget(push, rec.params, rec.updates, eta_lam, z0, z1)
            traced.update(budget)
            if "heat_self" in fields:
                traced.update(_split_terms(problem, rec, hp, step_of, kick, base, push))
        return jnp.stack([traced[k] for k in fields], -1)

    return terms


def sparse_terms(
    problem: Problem, fields: tuple[str, ...], *, decay: bool
) -> Callable[[jax.Array, SparseRecord, Mapping[str, jax.Array]], jax.Array]:
    """add(sums, record, hp) -> sums + one sparse SGD step's terms (I, len(fields)).

    The drawn rows' terms go in with one scatter-add over the touched rows; under weight
    decay (`decay`), every tracked row's decay term ((1 - lr wd)^2 - 1) N^2 is dense (rows
    outside the batch have no drift, heat or remainder: g = 0 and their step is the
    shrink alone). `fields` is ("g2",) or ("g2", *BUDGET_FIELDS).
    """
    slots, every_row = tracked_slots(problem)
    tracked = jnp.asarray(problem.items)
    trace_budget = "heat" in fields

    def add(sums: jax.Array, rec: SparseRecord, hp) -> jax.Array:
        zz = _sq(rec.z0)
        terms = {"g2": zz * _sq(rec.g)}
        if trace_budget:
            eta_lam = hp["lr"] * hp["weight_decay"]
            terms.update(_with_remainder(budget_fn(rec.z0, rec.z1, eta_lam), rec.z0, rec.z1))
            # The drawn rows' own decay term goes into the dense one below.
            terms["decay"] = jnp.zeros_like(zz)
        slot = rec.touched if every_row else jnp.asarray(slots)[rec.touched]
        values = jnp.stack([terms[name] for name in fields], axis=-1)
        sums = sums.at[slot].add(values, mode="drop")
        if trace_budget and decay:  # every tracked row shrinks, drawn or not
            z = rec.table if every_row else rec.table[tracked]
            shrink = 1 - eta_lam
            sums = sums.at[:, fields.index("decay")].add((shrink**2 - 1) * _sq(z))
        return sums

    return add


def free_table_split(record: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The split of a sparse SGD window: K_ij = delta_ij I and no optimizer memory, so the
    whole kick is the item's own (self) and cross and rest are zero."""
    zero = jnp.zeros_like(record["heat"])
    return {
        "heat_self": record["heat"],
        "drift_self": record["drift"],
        **{k: zero for k in ("heat_cross", "heat_rest", "drift_cross", "drift_rest")},
    }


def undefined_split(record: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """NaN split fields, for a window whose kernel split was not traced."""
    return {k: jnp.full_like(record["heat"], jnp.nan) for k in SPLIT_FIELDS}


__all__ = [
    "BUDGET_FIELDS",
    "SPLIT_FIELDS",
    "TRACE_FIELDS",
    "dense_terms",
    "free_table_split",
    "gradient_step",
    "sparse_terms",
    "undefined_split",
]
