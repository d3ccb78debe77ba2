"""The training step: one pure `(init, step)` pair under everything that trains or replays.

`dense_step(problem, make_opt)` and `sparse_step(problem, decay=...)` each return two pure
functions over a `State` pytree (params, optimizer state, random key):

    init(key, hp) -> State
    step(state, hp) -> (State, StepRecord)

so that a run is `lax.scan(step, init(key, hp), ...)`. The engine's windows scan `step`
and trace the norm budget from its `StepRecord`; `normtheory._replay` scans the same step
for per-step diagnostics; the replay inputs of the independent checks, the mean field's
initial model and `normtheory.tracer.trace` start from the same `init`.

The seed-to-key rule, here and nowhere else: run seed s starts from key(s) (`seed_keys`);
`init` splits it into (the run's key, the initialisation key); every step splits the run's
key into (the next run key, the batch key) and draws problem.sample(batch key).

The loss gradient is taken in one place (`loss_and_grad`): the dense step takes it in the
embedded rows and pulls it back through the whole parameter pytree (its tracer reads both);
the sparse step takes it through the embedding in the drawn table rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from normtheory.config import ConfigError, SimConfig
from normtheory.problems import Problem, every_row

Hyper = Mapping[str, jax.Array]
Init = Callable[[jax.Array, Hyper], "State"]


class State(NamedTuple):
    """A run's state between steps: parameters, optimizer state, random key."""

    params: Any
    opt_state: Any
    key: jax.Array


class StepRecord(NamedTuple):
    """What one dense step did, for whoever traces it (inside the same trace).

    params and new: the parameters before and after; grads: dL/dtheta; updates: the
    optimizer's step (new = params + updates); opt_state: the optimizer state after the
    step; cot: dL/d(the embedded rows) as `Problem.embed` returns them; batch: the step's
    batch; loss: the batch loss (scalar); zw: the embedded rows; pullback: the embedding's
    vector-Jacobian product at `params` (a function, valid inside the trace only).
    """

    params: Any
    new: Any
    grads: Any
    updates: Any
    opt_state: Any
    cot: Any
    batch: Any
    loss: jax.Array
    zw: Any
    pullback: Callable[..., Any]


class SparseRecord(NamedTuple):
    """What one sparse-row SGD step did, per drawn row (R = rows the batch reads).

    table: the (V, d) table before the step; touched (R,): a distinct row's id at one of
    its positions and the out-of-range id V at its other positions (a consumer scatters
    with mode="drop"); z0 (R, d): the touched rows before the step (zeros at the other
    positions); z1 (R, d): the row at each position after the step; g (R, d): at a
    touched position the row's summed loss gradient, else zero; loss, zw, batch as in
    `StepRecord`. The positions are the batch's, or the ids' sorted order above
    `SCRATCH_ROWS` table rows.
    """

    table: jax.Array
    touched: jax.Array
    z0: jax.Array
    z1: jax.Array
    g: jax.Array
    loss: jax.Array
    zw: Any
    batch: Any


def dtype_of(config: SimConfig) -> jnp.dtype:
    """The float dtype of `config`'s runs; float64 needs 64-bit JAX (ConfigError)."""
    if config.dtype == "float64" and not jax.config.jax_enable_x64:
        raise ConfigError(
            "dtype='float64' needs 64-bit JAX: set JAX_ENABLE_X64=1 or call "
            "jax.config.update('jax_enable_x64', True) before simulating"
        )
    return jnp.dtype(config.dtype)


def seed_keys(seeds: Any) -> jax.Array:
    """Keys (S,) of runs with seeds `seeds` (S,): key(s), the start of every run."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32))


def split_init(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(the run's key, the initialisation key) from a run's starting key."""
    key, k_init = jax.random.split(key)
    return key, k_init


