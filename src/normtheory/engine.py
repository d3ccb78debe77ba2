"""The simulation engine: train under jit with lax.scan, trace the exact norm budget.

`simulate(config, seeds, grid)` runs `config.steps` optimizer steps for every seed and
every grid point at once (one vmapped jit), `chunk` steps per call so a progress bar
can advance between calls (chunking never changes the numbers). Every `config.stride`
steps it records, for each tracked item, the norm at the end of the window and the
window sums of the tangential gradient energy G^2 = N^2 |grad_z|^2 and of the three
budget terms of THEORY.md item 12,

    N'^2 - N^2 = decay + drift + heat    (exact per step, see normtheory.laws.budget),

so that norm[w]^2 - norm[w-1]^2 equals the window's decay + drift + heat up to rounding.
For the free table the remainder is zero by construction.

Two step implementations give the same numbers (to rounding). Plain SGD on a problem
whose parameters are one table read a few rows at a time (`Problem.rows`: frequency data,
hierarchy tables with one tower) takes the sparse-row step of `normtheory.sparse`: it
updates and traces only the drawn rows, so its cost does not grow with the table (except
under weight decay, which shrinks every row every step). Every other case, momentum,
Nesterov, Adam and AdamW included (their state moves rows outside the batch), takes
optax's dense step and traces every tracked item every step. Alignment and uniformity
are evaluated once per window, at its last step. When every run's temperature allows it
(tau >= 0.0232 in float32, 0.00283 in float64), the symmetric InfoNCE computes its loss
and derived gradient from one shared exponential (`losses.symmetric_infonce`); below it,
from the two log-sum-exps.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from normtheory import checkpoint as _checkpoint
from normtheory import execution as _execution
from normtheory import losses
from normtheory.config import ConfigError, SimConfig
from normtheory.laws.budget import budget_fn
from normtheory.optim import make_optimizer
from normtheory.problems import Problem, make_problem
from normtheory.sparse import sparse_sgd_update

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
SCALAR_FIELDS = ("loss", "alignment", "uniformity")


class _State(NamedTuple):
    params: Any
    opt_state: Any
    key: jax.Array


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Recorded arrays of a run. Leading axes: `grid` points (if any), then seeds.

    norm (..., W, I): norm of each tracked item at the end of each window of `stride`
    steps; norm0 (..., I): initial norms; g2, heat, drift, decay (..., W, I): window sums;
    loss (..., W): mean loss over the window; alignment, uniformity (..., W): at the
    window's last step; step (W,): step count at each window end; items (I,): tracked
    item ids; rate (I,): probability that the item is in a batch; info: per-item facts
    of the data (probability, depth, leaves, entropy, ...). remainder (..., W, I) is the
    part of the change of N^2 beyond the first-order budget (zero for free tables,
    up to rounding). heat_self, heat_cross, heat_rest, drift_self, drift_cross,
    drift_rest (..., W, I): the kernel split of heat and drift (THEORY.md item 15; see
    `_split_terms`), each triple adding up to heat or drift. params: the trained
    parameters (pytree with the same leading axes) when `simulate(..., with_params=True)`,
    else None; never cached.
    """

    config: SimConfig | None
    grid: dict[str, np.ndarray]
    step: np.ndarray
    items: np.ndarray
    rate: np.ndarray
    info: dict[str, np.ndarray]
    norm0: np.ndarray
    norm: np.ndarray
    g2: np.ndarray
    heat: np.ndarray
    drift: np.ndarray
    decay: np.ndarray
    remainder: np.ndarray
    heat_self: np.ndarray
    heat_cross: np.ndarray
    heat_rest: np.ndarray
    drift_self: np.ndarray
    drift_cross: np.ndarray
    drift_rest: np.ndarray
    loss: np.ndarray
    alignment: np.ndarray
    uniformity: np.ndarray
    params: Any = None

    def arrays(self) -> dict[str, np.ndarray]:
        """All arrays by name (for saving); grid values as grid_<name>; not the params."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("config"), out.pop("params")
        grid, info = out.pop("grid"), out.pop("info")
        out.update({f"grid_{k}": v for k, v in grid.items()})
        out.update({f"info_{k}": v for k, v in info.items()})
        return out


def _dtype(config: SimConfig) -> jnp.dtype:
    if config.dtype == "float64" and not jax.config.jax_enable_x64:
        raise ConfigError(
            "dtype='float64' needs 64-bit JAX: set JAX_ENABLE_X64=1 or call "
            "jax.config.update('jax_enable_x64', True) before simulating"
        )
    return jnp.dtype(config.dtype)


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
    change = jnp.sum(z1 * z1, axis=-1) - jnp.sum(z0 * z0, axis=-1)
    terms["remainder"] = change - (terms["decay"] + terms["drift"] + terms["heat"])
    return terms, kick, z0 + dz_dec


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


def _self_kicks(problem, params, pullback, cot, batch, opt_state, hp, step) -> jax.Array:
    """(I, d): k_self_i = J_i u(g from item i's own rows), three ways by what is known.

    - `problem.self_kernel` (the model's structure): J_i D J_i^T c_i with c_i the summed
      cotangent of the item's rows and D = u(1), the update being diagonal in g;
    - `problem.rows_share_probe`: the item's own probe row linearised, pulled back with
      c_i and pushed forward (one row per item, vmapped);
    - otherwise: the whole batch pulled back with only the item's rows' cotangents, the
      result pushed forward through the item's probe row.
    """
    slots = jnp.arange(len(problem.items), dtype=jnp.int32)
    probe_one = problem.probe_one or (lambda p, slot: problem.probe(p)[slot])
    if problem.rows_share_probe:
        own_cot = _own_cotangents(problem, cot, problem.own_rows(batch))
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
    own = problem.own_rows(batch)

    def from_batch(slot):
        masked = jax.tree.map(
            lambda c, o: jnp.where((o == slot)[:, None], c, jnp.zeros_like(c)), cot, own
        )
        (g_own,) = pullback(masked)
        _, dz = jax.jvp(lambda p: probe_one(p, slot), (params,), (step(g_own, opt_state, hp),))
        return dz

    return jax.vmap(from_batch)(slots)


def _split_terms(
    problem, params, grads, pullback, cot, batch, opt_state, hp, step, kick, base, push=None
):
    """Kernel split of one step's heat and drift for every tracked item (item 15).

    With the g-linear part of the update u(g) = `step(g)`, the item's first-order kick
    splits as k = k_self + k_cross + k_rest: k_self = J_i u(g from the item's own rows),
    k_self + k_cross = J_i u(g), k_rest = k - J_i u(g). Then drift_x = 2 base . k_x and
    heat_self = |k_self|^2, heat_cross = |k_self + k_cross|^2 - |k_self|^2,
    heat_rest = |k|^2 - |k_self + k_cross|^2. For a free table J_i reads row i only, so
    k_cross = 0 exactly and no per-item work is needed; otherwise `_self_kicks`. `push`:
    the probe linearised at `params`, if the budget already has it; `grads` the step's
    whole gradient, pullback(cot).
    """
    u_all = step(grads, opt_state, hp)
    k_grad = jax.jvp(problem.probe, (params,), (u_all,))[1] if push is None else push(u_all)
    if problem.linear:
        k_self = k_grad
    else:
        k_self = _self_kicks(problem, params, pullback, cot, batch, opt_state, hp, step)
    k_cross, k_rest = k_grad - k_self, kick - k_grad

    def sq(x):
        return jnp.sum(x * x, axis=-1)

    return {
        "heat_self": sq(k_self),
        "heat_cross": sq(k_grad) - sq(k_self),
        "heat_rest": sq(kick) - sq(k_grad),
        "drift_self": 2 * jnp.sum(base * k_self, axis=-1),
        "drift_cross": 2 * jnp.sum(base * k_cross, axis=-1),
        "drift_rest": 2 * jnp.sum(base * k_rest, axis=-1),
    }


def _build(
    config: SimConfig,
    trace_budget: bool = True,
    decay: bool = True,
    dense: bool = False,
    shared_exp: bool = False,
    split: bool = False,
):
    """(init(key, hp) -> state, run_windows(state, hp, n) -> (state, records), problem).

    Plain SGD on a problem with `rows` takes the sparse-row step (normtheory.sparse): only
    the drawn rows are read, written and traced. `decay=False` promises weight_decay = 0
    in every run (the sparse step then skips the dense shrink); `dense=True` forces the
    optax path (for tests comparing the two); `shared_exp=True` promises a temperature
    at which the symmetric loss may share one exponential (losses.shared_exp_min_tau);
    `split=True` traces the kernel split for encoders too (per tracked item and step, its
    own probe row's kernel J_i P J_i^T: `_self_kicks`); free tables always trace it (it
    costs nothing there).
    """
    dtype = _dtype(config)
    problem = make_problem(config, dtype, shared_exp=shared_exp)
    sparse = not dense and config.optimizer == "sgd" and problem.rows is not None
    init, run_windows = build_windows(
        problem,
        lambda hp: make_optimizer(config, hp),
        stride=config.stride,
        dtype=dtype,
        trace_budget=trace_budget,
        eta_lam_of=_eta_lam(config),
        step_of=gradient_step(config) if split or problem.linear else None,
        sparse_decay=decay if sparse else None,
    )
    return init, run_windows, problem


def build_windows(
    problem: Problem,
    make_opt: Callable[[Mapping[str, jax.Array]], optax.GradientTransformation],
    *,
    stride: int,
    dtype: Any,
    trace_budget: bool = True,
    eta_lam_of: Callable[[Mapping[str, jax.Array]], jax.Array] | None = None,
    step_of: Callable[..., Any] | None = None,
    sparse_decay: bool | None = None,
):
    """The engine's two pure functions for any `Problem` and optax optimizer.

    Args:
        problem: what is trained and traced (`normtheory.problems.Problem`).
        make_opt: hp -> the optax transformation (hp: the traced hyper-parameters).
        stride: steps per recorded window.
        dtype: the simulation's float dtype.
        trace_budget: trace decay, drift, heat, remainder (and the kernel split).
        eta_lam_of: hp -> eta * lam of the optimizer's explicit shrink (None: no shrink
            is separated; any decay then shows up in drift and heat).
        step_of: the optimizer's g-linear update (`gradient_step`); None leaves the
            kernel split NaN.
        sparse_decay: None for the dense optax step; for the sparse-row SGD step, whether
            any run has weight decay.

    Returns:
        init(key, hp) -> state, and run_windows(state, hp, n) -> (state, records of n
        windows): per tracked item (I,) window sums of g2, the budget and the split,
        the norm at the window's end, and the window's mean loss, alignment, uniformity.
    """
    sparse = sparse_decay is not None
    if not trace_budget:
        fields = ("g2",)
    elif sparse or step_of is None:  # the split is filled in per window
        fields = ("g2", *BUDGET_FIELDS)
    else:
        fields = ("g2", *BUDGET_FIELDS, *SPLIT_FIELDS)
    n_items = len(problem.items)
    if eta_lam_of is None:

        def eta_lam_of(hp):
            return jnp.zeros((), dtype)

    def init(key: jax.Array, hp: Mapping[str, jax.Array]) -> _State:
        key, k_init = jax.random.split(key)
        params = problem.init(k_init)
        return _State(params, make_opt(hp).init(params), key)

    def dense_update(params, opt_state, batch, sums, hp):
        zw, pullback = jax.vjp(lambda p: problem.embed(p, batch, hp), params)
        loss, cot = jax.value_and_grad(problem.loss)(zw, batch, hp)
        (grads,) = pullback(cot)
        # optax mixes int32 step counts with floats (Adam's bias correction).
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = make_opt(hp).update(grads, opt_state, params)
        new = optax.apply_updates(params, updates)
        push = None
        if trace_budget and not problem.linear:  # one linearisation for every tangent
            z0, push = jax.linearize(problem.probe, params)
        else:
            z0 = problem.probe(params)
        z1 = problem.probe(new)
        g = problem.item_grads(grads, cot, batch)
        traced = {"g2": jnp.sum(z0 * z0, axis=-1) * jnp.sum(g * g, axis=-1)}
        if trace_budget:
            eta_lam = eta_lam_of(hp)
            if problem.linear:
                terms = budget_fn(z0, z1, eta_lam)
                change = jnp.sum(z1 * z1, axis=-1) - jnp.sum(z0 * z0, axis=-1)
                terms["remainder"] = change - (terms["decay"] + terms["drift"] + terms["heat"])
                base = (1 - eta_lam) * z0
                kick = z1 - base
            else:
                terms, kick, base = _encoder_budget(push, params, updates, eta_lam, z0, z1)
            traced.update(terms)
            if step_of is not None:
                traced.update(
                    _split_terms(
                        problem,
                        params,
                        grads,
                        pullback,
                        cot,
                        batch,
                        opt_state,
                        hp,
                        step_of,
                        kick,
                        base,
                        push,
                    )
                )
        return new, opt_state, sums + jnp.stack([traced[k] for k in fields], -1), loss, zw

    if sparse:
        update = sparse_sgd_update(problem, fields=fields, decay=sparse_decay)
    else:
        update = dense_update

    def diagnostics(zw, batch):
        scalars = (problem.alignment(zw, batch), losses.uniformity(zw[0]))
        return tuple(jnp.asarray(x).astype(dtype) for x in scalars)

    def window(state: _State, hp: Mapping[str, jax.Array]):
        def body(carry, index):
            state, sums, loss_sum, last = carry
            key, k_batch = jax.random.split(state.key)
            batch = problem.sample(k_batch)
            params, opt_state, sums, loss, zw = update(
                state.params, state.opt_state, batch, sums, hp
            )
            # Only the window's last value is kept: evaluate the B x B diagnostics once.
            last = jax.lax.cond(index == stride - 1, lambda: diagnostics(zw, batch), lambda: last)
            return (_State(params, opt_state, key), sums, loss_sum + loss, last), None

        zeros = jnp.zeros((n_items, len(fields)), dtype)
        scalar = jnp.zeros((), dtype)
        (state, sums, loss_sum, last), _ = jax.lax.scan(
            body,
            (state, zeros, scalar, (scalar, scalar)),
            jnp.arange(stride),
        )
        record = {name: sums[:, j] for j, name in enumerate(fields)}
        if trace_budget and sparse:  # K_ij = delta_ij I and no optimizer memory
            zero = jnp.zeros_like(record["heat"])
            record.update(heat_self=record["heat"], drift_self=record["drift"])
            record.update({k: zero for k in ("heat_cross", "heat_rest")})
            record.update({k: zero for k in ("drift_cross", "drift_rest")})
        elif trace_budget and step_of is None:
            record.update({k: jnp.full_like(record["heat"], jnp.nan) for k in SPLIT_FIELDS})
        record["norm"] = jnp.linalg.norm(problem.probe(state.params), axis=-1)
        record["loss"] = loss_sum / stride
        record["alignment"], record["uniformity"] = last
        return state, record

    def run_windows(state: _State, hp: Mapping[str, jax.Array], n_windows: int):
        return jax.lax.scan(lambda s, _: window(s, hp), state, None, length=n_windows)

    return init, run_windows


@functools.lru_cache(maxsize=16)
def _compiled(
    static: SimConfig,
    trace_budget: bool,
    decay: bool = True,
    dense: bool = False,
    shared_exp: bool = False,
    split: bool = False,
):
    """Jitted, vmapped (init, runner) for a static config; reused across `simulate` calls.

    The runner consumes its state argument (its buffers are donated, so the table is
    updated in place from one chunk to the next).
    """
    init, run_windows, problem = _build(static, trace_budget, decay, dense, shared_exp, split)
    runner = jax.jit(
        jax.vmap(run_windows, in_axes=(0, 0, None)), static_argnums=2, donate_argnums=0
    )
    return jax.jit(jax.vmap(init)), runner, problem


def _eta_lam(config: SimConfig) -> Callable[[Mapping[str, jax.Array]], jax.Array]:
    """eta * lam of the step's explicit shrink (1 - eta lam) z.

    Coupled L2 under SGD, heavy ball and Nesterov, and decoupled decay under AdamW, all
    shrink z by lr * weight_decay in the step itself. Under Adam + L2 the decay passes
    through the preconditioner, so there is no explicit shrink: it is counted as drift.
    """
    if config.optimizer == "adam":
        return lambda hp: jnp.zeros((), hp["lr"].dtype)
    return lambda hp: hp["lr"] * hp["weight_decay"]


def inert_fields(config: SimConfig) -> dict[str, str]:
    """Traced hyper-parameters that cannot change `config`'s numbers, with the reason."""
    out = {}
    if config.optimizer not in ("momentum", "nesterov"):
        out["momentum"] = f"optimizer={config.optimizer!r} has no momentum"
    if config.optimizer not in ("adam", "adamw"):
        for name in ("b1", "b2"):
            out[name] = f"optimizer={config.optimizer!r} has no Adam moments"
    if config.data != "frequency":
        out["view_noise"] = f"data={config.data!r} draws no views"
    return out


def _grid_points(config: SimConfig, grid: Mapping[str, Sequence[float]] | None):
    grid = dict(grid or {})
    traced = SimConfig.traced_fields()
    for name, values in grid.items():
        if name not in traced:
            raise ConfigError(
                f"cannot sweep {name!r} inside one jit; sweepable: {', '.join(traced)}"
            )
        if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
            raise ConfigError(f"grid[{name!r}]={values!r}: expected a sequence of numbers")
        if len(values) == 0:
            raise ConfigError(f"grid[{name!r}] is empty: give at least one value")
        if len({float(v) for v in values}) != len(values):
            raise ConfigError(f"grid[{name!r}]={list(values)!r} repeats a value; give each once")
        inert = inert_fields(config).get(name)
        if inert:
            raise ConfigError(f"grid[{name!r}]: {inert}, so its grid points would be identical")
    names = list(grid)
    points = list(itertools.product(*(grid[n] for n in names))) or [()]
    for point in points:  # every grid point must be a valid config
        config.replace(**dict(zip(names, point, strict=True)))
    return names, points


def _shard_slice(shard: Any, n_points: int) -> slice:
    """The grid points of shard (i, n) of `n_points`; ConfigError for a bad or empty one."""
    try:
        index, count = shard
    except (TypeError, ValueError):
        raise ConfigError(f"shard={shard!r}: expected a pair (i, n)") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, count)):
        raise ConfigError(f"shard={shard!r}: expected two integers")
    if not 0 <= index < count:
        raise ConfigError(f"shard {index}/{count}: need 0 <= i < n")
    if index >= n_points:
        raise ConfigError(f"shard {index}/{count} has no grid point ({count} > grid size)")
    return slice(index, None, count)


