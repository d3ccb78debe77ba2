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

Two steps give the same numbers (to rounding). Plain SGD on one table read a few rows at
a time (`Problem.rows`: frequency data, one-tower hierarchy tables) takes the sparse-row
step (`normtheory._step.sparse_step`): it updates and traces only the drawn rows, so its
cost does not grow with the table (except under weight decay). Every other case (momentum,
Nesterov, Adam, AdamW: their state moves rows outside the batch) takes optax's dense step
and traces every tracked item every step. When every run's temperature allows it (tau >=
0.0232 in float32, 0.00283 in float64), the symmetric InfoNCE shares one exponential
between its two softmaxes (`losses.symmetric_infonce`).

The step itself is `normtheory._step`'s pure (init, step) pair; the traced terms are
`normtheory._trace`'s functions of its record; `normtheory._drive` runs the compiled
windows chunk by chunk (progress, checkpoints, finiteness).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from normtheory import _drive, _step, _trace, losses
from normtheory._replay import replay_inputs  # noqa: F401  (public)
from normtheory._runset import (  # noqa: F401  (the engine's public names)
    SCALAR_FIELDS,
    Plan,
    compile_flags,
    default_chunk,
    estimate_bytes,
    inert_fields,
    plan,
)
from normtheory._trace import (
    BUDGET_FIELDS,
    SPLIT_FIELDS,
    TRACE_FIELDS,
    explicit_shrink,
    gradient_step,
)
from normtheory.checkpoint import Checkpoint
from normtheory.config import SimConfig
from normtheory.optim import make_optimizer
from normtheory.problems import Problem, make_problem
from normtheory.trajectory import Trajectory


def _build(
    config: SimConfig,
    trace_budget: bool = True,
    decay: bool = True,
    dense: bool = False,
    shared_exp: bool = False,
    split: bool = False,
    energy: bool = True,
    diagnostics: bool = True,
):
    """(init(key, hp) -> state, run_windows(state, hp, n) -> (state, records), problem).

    Plain SGD on a problem with `rows` takes the sparse-row step (`_step.sparse_step`):
    only the drawn rows are read, written and traced. `decay=False` promises
    weight_decay = 0 in every run (the sparse step then skips the dense shrink);
    `dense=True` forces the optax path (for tests comparing the two); `shared_exp=True`
    promises a temperature at which the symmetric loss may share one exponential
    (losses.shared_exp_min_tau); `split=True` traces the kernel split for encoders too
    (per tracked item and step, its own probe row's kernel J_i P J_i^T); free tables
    always trace it (it costs nothing there); `energy=False` (with `trace_budget=False`)
    traces nothing per step; `diagnostics=False` records no loss, alignment or uniformity."""
    dtype = _step.dtype_of(config)
    problem = make_problem(config, dtype, shared_exp=shared_exp)
    sparse = not dense and config.optimizer == "sgd" and problem.rows is not None
    init, run_windows = build_windows(
        problem,
        lambda hp: make_optimizer(config, hp),
        stride=config.stride,
        dtype=dtype,
        trace_budget=trace_budget,
        trace_energy=energy,
        eta_lam_of=explicit_shrink(config),
        step_of=gradient_step(config) if split or problem.linear else None,
        sparse_decay=decay if sparse else None,
        diagnostics=diagnostics,
    )
    return init, run_windows, problem