def split_batch(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(the next run key, the batch key) from the run's key before a step."""
    key, k_batch = jax.random.split(key)
    return key, k_batch


def start(problem: Problem, key: jax.Array) -> tuple[jax.Array, Any]:
    """(the run's key, the initial parameters) from a run's starting key."""
    key, k_init = split_init(key)
    return key, problem.init(k_init)


def initial_params(problem: Problem, seed: int) -> Any:
    """The initial parameters of the run with seed `seed` (what `init` makes)."""
    return start(problem, jax.random.key(seed))[1]


def draw(problem: Problem, key: jax.Array) -> tuple[jax.Array, Any]:
    """(the next run key, the step's batch)."""
    key, k_batch = split_batch(key)
    return key, problem.sample(k_batch)


def loss_and_grad(
    problem: Problem, embed: Callable[[Any], Any], x: Any, batch: Any, hp: Hyper
) -> tuple[jax.Array, Any, Any]:
    """(loss, zw, dL/dx) with zw = embed(x), the embedded rows of `batch`: the one
    gradient of the loss.

    Differentiating through `embed` (rather than in zw, then pulling back) leaves out the
    cotangent of any embedded output that does not depend on x (the sparse step's views
    of stop-gradient directions): it is never computed.
    """

    def loss(x: Any) -> tuple[jax.Array, Any]:
        zw = embed(x)
        return problem.loss(zw, batch, hp), zw

    (value, zw), grad = jax.value_and_grad(loss, has_aux=True)(x)
    return value, zw, grad


def dense_step(
    problem: Problem, make_opt: Callable[[Hyper], optax.GradientTransformation]
) -> tuple[Init, Callable[[State, Hyper], tuple[State, StepRecord]]]:
    """(init, step) of any problem under an optax optimizer (make_opt(hp)).

    Args:
        problem: what is trained (`normtheory.problems.Problem`).
        make_opt: hp -> the optax transformation (hp: the traced hyper-parameters).

    Returns:
        init(key, hp) -> State, and step(state, hp) -> (State, StepRecord).
    """

    def init(key: jax.Array, hp: Hyper) -> State:
        key, params = start(problem, key)
        return State(params, make_opt(hp).init(params), key)

    def step(state: State, hp: Hyper) -> tuple[State, StepRecord]:
        key, batch = draw(problem, state.key)
        params = state.params
        zw, pullback = jax.vjp(lambda p: problem.embed(p, batch, hp), params)
        loss, _, cot = loss_and_grad(problem, lambda z: z, zw, batch, hp)
        (grads,) = pullback(cot)
        # optax mixes int32 step counts with floats (Adam's bias correction).
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = make_opt(hp).update(grads, state.opt_state, params)
        new = optax.apply_updates(params, updates)
        record = StepRecord(params, new, grads, updates, opt_state, cot, batch, loss, zw, pullback)
        return State(new, opt_state, key), record

    return init, step


# Up to this many table rows, repeated ids are grouped through a scratch row index of the
# whole table (a fill and a scatter of B entries per step); above it, by a sort of the B ids.
SCRATCH_ROWS = 2**17


def _first_occurrences(ids: jax.Array, num_rows: int) -> tuple[jax.Array, jax.Array]:
    """(first (R,), rows (R,)): first[k] is the batch position of the first occurrence of
    ids[k]; rows[k] is ids[k] at a first occurrence and `num_rows` (an out-of-range row)
    at a repeat. Through a scratch index of the table's rows: cheaper than a sort on a CPU,
    for tables up to `SCRATCH_ROWS` rows."""
    n = ids.shape[0]
    position = jnp.arange(n, dtype=jnp.int32)
    first = jnp.full((num_rows,), n, jnp.int32).at[ids].min(position)[ids]
    return first, jnp.where(first == position, ids, num_rows)


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


def sparse_step(
    problem: Problem,
    make_opt: Callable[[Hyper], optax.GradientTransformation],
    *,
    decay: bool,
) -> tuple[Init, Callable[[State, Hyper], tuple[State, SparseRecord]]]:
    """(init, step) of plain SGD on the drawn rows of a one-table problem (`problem.rows`).

    A free table under plain SGD moves only the rows a batch reads: every other row has
    zero loss gradient. The step gathers the R rows of the batch, takes the loss gradient
    with respect to them, sums it per distinct row (repeated ids add, exactly as in the
    dense gradient) and writes each drawn row's new value at every batch position that
    drew it, computed with optax's floating-point operations z + (-lr) (g + wd z), so the
    numbers are those of `dense_step` with `optax.sgd` to rounding (tests/test_engine.py
    compares them). Its cost does not grow with the table, except under coupled L2 weight
    decay, which shrinks every row every step. `decay=False` promises weight_decay = 0 in
    every run and skips that dense shrink (the identity when weight_decay = 0). Plain SGD
    holds no optimizer state: `State.opt_state` is make_opt(hp)'s (empty) state and passes
    through unchanged.
    """
    rows, num_rows = problem.rows, problem.num_items
    if rows is None:
        raise ValueError("sparse_step needs a problem whose parameters are one table (rows)")

    def init(key: jax.Array, hp: Hyper) -> State:
        key, params = start(problem, key)
        return State(params, make_opt(hp).init(params), key)

    def step(state: State, hp: Hyper) -> tuple[State, SparseRecord]:
        key, batch = draw(problem, state.key)
        (table,), structure = jax.tree.flatten(state.params)
        ids = rows.ids(batch)
        z0 = table[ids]
        loss, zw, grad = loss_and_grad(problem, lambda z: rows.embed(z, batch, hp), z0, batch, hp)

        # g: each distinct row's gradient summed in batch order, as the dense step sums it.
        # The scratch index keeps batch positions (g at a row's first position, zeros at
        # repeats); the sort works in sorted positions (g at a row's first sorted position).
        if num_rows <= SCRATCH_ROWS:
            at, touched = _first_occurrences(ids, num_rows)
            g = jnp.zeros_like(grad).at[at].add(grad)
        else:
            order, at, touched = _distinct(ids, num_rows)
            g = jax.ops.segment_sum(grad[order], at, ids.shape[0], indices_are_sorted=True)
            ids, z0 = ids[order], z0[order]
        lr, wd = hp["lr"], hp["weight_decay"]
        # Every position of a row gets the row's one new value (from its summed gradient
        # g[at]), so the scatter below writes equal values at repeated ids: its result does
        # not depend on which repeat lands last.
        g_at = g[at]
        z1 = z0 + (-lr) * (g_at + wd * z0 if decay else g_at)
        new = table + (-lr) * (wd * table) if decay else table
        new = new.at[ids].set(z1)
        # The tracer's rows before the step, zero at repeats: from the rows already gathered,
        # so that nothing reads the table after the scatter (which would make XLA copy it).
        traced = jnp.where((touched < num_rows)[:, None], z0, 0)
        record = SparseRecord(table, touched, traced, z1, g, loss, zw, batch)
        return State(jax.tree.unflatten(structure, [new]), state.opt_state, key), record

    return init, step


def tracked_slots(problem: Problem) -> tuple[np.ndarray, bool]:
    """(slot of each table row (V + 1,), every row tracked in order): untracked rows and
    the out-of-range row V map to the slot I (dropped by a scatter)."""
    items, num_rows = np.asarray(problem.items), problem.num_items
    n_tracked = len(items)
    slots = np.full(num_rows + 1, n_tracked, dtype=np.int32)
    slots[items] = np.arange(n_tracked, dtype=np.int32)
    return slots, every_row(items, num_rows)