def count_runs(
    config: SimConfig,
    seeds: int,
    grid: Mapping[str, Sequence[float]] | None,
    shard: tuple[int, int] | None = None,
) -> int:
    """Runs vmapped together by `simulate(config, seeds, grid, shard=shard)`, validating
    the grid and the shard (ConfigError) without computing anything."""
    _, points = _grid_points(config, grid)
    if shard is not None:
        points = points[_shard_slice(shard, len(points))]
    return len(points) * seeds


def default_chunk(config: SimConfig, target: int = 500) -> int:
    """Steps per jitted call when none is given (`execution.default_chunk`)."""
    return _execution.default_chunk(config.steps, config.stride, target)


def simulate(
    config: SimConfig,
    seeds: int = 1,
    grid: Mapping[str, Sequence[float]] | None = None,
    *,
    trace_budget: bool = True,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    with_params: bool = False,
    chunk: int | None = None,
    record_divergence: bool = False,
    checkpoint: Checkpoint | None = None,
    trace_split: bool = False,
) -> Trajectory:
    """Run `config` for `seeds` seeds (seed = config.seed + s) at every grid point.

    Args:
        config: the simulation (what changes the numbers).
        seeds: number of seeds, >= 1.
        grid: traced hyper-parameter name -> values; every combination is run.
        trace_budget: trace decay, drift, heat and remainder (else only norms and g2).
        trace_split: also trace the kernel split (self, cross, rest) for encoders: per
            tracked item and step, its own probe row's kernel (benchmarks/SPLIT.md: about
            1.2-1.5x the budget's time at the verify maps' sizes). Free tables always have it
            (their cross part is 0); otherwise the split fields are NaN.
        progress: show a progress bar, advanced after every chunk.
        shard: `(i, n)` runs only grid points i, i + n, ... (one process of n;
            `normtheory.runs.merge` joins them).
        with_params: also return the trained parameters (`Trajectory.params`).
        chunk: steps per jitted call (a multiple of `config.stride`; default
            `default_chunk(config)`). Execution only: the numbers do not depend on it.
        record_divergence: keep a run that became non-finite instead of raising.
        checkpoint: where to save the state every `checkpoint.every` seconds and on
            SIGINT/SIGTERM (then `checkpoint.RunInterrupted` is raised), and to resume
            from (`normtheory.checkpoint`); `run` sets it beside the cache entry.

    Returns:
        A `Trajectory` whose arrays have leading axes (grid points, seeds), the grid
        axis only when `grid` is given.

    All runs go through one vmapped jit, their axis sharded over the local devices.
    Raises FloatingPointError naming the step and quantity if anything becomes
    non-finite, unless `record_divergence`.
    """
    return _simulate(
        config,
        seeds,
        grid,
        trace_budget=trace_budget,
        progress=progress,
        shard=shard,
        with_params=with_params,
        chunk=chunk,
        record_divergence=record_divergence,
        checkpoint=checkpoint,
        trace_split=trace_split,
    )


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where a run checkpoints: the file, the run's tag (its cache key), the period (s)."""

    path: Path
    tag: str
    every: float = 60.0