def build_windows(
    problem: Problem,
    make_opt: Callable[[Mapping[str, jax.Array]], optax.GradientTransformation],
    *,
    stride: int,
    dtype: Any,
    trace_budget: bool = True,
    trace_energy: bool = True,
    eta_lam_of: Callable[[Mapping[str, jax.Array]], jax.Array] | None = None,
    step_of: Callable[..., Any] | None = None,
    sparse_decay: bool | None = None,
    diagnostics: bool = True,
):
    """The engine's two pure functions for any `Problem` and optax optimizer: the step of
    `normtheory._step` scanned over windows of `stride` steps, its terms traced.

    Args:
        problem: what is trained and traced (`normtheory.problems.Problem`).
        make_opt: hp -> the optax transformation (hp: the traced hyper-parameters).
        stride: steps per recorded window.
        dtype: the simulation's float dtype.
        trace_budget: trace decay, drift, heat, remainder (and the kernel split).
        trace_energy: trace g2 when the budget is not traced; False (with
            `trace_budget=False`) adds no per-step work to the step at all.
        eta_lam_of: hp -> eta * lam of the optimizer's explicit shrink (None: no shrink
            is separated; any decay then shows up in drift and heat).
        step_of: the optimizer's g-linear update (`gradient_step`); None leaves the
            kernel split NaN.
        sparse_decay: None for the dense optax step; for the sparse-row SGD step, whether
            any run has weight decay.
        diagnostics: record the window's mean loss, and alignment and uniformity at its
            last step (a B x B log-sum-exp, about one loss gradient's cost); False records
            none of the three, and the step computes the loss only for its gradient.

    Returns:
        init(key, hp) -> state, and run_windows(state, hp, n) -> (state, records of n
        windows): per tracked item (I,) window sums of g2, the budget and the split,
        the norm at the window's end, and with `diagnostics` the window's mean loss and its
        last step's alignment and uniformity.
    """
    sparse = sparse_decay is not None
    if not trace_budget:
        fields = ("g2",) if trace_energy else ()
    elif sparse or step_of is None:  # the split is filled in per window
        fields = ("g2", *BUDGET_FIELDS)
    else:
        fields = ("g2", *BUDGET_FIELDS, *SPLIT_FIELDS)
    if eta_lam_of is None:

        def eta_lam_of(hp):
            return jnp.zeros((), dtype)

    if not fields:
        init, step = (
            _step.sparse_step(problem, make_opt, decay=sparse_decay)
            if sparse
            else _step.dense_step(problem, make_opt)
        )

        def add(sums, rec, hp):
            return sums

    elif sparse:
        init, step = _step.sparse_step(problem, make_opt, decay=sparse_decay)
        add = _trace.sparse_terms(problem, fields, decay=sparse_decay)
    else:
        init, step = _step.dense_step(problem, make_opt)
        terms = _trace.dense_terms(problem, fields, eta_lam_of, step_of)

        def add(sums, rec, hp):
            return sums + terms(rec, hp)

    def evaluate(zw, batch):
        scalars = (problem.alignment(zw, batch), losses.uniformity(zw[0]))
        return tuple(jnp.asarray(x).astype(dtype) for x in scalars)

    def window(state: _step.State, hp: Mapping[str, jax.Array]):
        def body(carry, index):
            state, sums, scalars = carry
            state, rec = step(state, hp)
            sums = add(sums, rec, hp)
            if diagnostics:
                # Only the window's last value is kept: evaluate the B x B diagnostics once.
                loss_sum, last = scalars
                last = jax.lax.cond(
                    index == stride - 1, lambda: evaluate(rec.zw, rec.batch), lambda: last
                )
                scalars = (loss_sum + rec.loss, last)
            return (state, sums, scalars), None

        zeros = jnp.zeros((len(problem.items), len(fields)), dtype)
        scalar = jnp.zeros((), dtype)
        scalars = (scalar, (scalar, scalar)) if diagnostics else ()
        (state, sums, scalars), _ = jax.lax.scan(body, (state, zeros, scalars), jnp.arange(stride))
        record = {name: sums[:, j] for j, name in enumerate(fields)}
        if trace_budget and sparse:
            record.update(_trace.free_table_split(record))
        elif trace_budget and step_of is None:
            record.update(_trace.undefined_split(record))
        record["norm"] = jnp.linalg.norm(problem.probe(state.params), axis=-1)
        if diagnostics:
            loss_sum, (record["alignment"], record["uniformity"]) = scalars
            record["loss"] = loss_sum / stride
        return state, record

    def run_windows(state: _step.State, hp: Mapping[str, jax.Array], n_windows: int):
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
    energy: bool = True,
    diagnostics: bool = True,
):
    """Jitted, vmapped (init, runner) for a static config; reused across `simulate` calls.

    The runner consumes its state argument (its buffers are donated, so the table is
    updated in place from one chunk to the next).
    """
    init, run_windows, problem = _build(
        static, trace_budget, decay, dense, shared_exp, split, energy, diagnostics
    )
    runner = jax.jit(
        jax.vmap(run_windows, in_axes=(0, 0, None)), static_argnums=2, donate_argnums=0
    )
    return jax.jit(jax.vmap(init)), runner, problem


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
    trace_energy: bool = True,
    trace_diagnostics: bool = True,
    dense: bool = False,
) -> Trajectory:
    """Run `config` for `seeds` seeds (seed = config.seed + s) at every grid point.

    Args:
        config: the simulation (what changes the numbers).
        seeds: number of seeds, >= 1.
        grid: traced hyper-parameter name -> values; every combination is run.
        trace_budget: trace decay, drift, heat and remainder (else only norms and g2).
        trace_energy: with `trace_budget=False`, False records no g2 either (NaN): the
            step then does no per-item tracing work.
        trace_diagnostics: record each window's mean loss, and alignment and uniformity
            at its last step (False: NaN). With all three tracing flags False only the
            norms are recorded, and nothing else is paid for (what `train` runs).
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
        dense: take optax's dense step even where the sparse-row step applies (plain
            SGD on one table); the numbers agree to rounding (for comparing the two).

    Returns:
        A `Trajectory` whose arrays have leading axes (grid points, seeds), the grid
        axis only when `grid` is given.

    Every argument is validated once, by `plan` (ConfigError naming the problem), before
    anything is compiled; `execute` runs the validated plan. All runs go through one
    vmapped jit, their axis sharded over the local devices.
    Raises FloatingPointError naming the step and quantity if anything becomes
    non-finite, unless `record_divergence`.
    """
    checked = plan(
        config, seeds, grid, shard=shard, trace_budget=trace_budget, trace_split=trace_split,
        trace_energy=trace_energy, trace_diagnostics=trace_diagnostics, dense=dense,
        with_params=with_params, chunk=chunk, progress=progress,
        record_divergence=record_divergence,
    )  # fmt: skip
    return execute(checked, checkpoint)


