"""Sparse-row SGD: a step that reads and writes only the table rows its batch draws.

A free table under plain SGD moves only the rows a batch reads: every other row has zero
loss gradient. optax's step, which the engine uses for every other optimizer, builds the
dense (V, d) gradient (a scatter-add into zeros) and rewrites all V rows, and the engine
then traces the norm budget over every tracked row. `sparse_sgd_update` instead gathers
the R rows of the batch, takes the loss gradient with respect to them, sums it per
distinct row (repeated ids add, exactly as in the dense gradient) and writes back the
distinct rows; the budget is traced on the touched rows only. Its cost does not grow
with V, with one exception: coupled L2 weight decay shrinks every row every step,
z' = z - lr (g + wd z), so the table is scaled densely and the decay term
((1 - lr wd)^2 - 1) N^2 of the tracked rows is dense too (rows outside the batch have
no drift, heat or remainder: g = 0 and their step is the shrink alone).

The numbers are optax's: each row is updated with the same floating-point operations,
z + (-lr) (g + wd z), and the traced terms are those of the dense path, so the two paths
agree to rounding (tests/test_engine.py compares them).

Only plain SGD qualifies: momentum and Adam keep per-row state that moves rows outside
the batch, so those optimizers stay on the dense optax path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from normtheory.laws.budget import budget_fn
from normtheory.problems import Problem


def _distinct(ids: jax.Array, fill: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Group repeated ids: (order (R,), head (R,), rows (R,)).

    ids[order] is sorted (stably, so repeats keep their batch order); head[k] is the
    position in that order of the first occurrence of ids[order][k], and rows[k] is the id
    at a first occurrence and `fill` (an out-of-range row) at a repeat.
    """
    n = ids.shape[0]
    position = jnp.arange(n, dtype=jnp.int32)
    ordered, order = jax.lax.sort((ids, position), num_keys=1)
    first = jnp.concatenate([jnp.ones((1,), bool), ordered[1:] != ordered[:-1]])
    head = jax.lax.cummax(jnp.where(first, position, 0))
    return order, head, jnp.where(first, ordered, fill)


def sparse_sgd_update(
    problem: Problem, *, fields: tuple[str, ...], decay: bool
) -> Callable[..., tuple[Any, Any, jax.Array, jax.Array, Any]]:
    """update(params, opt_state, batch, sums, hp) -> (params, opt_state, sums, loss, zw).

    One SGD step (lr, weight_decay from hp) on the drawn rows of `problem`'s table (the
    problem must have `rows`); `sums` (I, len(fields)), the window sums of the tracked
    items, column j for fields[j] (g2, and decay, drift, heat, remainder when the budget
    is traced), gain this step's terms in one scatter-add over the touched rows.
    `decay=False` promises weight_decay = 0 in every run, which skips the dense shrink
    (the identity when weight_decay = 0). opt_state (plain SGD's, which holds no arrays)
    passes through unchanged.
    """
    rows, items, num_rows = problem.rows, np.asarray(problem.items), problem.num_items
    n_tracked = len(items)
    every_row = n_tracked == num_rows and np.array_equal(items, np.arange(num_rows))
    slots = np.full(num_rows + 1, n_tracked, dtype=np.int32)  # untracked -> dropped
    slots[items] = np.arange(n_tracked, dtype=np.int32)
    tracked = jnp.asarray(items)
    trace_budget = "heat" in fields

    def update(params, opt_state, batch, sums, hp):
        (table,), structure = jax.tree.flatten(params)
        ids = rows.ids(batch)
        zw, pullback = jax.vjp(lambda z: rows.embed(z, batch, hp), table[ids])
        loss, cot = jax.value_and_grad(problem.loss)(zw, batch, hp)
        (grad,) = pullback(cot)

        order, head, touched = _distinct(ids, num_rows)
        g = jax.ops.segment_sum(grad[order], head, ids.shape[0], indices_are_sorted=True)
        z0 = jnp.take(table, touched, axis=0, mode="fill", fill_value=0)
        lr, wd = hp["lr"], hp["weight_decay"]
        z1 = z0 + (-lr) * (g + wd * z0 if decay else g)
        new = table + (-lr) * (wd * table) if decay else table
        new = new.at[touched].set(z1, mode="drop")

        zz = jnp.sum(z0 * z0, axis=-1)
        terms = {"g2": zz * jnp.sum(g * g, axis=-1)}
        if trace_budget:
            eta_lam = lr * wd
            terms.update(budget_fn(z0, z1, eta_lam))
            change = jnp.sum(z1 * z1, axis=-1) - zz
            terms["remainder"] = change - (terms["decay"] + terms["drift"] + terms["heat"])
            # The drawn rows' own decay term goes into the dense one below.
            terms["decay"] = jnp.zeros_like(zz)
        slot = touched if every_row else jnp.asarray(slots)[touched]
        values = jnp.stack([terms[name] for name in fields], axis=-1)
        sums = sums.at[slot].add(values, mode="drop")
        if trace_budget and decay:  # every tracked row shrinks, drawn or not
            z = table if every_row else table[tracked]
            shrink = 1 - eta_lam
            column = fields.index("decay")
            sums = sums.at[:, column].add((shrink**2 - 1) * jnp.sum(z * z, axis=-1))
        return jax.tree.unflatten(structure, [new]), opt_state, sums, loss, zw

    return update