def check_execution(config: SimConfig, seeds: Any, chunk: Any, record_divergence: Any) -> int:
    """Validate the execution arguments of a run; return the chunk length to use."""
    if not isinstance(config, SimConfig):
        raise ConfigError(f"config: expected a SimConfig, got {type(config).__name__}")
    _execution.check_seeds(seeds, config.seed)
    _execution.check_flag("record_divergence", record_divergence)
    return _execution.check_chunk(chunk, config.steps, config.stride)


def check_fits(config: SimConfig, n_runs: int, trace_budget: bool) -> None:
    """Refuse, before allocating, `n_runs` runs of `config` that cannot fit in memory."""
    _execution.check_memory(
        estimate_bytes(config, n_runs, trace_budget),
        hint="use fewer seeds or grid points, fewer steps or a larger stride, or track "
        "fewer items (tracked=...)",
    )


def _parameter_count(config: SimConfig) -> int:
    """A lower bound on the trainable numbers of `config`'s model (one run)."""
    if config.model == "mlp":
        hidden = config.input_dim * config.width + (config.layers - 1) * config.width**2
        return hidden + config.width * config.dim + config.num_classes * config.dim
    rows = config.num_tracked_max * (2 if config.towers == 2 else 1)
    return rows * config.dim


def estimate_bytes(config: SimConfig, n_runs: int, trace_budget: bool) -> dict[str, float]:
    """A lower bound on a run's memory, by part (bytes): the records kept on the host
    (twice: the chunks and their concatenation) and the parameters with their gradient
    and optimizer state on the device."""
    itemsize = 8 if config.dtype == "float64" else 4
    windows = config.steps // config.stride
    tracked = config.tracked or config.num_tracked_max
    fields = len(TRACE_FIELDS) if trace_budget else 2
    per_run = windows * (tracked * fields + len(SCALAR_FIELDS)) * itemsize
    slots = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}[config.optimizer]
    return {
        "records": 2.0 * n_runs * per_run,
        "parameters and optimizer state": float(n_runs)
        * _parameter_count(config)
        * (2 + slots)
        * itemsize,
    }