def _program(p: Plan) -> tuple[tuple[Any, Any, Problem], list[dict[str, float]]]:
    """(the plan's compiled (init, runner, problem), its runs' hyper-parameters in order)."""
    hp_rows = p.hyper_rows()
    decay, shared_exp = compile_flags(hp_rows, _step.dtype_of(p.config))
    return _compiled(
        p.config.static(), p.trace_budget, decay, p.dense, shared_exp,
        p.trace_budget and p.trace_split, p.trace_budget or p.trace_energy, p.trace_diagnostics,
    ), hp_rows  # fmt: skip


def execute(p: Plan, checkpoint: Checkpoint | None = None) -> Trajectory:
    """Run a validated `Plan` (made by `plan`; `simulate` documents every setting).

    Args:
        p: the runs and how to execute them.
        checkpoint: where to save the state and resume from (`simulate`).

    Returns:
        The `Trajectory`, leading axes (grid points, seeds), the grid axis only when the
        plan has a grid.
    """
    config, seeds, names, points = p.config, p.seeds, list(p.names), p.points
    dtype = _step.dtype_of(config)
    (init, runner, problem), hp_rows = _program(p)
    split, energy = p.trace_budget and p.trace_split, p.trace_budget or p.trace_energy
    n_runs = len(hp_rows)
    seed_ids = np.tile(np.arange(seeds) + config.seed, len(points))
    hp_rows, seed_ids = _drive.pad_to_devices(hp_rows, seed_ids)
    hp = {h: jnp.asarray([row[h] for row in hp_rows], dtype=dtype) for h in hp_rows[0]}
    keys, hp = _drive.shard_runs((_step.seed_keys(seed_ids), hp))

    state, norm0, records = _drive.drive(
        init,
        runner,
        problem,
        keys,
        hp,
        n_runs=n_runs,
        steps=config.steps,
        stride=config.stride,
        chunk=p.chunk,
        progress=p.progress,
        record_divergence=p.record_divergence,
        checkpoint=checkpoint,
        undefined=(() if split or problem.linear else _trace.SPLIT_FIELDS)
        + (() if energy else ("g2",))
        + (() if p.trace_diagnostics else SCALAR_FIELDS),
    )
    lead = (len(points), seeds) if p.gridded else (seeds,)

    def shaped(x: np.ndarray) -> np.ndarray:
        return x.reshape(lead + x.shape[1:])

    norm = records["norm"]  # fields not recorded: NaN, (R, W, I) per item, (R, W) scalars
    empty = {k: np.full(norm.shape, np.nan, norm.dtype) for k in TRACE_FIELDS}
    empty.update({k: np.full(norm.shape[:2], np.nan, norm.dtype) for k in SCALAR_FIELDS})
    params = None
    if p.with_params:
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
        **{k: shaped(records.get(k, empty[k])) for k in TRACE_FIELDS + SCALAR_FIELDS},
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
    quiet = dict(trace_budget=False, trace_energy=False, trace_diagnostics=False)
    checked = plan(config, seeds, with_params=True, progress=progress, **quiet)
    # The plan's cached program (lru_cache of _compiled): its problem, not a second build.
    return execute(checked).params, _program(checked)[0][2]