def drive(
    init,
    runner,
    problem: Problem,
    keys: jax.Array,
    hp: Mapping[str, jax.Array],
    *,
    n_runs: int,
    steps: int,
    stride: int,
    chunk: int,
    progress: bool = True,
    record_divergence: bool = False,
    checkpoint: Checkpoint | None = None,
    undefined: tuple[str, ...] = (),
) -> tuple[Any, np.ndarray, dict[str, np.ndarray]]:
    """Initialise and run `steps` steps in calls of `chunk` steps; return the state,
    the initial norms (R, I) and the records (R, W, ...) of the first `n_runs` runs.

    Checks finiteness after every call (unless `record_divergence`; `undefined` names
    records that are NaN by construction and are not checked), advances the
    progress bar, and checkpoints / resumes / stops on request as `simulate` documents.
    """
    state = init(keys, hp)
    norm0 = np.asarray(jnp.linalg.norm(jax.vmap(problem.probe)(state.params), axis=-1))[:n_runs]

    per_chunk = chunk // stride
    total = steps // stride
    chunks, done = [], 0
    if checkpoint is not None:
        resumed = _checkpoint.load(checkpoint.path, checkpoint.tag, state)
        if resumed is not None:
            state, norm0, so_far, done = resumed
            chunks = [so_far] if done else []
    bar = tqdm(total=steps, desc="simulate", unit="step", disable=not progress)
    bar.update(done * stride)
    with _checkpoint.stop_requests() as stop:
        clock = _checkpoint.Clock(checkpoint.every if checkpoint is not None else 0.0)
        while done < total:
            n = min(per_chunk, total - done)
            state, records = runner(state, hp, n)
            records = jax.tree.map(lambda x: np.asarray(x)[:n_runs], records)
            if not record_divergence:
                check_finite({k: v for k, v in records.items() if k not in undefined}, done, stride)
            chunks.append(records)
            done += n
            bar.update(n * stride)
            if checkpoint is not None and done < total and (stop.is_set() or clock.due()):
                failed = _checkpoint.try_save(
                    checkpoint.path, checkpoint.tag, state, norm0, chunks, done
                )
                if stop.is_set():
                    bar.close()
                    where = (
                        f"the state could not be saved ({failed}); the work is lost"
                        if failed
                        else f"state saved to {checkpoint.path}; rerun the same command to resume"
                    )
                    raise _checkpoint.RunInterrupted(
                        f"stopped at step {done * stride} of {steps}; {where}"
                    )
                if failed:
                    tqdm.write(f"warning: checkpoint skipped ({failed}); the run goes on")
            elif checkpoint is None and stop.is_set():
                raise KeyboardInterrupt
    bar.close()

    records = {k: np.concatenate([c[k] for c in chunks], axis=1) for k in chunks[0]}
    return state, norm0, records


def _simulate(
    config: SimConfig,
    seeds: int = 1,
    grid: Mapping[str, Sequence[float]] | None = None,
    *,
    trace_budget: bool = True,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    with_params: bool = False,
    chunk: int | None = None,
    record_divergence: bool = False,
    checkpoint: Checkpoint | None = None,
    trace_split: bool = False,
    dense: bool = False,
) -> Trajectory:
    """`simulate`; `dense=True` forces optax's dense step where the sparse one applies."""
    chunk = check_execution(config, seeds, chunk, record_divergence)
    dtype = _dtype(config)
    names, points = _grid_points(config, grid)
    if shard is not None:
        points = points[_shard_slice(shard, len(points))]
    check_fits(config, len(points) * seeds, trace_budget)
    hp_rows = []
    for point in points:
        values = config.hyperparameters()
        values.update(dict(zip(names, point, strict=True)))
        hp_rows += [values] * seeds
    decay, shared_exp = _compile_flags(hp_rows, dtype)
    split = trace_budget and trace_split
    init, runner, problem = _compiled(
        config.static(), trace_budget, decay, dense, shared_exp, split
    )
    n_runs = len(hp_rows)
    seed_ids = np.tile(np.arange(seeds) + config.seed, len(points))
    hp_rows, seed_ids = _pad_to_devices(hp_rows, seed_ids)
    hp = {h: jnp.asarray([row[h] for row in hp_rows], dtype=dtype) for h in hp_rows[0]}
    keys = jax.vmap(jax.random.key)(jnp.asarray(seed_ids, dtype=jnp.uint32))
    keys, hp = _shard_runs((keys, hp))

    state, norm0, records = drive(
        init,
        runner,
        problem,
        keys,
        hp,
        n_runs=n_runs,
        steps=config.steps,
        stride=config.stride,
        chunk=chunk,
        progress=progress,
        record_divergence=record_divergence,
        checkpoint=checkpoint,
        undefined=() if split or problem.linear else SPLIT_FIELDS,
    )
    lead = (len(points), seeds) if grid else (seeds,)

    def shaped(x: np.ndarray) -> np.ndarray:
        return x.reshape(lead + x.shape[1:])

    empty = np.full(records["g2"].shape, np.nan, dtype=records["g2"].dtype)
    params = None
    if with_params:
        params = jax.tree.map(lambda x: shaped(np.asarray(x)[:n_runs]), state.params)
    return Trajectory(
        config=config,
        grid={n: np.asarray([pt[i] for pt in points]) for i, n in enumerate(names)},
        step=np.arange(1, config.steps // config.stride + 1) * config.stride,
        items=np.asarray(problem.items),
        rate=problem.rate,
        info=dict(problem.info),
        norm0=shaped(norm0),
        params=params,
        **{k: shaped(records.get(k, empty)) for k in TRACE_FIELDS + SCALAR_FIELDS},
    )


def train(config: SimConfig, seeds: int = 1, *, progress: bool = True) -> tuple[Any, Problem]:
    """Train `config` for `seeds` seeds; return (parameters with a leading seed axis, problem).

    The same runs as `simulate` (same keys, same steps), without the norm budget; the
    `Problem` gives the data the parameters were trained on (for example to embed
    queries and a gallery after training).

    Args:
        config: the run; seeds: how many seeds (seed s uses `config.seed + s`);
        progress: print progress lines on long runs.

    Returns:
        (params, problem): the final parameter pytree, each leaf with a leading (seeds,)
        axis, and the `Problem` the run was built from.
    """
    traj = simulate(config, seeds, trace_budget=False, progress=progress, with_params=True)
    decay, shared_exp = _compile_flags([config.hyperparameters()], _dtype(config))
    # The arguments of simulate's call above: its cached entry, not a second build.
    problem = _compiled(config.static(), False, decay, False, shared_exp)[2]
    return traj.params, problem


def _compile_flags(hp_rows: Sequence[Mapping[str, float]], dtype) -> tuple[bool, bool]:
    """(decay, shared_exp): compile-time facts of every run of one compiled call.

    decay=False (no run has weight decay) skips the sparse step's dense shrink;
    shared_exp=True (every tau at or above losses.shared_exp_min_tau) lets the symmetric
    loss share one exponential.
    """
    decay = any(row["weight_decay"] != 0 for row in hp_rows)
    shared_exp = min(row["tau"] for row in hp_rows) >= losses.shared_exp_min_tau(dtype)
    return decay, shared_exp


def _pad_to_devices(hp_rows: list, seed_ids: np.ndarray) -> tuple[list, np.ndarray]:
    """Repeat the last run so the run axis divides evenly over the local devices."""
    pad = -len(hp_rows) % jax.local_device_count()
    return hp_rows + hp_rows[-1:] * pad, np.concatenate([seed_ids, seed_ids[-1:].repeat(pad)])


def _shard_runs(tree):
    """Place the leading (run) axis of every array across the local devices."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return tree
    mesh = jax.sharding.Mesh(np.asarray(devices), ("runs",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    return jax.device_put(tree, sharding)


def check_finite(records: Mapping[str, np.ndarray], windows_done: int, stride: int) -> None:
    for name, values in records.items():
        bad = ~np.isfinite(values)
        if bad.any():
            run, window = np.argwhere(bad)[0][:2]
            step = (windows_done + window + 1) * stride
            raise FloatingPointError(
                f"non-finite {name} by step {step} (run {run} of the vmapped batch): the "
                "run diverged (a step too large for this regime: learning rate, "
                "temperature, scale) or received non-finite input; to keep such a run, "
                "use record_divergence=True (on the command line: --keep-divergent)"
            )


def replay_inputs(
    config: SimConfig, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The initial table, batch ids and view noise a frequency/table run of `config` uses.

    Returns (table0 (V, d), ids (T, B), noise (T, B, d)) for seed `seed` (default
    `config.seed`), drawn with exactly the key sequence of `simulate`, so an independent
    implementation fed these inputs must reproduce the engine's trajectory: the view of
    anchor row u is normalize(u / |u| + view_noise * noise).
    """
    if config.data != "frequency":
        raise ConfigError(f"replay_inputs supports data='frequency', not {config.data!r}")
    dtype = _dtype(config)
    problem = make_problem(config, dtype)
    key, k_init = jax.random.split(jax.random.key(config.seed if seed is None else seed))
    table0 = problem.init(k_init)["table"]

    def draw(key, _):
        key, k_batch = jax.random.split(key)
        batch = problem.sample(k_batch)
        noise = jax.random.normal(batch["view_key"], (config.batch, config.dim), dtype=dtype)
        return key, (batch["ids"], noise)

    _, (ids, noise) = jax.jit(lambda k: jax.lax.scan(draw, k, None, length=config.steps))(key)
    return np.asarray(table0), np.asarray(ids), np.asarray(noise)
